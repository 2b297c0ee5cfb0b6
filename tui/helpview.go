package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/panes"
)

// The help overlay answers "what can I press here?": the focused pane's
// keys come first, then the ones that work everywhere, then the other
// panes'. On a huddle's 80×24 that is more than a screen, so it scrolls
// rather than cutting off the rest.

// helpPage is the help as drawn on a w×h screen.
type helpPage struct {
	width int      // of the box
	lines []string // every line, each fitting the box
	rows  int      // how many lines show at once when it scrolls; 0: it fits
}

// maxOff is the offset that shows the last line.
func (p helpPage) maxOff() int {
	if p.rows == 0 || len(p.lines) <= p.rows {
		return 0
	}
	// Scrolled to the end, the "↑ more" marker takes a row.
	return len(p.lines) - (p.rows - 1)
}

const (
	helpFits   = "any key closes help"
	helpScroll = "↑↓ j k pgup pgdn scroll · any other key closes"
)

// helpSections lists the bindings, the focused pane's first.
func (m *Model) helpSections() []string {
	var body []string
	section := func(name string, bs []key.Binding) {
		var rows []string
		for _, b := range bs {
			if !b.Enabled() {
				continue
			}
			hp := b.Help()
			rows = append(rows, fmt.Sprintf("  %-10s %s", hp.Key, hp.Desc))
		}
		if len(rows) > 0 {
			body = append(body, m.th.Header.S(name))
			body = append(body, rows...)
		}
	}
	pane := func(i int) {
		var bs []key.Binding
		for _, g := range m.panes[i].FullHelp() {
			bs = append(bs, g...)
		}
		section(fmt.Sprintf("%d %s", i+1, m.panes[i].Title()), bs)
	}
	pane(m.focus)
	section("Everywhere", m.keys.full())
	for i := range m.panes {
		if i != m.focus {
			pane(i)
		}
	}
	if m.opts.Viewer.ReadOnly {
		body = append(body, "", "Read-only: keys that would change the world are hidden.")
	}
	return body
}

// helpPage lays the help out for a w×h screen: one column, or two side by
// side when the screen is wide and one would not fit its height.
func (m *Model) helpPage(w, h int) helpPage {
	body := m.helpSections()
	// The box leaves the status bar and the message line in view.
	inner := max(h-4, 3)
	bw := min(max(w*2/3, 50), w)
	if len(body)+2 > inner && w >= 100 {
		half := (len(body) + 1) / 2
		colW := (min(w-6, 110) - 4) / 2
		two := make([]string, 0, half)
		for i := 0; i < half; i++ {
			r := ""
			if i+half < len(body) {
				r = panes.Trunc(body[i+half], colW)
			}
			two = append(two, panes.Fit(body[i], colW)+"  "+r)
		}
		body = two
		bw = min(2*colW+6, w)
	}
	textW := bw - 4
	var lines []string
	for _, l := range body {
		if ansi.StringWidth(l) <= textW {
			lines = append(lines, l)
			continue
		}
		lines = append(lines, panes.Wrap(l, textW)...)
	}
	if len(lines)+2 <= inner {
		return helpPage{width: bw, lines: append(lines, "", helpFits)}
	}
	// The last row says how to scroll; the rest show the lines.
	return helpPage{width: bw, lines: lines, rows: inner - 1}
}

// helpBox draws the help at the offset scrolled to.
func (m *Model) helpBox(w, h int) []string {
	p := m.helpPage(w, h)
	body := p.lines
	if p.rows > 0 {
		off := min(max(m.helpOff, 0), p.maxOff())
		top := off > 0
		n := p.rows - btoi(top)
		bottom := off+n < len(p.lines)
		if bottom {
			n--
		}
		body = make([]string, 0, p.rows+1)
		if top {
			body = append(body, m.th.Dim.S("↑ more"))
		}
		body = append(body, p.lines[off:off+n]...)
		if bottom {
			body = append(body, m.th.Dim.S("↓ more"))
		}
		body = append(body, m.th.Dim.S(panes.Trunc(helpScroll, p.width-4)))
	}
	for i := range body {
		body[i] = " " + body[i]
	}
	return strings.Split(panes.Frame("Help", true, body, p.width, len(body)+2, m.th), "\n")
}

// helpKey scrolls the help; any other key closes it.
func (m *Model) helpKey(k tea.KeyPressMsg) tea.Cmd {
	p := m.helpPage(m.width, m.height)
	page := max(p.rows-2, 1)
	switch k.String() {
	case "up", "k":
		m.helpOff--
	case "down", "j":
		m.helpOff++
	case "pgup":
		m.helpOff -= page
	case "pgdown":
		m.helpOff += page
	default:
		m.mode = modeNormal
		return nil
	}
	m.helpOff = min(max(m.helpOff, 0), p.maxOff())
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
