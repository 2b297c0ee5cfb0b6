package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// Smallest terminal the cockpit draws in.
const (
	MinWidth  = 60
	MinHeight = 15
)

// View implements tea.Model.
func (m *Model) View() tea.View {
	defer m.reportPanic()
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "flightdeck: " + m.opts.Config.Deploy.Name
	return v
}

// Render draws the whole screen as a string.
func (m *Model) Render() string {
	w, h := m.width, m.height
	if w == 0 || h == 0 {
		return ""
	}
	if w < MinWidth || h < MinHeight {
		return tooSmall(w, h)
	}
	bar, bottom := m.statusBar(w), m.bottomLine(w)
	grid, same := m.grid(w, h-2)
	// Bubble Tea compares each frame with the last: the very same string
	// is the cheapest "nothing changed".
	f := &m.frameDrawn
	if same && m.mode == modeNormal && f.mode == modeNormal && f.out != "" && f.bar == bar && f.bottom == bottom {
		return f.out
	}
	lines := make([]string, 0, h)
	lines = append(lines, bar)
	lines = append(lines, grid...)
	lines = append(lines, bottom)
	switch m.mode {
	case modeConfirm:
		overlay(lines, m.confirmBox(w), w)
	case modeInput:
		overlay(lines, m.inputBox(w), w)
	case modeQuit:
		overlay(lines, m.quitBox(w), w)
	case modeHelp:
		overlay(lines, m.helpBox(w, h), w)
	}
	out := strings.Join(lines, "\n")
	*f = drawnFrame{mode: m.mode, bar: bar, bottom: bottom, out: out}
	return out
}

func tooSmall(w, h int) string {
	msg := []string{
		"terminal too small",
		fmt.Sprintf("%d×%d, need %d×%d", w, h, MinWidth, MinHeight),
		"enlarge it, or q to quit",
	}
	var b strings.Builder
	top := max((h-len(msg))/2, 0)
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if j := i - top; j >= 0 && j < len(msg) {
			s := panes.Trunc(msg[j], w)
			pad := max((w-ansi.StringWidth(s))/2, 0)
			b.WriteString(strings.Repeat(" ", pad) + s)
		}
	}
	return b.String()
}

// column is a vertical stack of panes with their heights.
type column struct {
	width int
	panes []int
	hs    []int
}

// Layout returns the columns of the grid for a w×h area. Three columns from
// 150 cells up, two below; the checklist always has the most room.
func Layout(w, h int) []column {
	if w >= 150 {
		c1 := w * 2 / 5
		c2 := (w - c1) / 2
		c3 := w - c1 - c2
		out := max(h*2/5, 6)
		return []column{
			{width: c1, panes: []int{paneChecklist, paneOutput}, hs: []int{h - out, out}},
			{width: c2, panes: []int{paneRollout, paneLocks}, hs: []int{h / 2, h - h/2}},
			{width: c3, panes: []int{paneJira, paneErrors}, hs: []int{h / 2, h - h/2}},
		}
	}
	c1 := w / 2
	out := max(h*2/5, 5)
	q := h / 4
	return []column{
		{width: c1, panes: []int{paneChecklist, paneOutput}, hs: []int{h - out, out}},
		{width: w - c1, panes: []int{paneRollout, paneLocks, paneJira, paneErrors}, hs: []int{q, q, q, h - 3*q}},
	}
}

// grid lays the panes out at w×h. same says it is the grid drawn last:
// no pane's lines changed.
func (m *Model) grid(w, h int) (rows []string, same bool) {
	var from [paneCount]*string
	var parts [paneCount][]string
	if m.zoom {
		parts[m.focus] = m.paneLines(m.focus, w, h)
	} else {
		for _, c := range Layout(w, h) {
			for i, p := range c.panes {
				parts[p] = m.paneLines(p, c.width, c.hs[i])
			}
		}
	}
	for p, lines := range parts {
		if len(lines) > 0 {
			from[p] = &lines[0]
		}
	}
	g := &m.gridDrawn
	if g.rows != nil && g.w == w && g.h == h && g.zoom == m.zoom && g.focus == m.focus && g.from == from {
		return g.rows, true
	}
	if m.zoom {
		rows = append([]string(nil), parts[m.focus]...)
	} else {
		rows = m.joinColumns(Layout(w, h), parts, h)
	}
	*g = drawnGrid{w: w, h: h, zoom: m.zoom, focus: m.focus, from: from, rows: rows}
	return rows, false
}

func (m *Model) joinColumns(cols []column, parts [paneCount][]string, h int) []string {
	rows := make([]strings.Builder, h)
	for _, c := range cols {
		y := 0
		for _, p := range c.panes {
			for _, line := range parts[p] {
				if y < h {
					rows[y].WriteString(line)
					y++
				}
			}
		}
		for ; y < h; y++ {
			rows[y].WriteString(strings.Repeat(" ", c.width))
		}
	}
	out := make([]string, h)
	for i := range rows {
		out[i] = rows[i].String()
	}
	return out
}

// bottomLine shows the current message, or the focused pane's keys. A
// rollback recommendation takes the line from everything but an error:
// the huddle must not miss it.
func (m *Model) bottomLine(w int) string {
	if f := m.flash; f != nil && f.isErr {
		return m.errorLine(f.text, w)
	}
	if a := m.status.Advisory; a != nil {
		return m.advisoryLine(a, w)
	}
	if f := m.flash; f != nil {
		return panes.Fit(m.th.Info.S(f.text), w)
	}
	if len(m.status.Running) > 0 {
		t := m.runningTitles()
		msg := fmt.Sprintf("running: %s", strings.Join(t, ", "))
		return panes.Fit(m.th.Info.S(msg)+"  "+m.help.ShortHelpView(m.shortHelp()), w)
	}
	return panes.Fit(m.help.ShortHelpView(m.shortHelp()), w)
}

// advisoryLine is the rollback recommendation: why, since when, and the
// key that acts on it for whoever may.
func (m *Model) advisoryLine(a *view.Advisory, w int) string {
	text := "ROLLBACK RECOMMENDED: " + strings.Join(a.Signals, "; ")
	if !a.Since.IsZero() {
		text += " (since " + a.Since.In(m.opts.Config.Window.Location).Format("15:04:05") + ")"
	}
	hint := ""
	if m.keys.Rollback.Enabled() {
		hint = m.help.ShortHelpView([]key.Binding{m.keys.Rollback})
	}
	msg := m.th.BadAlarm.S(" " + snapshot.Printable(text) + " ")
	if hint == "" {
		return panes.Fit(msg, w)
	}
	room := max(w-ansi.StringWidth(hint)-2, 20)
	return panes.Fit(msg, room) + "  " + hint
}

// errorLine is an error with the fewest key hints that let the operator
// move on: the message is cut before "? help" is.
func (m *Model) errorLine(text string, w int) string {
	msg := m.th.Bad.S("✕ " + text)
	hints := [][]key.Binding{{m.keys.Dismiss, m.keys.Help}, {m.keys.Help}}
	for _, hs := range hints {
		hint := m.help.ShortHelpView(hs)
		if room := w - ansi.StringWidth(hint) - 2; ansi.StringWidth(msg) <= room {
			return panes.Fit(msg, room) + "  " + hint
		}
	}
	hint := m.help.ShortHelpView(hints[len(hints)-1])
	// Too narrow to say anything useful beside the hint: the message wins.
	if room := w - ansi.StringWidth(hint) - 2; room >= 20 {
		return panes.Fit(msg, room) + "  " + hint
	}
	return panes.Fit(msg, w)
}

func (m *Model) shortHelp() []key.Binding {
	return append(m.panes[m.focus].ShortHelp(), m.keys.short()...)
}

// overlay writes box centred over lines.
func overlay(lines []string, box []string, w int) {
	if len(box) == 0 {
		return
	}
	bw := ansi.StringWidth(box[0])
	x := max((w-bw)/2, 0)
	y := max((len(lines)-len(box))/2, 0)
	for i, b := range box {
		if y+i >= len(lines) {
			break
		}
		l := lines[y+i]
		left := ansi.Truncate(l, x, "")
		if lw := ansi.StringWidth(left); lw < x {
			left += strings.Repeat(" ", x-lw)
		}
		right := ansi.TruncateLeft(l, x+bw, "")
		lines[y+i] = left + b + right
	}
}

func (m *Model) dialog(title string, body []string, w int) []string {
	bw := min(max(w*2/3, 50), w)
	inner := bw - 4
	var wrapped []string
	for _, l := range body {
		if ansi.StringWidth(l) <= inner {
			wrapped = append(wrapped, l)
			continue
		}
		wrapped = append(wrapped, panes.Wrap(l, inner)...)
	}
	for i := range wrapped {
		wrapped[i] = " " + wrapped[i]
	}
	return strings.Split(panes.Frame(title, true, wrapped, bw, len(wrapped)+2, m.th), "\n")
}

func (m *Model) confirmBox(w int) []string {
	p := m.pending
	if p == nil {
		return nil
	}
	body := append([]string{p.Title, ""}, p.Lines...)
	body = append(body, "", "y runs it · any other key cancels")
	return m.dialog("Confirm", body, w)
}

func (m *Model) inputBox(w int) []string {
	if req := m.askFor; req != nil {
		m.input.SetWidth(max(min(w*2/3, w)-10, 10))
		body := []string{fmt.Sprintf("Scale %s/%s (now %d replicas)", req.Namespace, req.Name, req.Replicas), "", "Replicas:", m.input.View(), "", "enter previews · esc goes back"}
		return m.dialog("Scale", body, w)
	}
	st := m.rb.Step(m.inputFor)
	title := ""
	if st != nil {
		title = st.Title
	}
	m.input.SetWidth(max(min(w*2/3, w)-10, 10))
	body := []string{"Skip: " + title, "", "Reason (journaled):", m.input.View(), "", "enter skips · esc goes back"}
	return m.dialog("Skip step", body, w)
}

func (m *Model) quitBox(w int) []string {
	body := []string{
		"Still running: " + strings.Join(m.runningTitles(), ", "),
		"",
		"Quit anyway? It will be stopped and journaled as cancelled.",
		"",
		"y quits · any other key stays",
	}
	return m.dialog("Quit?", body, w)
}
