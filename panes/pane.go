// Package panes holds the cockpit's panes, one per file. Each pane has a pure
// render function over the data it shows, golden-tested at several widths,
// and a small Bubble Tea model for its own keys. Panes never do I/O: they ask
// the root for changes with request messages.
package panes

import (
	"slices"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// Pane is one box of the cockpit.
type Pane interface {
	Title() string
	Update(tea.Msg) (Pane, tea.Cmd)
	View(width, height int) string
	SetFocused(bool)
	SetTheme(theme.Theme)
	help.KeyMap
}

// Capturing is implemented by panes that sometimes read typed text (a
// search): while Capturing is true the root sends them every key, global
// ones included.
type Capturing interface {
	Capturing() bool
}

// StepOp is what the operator asked to do to a runbook step.
type StepOp string

const (
	OpCheck  StepOp = "check"
	OpSkip   StepOp = "skip"
	OpRun    StepOp = "run"
	OpReopen StepOp = "reopen"
	OpCancel StepOp = "cancel"
)

// StepRequest asks the root to act on a step; the root decides whether the
// runbook and the mode allow it.
type StepRequest struct {
	Op   StepOp
	Step string
}

// pressed matches k against a dangerous binding even when read-only mode
// has disabled it (and so hidden it from help): the key still reaches the
// root, which says why nothing happens instead of staying silent.
func pressed(k tea.KeyPressMsg, b key.Binding, readOnly bool) bool {
	return key.Matches(k, b) || readOnly && slices.Contains(b.Keys(), k.String())
}

func request(op StepOp, step string) tea.Cmd {
	return func() tea.Msg { return StepRequest{Op: op, Step: step} }
}

// Scroll keys shared by the list-like panes.
type scrollKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

func newScrollKeys() scrollKeys {
	return scrollKeys{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	}
}

func (k scrollKeys) list() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}
