// Package theme holds every style of the cockpit, built from one small
// palette with light and dark variants. NO_COLOR is honoured: colours go,
// bold and reverse stay so focus and selection remain visible.
package theme

import (
	"image/color"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
)

// Paint is a style reduced to the escape codes around its text. Rendering a
// cockpit frame means thousands of short styled runs; wrapping them in
// precomputed codes is far cheaper than a full lipgloss render each time.
type Paint struct{ pre, post string }

// S paints s.
func (p Paint) S(s string) string {
	if p.pre == "" || s == "" {
		return s
	}
	return p.pre + s + p.post
}

func paintOf(st lipgloss.Style) Paint {
	const marker = "\x00"
	out := st.Render(marker)
	i := strings.Index(out, marker)
	if i < 0 {
		return Paint{}
	}
	return Paint{pre: out[:i], post: out[i+len(marker):]}
}

// Theme is the set of paints the panes use.
type Theme struct {
	NoColor bool
	Dark    bool

	Text, Dim, Bold           Paint
	Border, BorderFocus       Paint
	Title, TitleFocus         Paint
	Header                    Paint // phase headers, table headers
	Selected                  Paint // the cursor row
	OK, Warn, Bad, Info       Paint
	BadStrong                 Paint // ROLL BACK: reverse red
	Key, KeyDesc              Paint // help
	StatusBar, StatusBarFocus Paint

	// WarnAlarm and BadAlarm are states the huddle must not miss (AT RISK,
	// STALLED). With colour they keep Warn's and Bad's hue; without it,
	// reverse video carries them, as it does BadStrong.
	WarnAlarm, BadAlarm Paint
	// Banner says whose deploy a read-only view is watching.
	Banner Paint
}

type palette struct {
	fg, dim, border, focus, ok, warn, bad, info, selBg color.Color
}

var (
	dark = palette{
		fg: lipgloss.Color("#E4E4E7"), dim: lipgloss.Color("#8B8B94"), border: lipgloss.Color("#4B4B55"),
		focus: lipgloss.Color("#7AA2F7"), ok: lipgloss.Color("#73D98B"), warn: lipgloss.Color("#F2C14E"),
		bad: lipgloss.Color("#F7768E"), info: lipgloss.Color("#7DCFFF"), selBg: lipgloss.Color("#2E3450"),
	}
	light = palette{
		fg: lipgloss.Color("#1F1F24"), dim: lipgloss.Color("#6B6B75"), border: lipgloss.Color("#B4B4BE"),
		focus: lipgloss.Color("#2F5BD3"), ok: lipgloss.Color("#1E8E3E"), warn: lipgloss.Color("#A86700"),
		bad: lipgloss.Color("#C62843"), info: lipgloss.Color("#0B7FA3"), selBg: lipgloss.Color("#DCE4FA"),
	}
)

// NoColorFromEnv reports whether NO_COLOR is set to anything non-empty.
func NoColorFromEnv() bool { return NoColorIn(os.Environ()) }

// NoColorIn follows no-color.org in an environment (KEY=value entries, a
// viewer's session's say): NO_COLOR set and not empty.
func NoColorIn(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}

// New builds the theme for a dark or light terminal.
func New(isDark, noColor bool) Theme {
	p := dark
	if !isDark {
		p = light
	}
	s := lipgloss.NewStyle
	t := Theme{NoColor: noColor, Dark: isDark}
	if noColor {
		t.Bold = paintOf(s().Bold(true))
		t.TitleFocus = paintOf(s().Bold(true).Reverse(true))
		t.Header = t.Bold
		t.Selected = paintOf(s().Reverse(true))
		t.BadStrong = paintOf(s().Bold(true).Reverse(true))
		t.Bad = t.Bold
		t.WarnAlarm = paintOf(s().Reverse(true))
		t.BadAlarm = t.BadStrong
		t.Banner = t.Selected
		t.Key = t.Bold
		t.StatusBarFocus = t.Bold
		return t
	}
	t.Text = paintOf(s().Foreground(p.fg))
	t.Dim = paintOf(s().Foreground(p.dim))
	t.Bold = paintOf(s().Foreground(p.fg).Bold(true))
	t.Border = paintOf(s().Foreground(p.border))
	t.BorderFocus = paintOf(s().Foreground(p.focus))
	t.Title = paintOf(s().Foreground(p.dim).Bold(true))
	t.TitleFocus = paintOf(s().Foreground(p.focus).Bold(true))
	t.Header = paintOf(s().Foreground(p.info).Bold(true))
	t.Selected = paintOf(s().Background(p.selBg).Foreground(p.fg))
	t.OK = paintOf(s().Foreground(p.ok))
	t.Warn = paintOf(s().Foreground(p.warn))
	t.Bad = paintOf(s().Foreground(p.bad))
	t.Info = paintOf(s().Foreground(p.info))
	t.BadStrong = paintOf(s().Background(p.bad).Foreground(lipgloss.Color("#FFFFFF")).Bold(true))
	t.WarnAlarm = t.Warn
	t.BadAlarm = t.Bad
	t.Banner = paintOf(s().Background(p.info).Foreground(p.selBg).Bold(true))
	t.Key = paintOf(s().Foreground(p.focus).Bold(true))
	t.KeyDesc = t.Dim
	t.StatusBar = t.Text
	t.StatusBarFocus = t.Bold
	return t
}
