// Package tui is a view of the deploy: layout, focus, zoom, modes (normal,
// confirm, input, help, quit), key routing and the status bar. It owns no
// connection and runs no action: it renders what the engine publishes and
// sends the engine what the operator asks for.
package tui

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// Options wires a view to its engine.
type Options struct {
	Engine view.Engine
	Viewer view.Viewer
	// Driver is who drives the deploy: a read-only view's banner names them.
	Driver string
	Config *config.Config
	// Day is the deploy's calendar day: template variables and the window
	// are computed for it.
	Day time.Time
	// Now is the clock before the engine's first status.
	Now     time.Time
	Theme   theme.Theme
	Log     *slog.Logger
	Notices []string // shown once at start: a torn journal line, interrupted actions
	// ClockEvery, when set, moves this view's clock (the window's, every
	// age on screen) at most this often while nothing else changes: a
	// watcher's screen then stays still between real changes, which arrive
	// the moment they happen. Zero follows every tick.
	ClockEvery time.Duration
	// Welcome is said once at start when there is no notice: news, not a
	// warning (where the cockpit is shared, what a read-only one follows).
	Welcome string
	// Reporter sends panics in Update and View to Sentry; nil reports
	// nothing.
	Reporter *selfreport.Reporter
}

type mode int

const (
	modeNormal mode = iota
	modeConfirm
	modeInput
	modeHelp
	modeQuit
)

// Pane order: the digit keys follow it.
const (
	paneChecklist = iota
	paneRollout
	paneLocks
	paneJira
	paneErrors
	paneOutput
	paneCount
)

type flash struct {
	text  string
	isErr bool
	at    time.Time // the engine's clock when it was set
}

// flashFor is how long a message that is not an error hides the key hints.
// The shared screen must not lose its hints to a message no one dismisses;
// an error stays, with the hints beside it, until esc.
const flashFor = 5 * time.Second

// Model is one view of the deploy.
type Model struct {
	opts   Options
	eng    view.Engine
	ctx    context.Context
	cancel context.CancelFunc
	// rb follows the journal the engine publishes: the checklist's state.
	rb   *runbook.Runbook
	vars map[string]string
	th   theme.Theme

	width, height int
	panes         [paneCount]panes.Pane
	checklist     *panes.Checklist
	output        *panes.Output
	rollout       *panes.Rollout
	locks         *panes.Locks
	jira          *panes.Jira
	errs          *panes.Errors
	focus         int
	zoom          bool
	mode          mode

	now time.Time
	// rollbackBy is the last moment a rollback fits in the window.
	rollbackBy time.Time
	updates    map[string]snapshot.Update
	status     view.Status
	synced     bool // the first whole-state batch has arrived

	pending *view.Proposal
	// confirming counts confirmations sent and not yet answered;
	// awaitStatus is set from an answer until the next status.
	confirming  int
	awaitStatus bool
	input       textinput.Model
	inputFor    string             // step id being skipped
	askFor      *panes.KubeRequest // the deployment being scaled or rolled back, when the input asks for a number
	spin        int
	spinning    bool
	quitting    bool
	flash       *flash
	// preparing is the "preparing the preview" message, cleared when the
	// answer has nothing else to say.
	preparing *flash

	keys    globalKeys
	help    help.Model
	helpOff int // the first line of the help overlay shown

	// stamps count each pane's changes; drawn is each as last drawn.
	stamps [paneCount]uint64
	// barStamp counts changes to what the status bar shows; bar is the
	// bar as last drawn. Views call View after every message, and most
	// messages (a pod update, a key) leave the bar as it was.
	barStamp   uint64
	bar        drawnBar
	gridDrawn  drawnGrid
	frameDrawn drawnFrame
	drawn      [paneCount]drawn
	fed        [paneCount]fed
}

// New builds a view; Subscribe feeds it.
func New(opts Options) *Model {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ro := opts.Viewer.ReadOnly
	m := &Model{
		opts:       opts,
		eng:        opts.Engine,
		ctx:        ctx,
		cancel:     cancel,
		rb:         runbook.New(opts.Config),
		vars:       opts.Config.TemplateVars(opts.Day),
		th:         opts.Theme,
		now:        opts.Now,
		updates:    map[string]snapshot.Update{},
		rollbackBy: runbook.RollbackBy(opts.Config, opts.Day),
		keys:       newGlobalKeys(),
		help:       help.New(),
	}
	m.checklist = panes.NewChecklist(m.rb, m.th)
	m.checklist.SetReadOnly(ro)
	m.checklist.Data.Vars = m.vars
	m.checklist.Data.Now = m.now
	m.output = panes.NewOutput(m.th)
	m.output.SetReadOnly(ro)
	m.rollout = panes.NewRollout(RolloutSettings(opts.Config), m.th)
	m.rollout.SetReadOnly(ro)
	m.locks = panes.NewLocks(LocksSettings(opts.Config), m.th)
	m.locks.SetReadOnly(ro)
	m.jira = panes.NewJira(JiraSettings(opts.Config), m.th)
	m.jira.SetReadOnly(ro)
	m.errs = panes.NewErrors(ErrorsSettings(opts.Config), m.th)
	m.panes = [paneCount]panes.Pane{m.checklist, m.rollout, m.locks, m.jira, m.errs, m.output}
	m.setFocus(paneChecklist)
	m.keys.Rollback.SetEnabled(!ro && opts.Config.Kubernetes != nil)
	m.keys.Finish.SetEnabled(!ro)
	m.input = textinput.New()
	m.input.Placeholder = "why is this step skipped?"
	m.input.CharLimit = 300
	m.applyTheme()
	if len(opts.Notices) > 0 {
		m.flash = &flash{text: joinNotices(opts.Notices), isErr: true}
	} else if opts.Welcome != "" {
		m.setFlash(opts.Welcome, false)
	}
	return m
}

func joinNotices(n []string) string {
	s := n[0]
	if len(n) > 1 {
		s += fmt.Sprintf(" (+%d more in the log)", len(n)-1)
	}
	return s
}

// Subscribe feeds the view from its engine through send (the program's
// Send) until ctx ends. A slow view only delays its own batches.
func (m *Model) Subscribe(ctx context.Context, send func(tea.Msg)) {
	for b := range m.eng.Subscribe(ctx, m.opts.Viewer) {
		send(batchMsg(b))
	}
}

// Close ends what the view started.
func (m *Model) Close() { m.cancel() }

func (m *Model) applyTheme() {
	m.touchAll()
	for _, p := range m.panes {
		p.SetTheme(m.th)
	}
	st := help.DefaultStyles(m.th.Dark)
	if m.th.NoColor {
		st = help.Styles{}
	}
	m.help.Styles = st
}

func (m *Model) setFocus(i int) {
	m.focus = (i + paneCount) % paneCount
	for j, p := range m.panes {
		p.SetFocused(j == m.focus)
	}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return tea.RequestBackgroundColor
}

type spinMsg struct{}

func spinTick() tea.Cmd {
	return tea.Tick(120*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{} })
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	defer m.reportPanic()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.touchAll()
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.th = theme.New(msg.IsDark(), m.th.NoColor)
		m.applyTheme()
		return m, nil
	case batchMsg:
		return m, m.applyBatch(view.Batch(msg))
	case answerMsg:
		return m, m.answered(msg)
	case confirmedMsg:
		m.confirmed(msg)
		return m, nil
	case spinMsg:
		m.spin++
		m.touch(paneChecklist)
		if !m.anyCommandRunning() {
			m.spinning = false
			return m, nil
		}
		m.syncSpinner()
		return m, spinTick()
	case panes.StepRequest:
		return m, m.stepRequest(msg)
	case panes.KubeRequest:
		return m, m.kubeRequest(msg)
	case panes.LocksRequest:
		return m, m.locksRequest(msg)
	case panes.JiraRequest:
		return m, m.jiraRequest(msg)
	case panes.OutputRequest:
		return m, m.outputRequest(msg)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) syncSpinner() {
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	m.checklist.Data.Spinner = frames[m.spin%len(frames)]
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash = &flash{text: text, isErr: isErr, at: m.now}
}

// expireFlash drops a message that is not an error once it has been read.
// It follows the engine's clock, not the wall's, as the rest of the view.
func (m *Model) expireFlash() {
	// "Preparing the preview" says something is still under way: it stays
	// until the preview's answer replaces it.
	if f := m.flash; f != nil && !f.isErr && f != m.preparing && m.now.Sub(f.at) >= flashFor {
		m.flash = nil
	}
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch m.mode {
	case modeConfirm:
		return m.confirmKey(k)
	case modeInput:
		return m.inputKey(k)
	case modeQuit:
		m.mode = modeNormal
		if k.String() == "y" {
			return m.quit(true)
		}
		m.setFlash("not quitting", false)
		return nil
	case modeHelp:
		return m.helpKey(k)
	}
	if c, ok := m.panes[m.focus].(panes.Capturing); ok && c.Capturing() {
		return m.paneKey(k)
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		return m.quit(false)
	case key.Matches(k, m.keys.Next):
		m.setFocus(m.focus + 1)
	case key.Matches(k, m.keys.Prev):
		m.setFocus(m.focus - 1)
	case key.Matches(k, m.keys.Focus):
		m.setFocus(int(k.String()[0] - '1'))
	case key.Matches(k, m.keys.Zoom):
		m.zoom = !m.zoom
	case key.Matches(k, m.keys.Help):
		m.mode, m.helpOff = modeHelp, 0
	case key.Matches(k, m.keys.Dismiss) && m.flash != nil:
		m.flash = nil
	case slices.Contains(m.keys.Rollback.Keys(), k.String()):
		// Matched by hand so that in read-only mode the key still says why
		// it does nothing.
		return m.ask(view.Request{Op: view.OpRollback})
	case slices.Contains(m.keys.Finish.Keys(), k.String()):
		return m.ask(view.Request{Op: view.OpFinish})
	default:
		return m.paneKey(k)
	}
	return nil
}

// paneKey hands a key to the focused pane.
func (m *Model) paneKey(k tea.KeyPressMsg) tea.Cmd {
	m.touch(m.focus)
	p, cmd := m.panes[m.focus].Update(k)
	m.panes[m.focus] = p
	return cmd
}

// quit leaves at once when nothing runs; otherwise it asks, and once
// confirmed has the engine stop every running action and leaves when they
// have ended, so their results are journaled as cancelled rather than lost.
// A read-only view leaves at once: what runs is not its own.
func (m *Model) quit(confirmed bool) tea.Cmd {
	if !m.busy() || m.opts.Viewer.ReadOnly {
		m.quitting = true
		return tea.Quit
	}
	if !confirmed {
		m.mode = modeQuit
		return nil
	}
	m.quitting = true
	return m.ask(view.Request{Op: view.OpStopAll})
}

// reportPanic sends a panic in Update or View to Sentry and panics on, so
// Bubble Tea restores the terminal; the event is delivered when the
// program has ended (see selfreport.Reporter.Flush).
func (m *Model) reportPanic() {
	if r := recover(); r != nil {
		m.opts.Reporter.Panic(r)
		panic(r)
	}
}
