package panes

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// OutputCapacity is how many lines of command output the pane keeps.
const OutputCapacity = 10000

// Lines is a ring of the most recent output lines.
type Lines struct {
	buf   []string
	start int
	n     int
}

// NewLines returns a ring holding up to capacity lines.
func NewLines(capacity int) *Lines { return &Lines{buf: make([]string, capacity)} }

// Add appends lines, dropping the oldest beyond capacity.
func (l *Lines) Add(lines ...string) {
	for _, s := range lines {
		if l.n < len(l.buf) {
			l.buf[(l.start+l.n)%len(l.buf)] = s
			l.n++
			continue
		}
		l.buf[l.start] = s
		l.start = (l.start + 1) % len(l.buf)
	}
}

// Len is the number of lines held.
func (l *Lines) Len() int { return l.n }

// At returns line i, 0 being the oldest held.
func (l *Lines) At(i int) string { return l.buf[(l.start+i)%len(l.buf)] }

// Run is the command whose output the pane shows last.
type Run struct {
	Title   string
	Command string
	Started time.Time
	Ended   time.Time
	Exit    *int
	Err     string
	Running bool
}

// OutputView is everything the output pane shows.
type OutputView struct {
	Lines   *Lines
	Run     *Run // nil before the first run
	Scroll  int  // lines scrolled up from the bottom; 0 follows new output
	Now     time.Time
	Focused bool
}

type outputKeys struct{ scrollKeys }

// Output is the pane of running commands.
type Output struct {
	Data    OutputView
	keys    outputKeys
	th      theme.Theme
	visible int
}

// NewOutput returns an empty output pane.
func NewOutput(th theme.Theme) *Output {
	return &Output{Data: OutputView{Lines: NewLines(OutputCapacity)}, th: th, keys: outputKeys{newScrollKeys()}}
}

// Title implements Pane.
func (o *Output) Title() string { return "Output" }

// SetFocused implements Pane.
func (o *Output) SetFocused(f bool) { o.Data.Focused = f }

// SetTheme implements Pane.
func (o *Output) SetTheme(th theme.Theme) { o.th = th }

// Start begins a new run: earlier output stays above a separator, so the
// history of the deploy can be scrolled back through.
func (o *Output) Start(r *Run) {
	if o.Data.Lines.Len() > 0 {
		o.Data.Lines.Add("")
	}
	o.Data.Lines.Add("── " + r.Started.Format("15:04:05") + " " + r.Title + " ──")
	o.Data.Lines.Add("$ " + r.Command)
	o.Data.Run = r
	o.Data.Scroll = 0
}

// Append adds output lines; a scrolled-back view stays where it is.
func (o *Output) Append(lines []string) {
	o.Data.Lines.Add(lines...)
	if o.Data.Scroll > 0 {
		o.Data.Scroll = min(o.Data.Scroll+len(lines), max(o.Data.Lines.Len()-1, 0))
	}
}

// Update implements Pane.
func (o *Output) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return o, nil
	}
	page := max(1, o.visible-2)
	maxScroll := max(o.Data.Lines.Len()-o.visible, 0)
	set := func(s int) { o.Data.Scroll = min(max(s, 0), maxScroll) }
	switch {
	case key.Matches(k, o.keys.Up):
		set(o.Data.Scroll + 1)
	case key.Matches(k, o.keys.Down):
		set(o.Data.Scroll - 1)
	case key.Matches(k, o.keys.PageUp):
		set(o.Data.Scroll + page)
	case key.Matches(k, o.keys.PageDown):
		set(o.Data.Scroll - page)
	case key.Matches(k, o.keys.Top):
		set(maxScroll)
	case key.Matches(k, o.keys.Bottom):
		set(0)
	}
	return o, nil
}

// View implements Pane.
func (o *Output) View(width, height int) string {
	o.visible = max(height-3, 1)
	return RenderOutput(o.Data, width, height, o.th)
}

// ShortHelp implements help.KeyMap.
func (o *Output) ShortHelp() []key.Binding {
	return []key.Binding{o.keys.Up, o.keys.Down, o.keys.PageUp, o.keys.Bottom}
}

// FullHelp implements help.KeyMap.
func (o *Output) FullHelp() [][]key.Binding { return [][]key.Binding{o.keys.list()} }

// RenderOutput draws a status line for the last run and as many output lines
// as fit, reading only the lines it shows.
func RenderOutput(v OutputView, width, height int, th theme.Theme) string {
	inner, rows := width-2, height-2
	title := "6 Output"
	if inner < 1 || rows < 1 {
		return Frame(title, v.Focused, nil, width, height, th)
	}
	body := make([]string, 0, rows)
	if v.Run == nil {
		body = append(body, th.Dim.S("No command has run yet. Select a command step"))
		body = append(body, th.Dim.S("in the checklist and press enter."))
		return Frame(title, v.Focused, body, width, height, th)
	}
	body = append(body, runStatus(v.Run, v.Now, th))
	n := v.Lines.Len()
	show := rows - 1
	end := n - v.Scroll
	start := max(end-show, 0)
	for i := start; i < end; i++ {
		line := v.Lines.At(i)
		if strings.HasPrefix(line, "── ") || strings.HasPrefix(line, "$ ") {
			body = append(body, th.Dim.S(Trunc(line, inner)))
			continue
		}
		body = append(body, Trunc(line, inner))
	}
	if v.Scroll > 0 {
		title += fmt.Sprintf(" ↑%d", v.Scroll)
	}
	return Frame(title, v.Focused, body, width, height, th)
}

func runStatus(r *Run, now time.Time, th theme.Theme) string {
	switch {
	case r.Running:
		return th.Info.S(fmt.Sprintf("running %s: %s  (c cancels)", runbook.Short(now.Sub(r.Started)), r.Title))
	case r.Exit != nil && *r.Exit == 0 && r.Err == "":
		return th.OK.S(fmt.Sprintf("exit 0 after %s: %s", runbook.Short(r.Ended.Sub(r.Started)), r.Title))
	}
	what := "failed"
	if r.Exit != nil && *r.Exit >= 0 {
		what = fmt.Sprintf("exit %d", *r.Exit)
	}
	if r.Err != "" {
		what += " (" + r.Err + ")"
	}
	return th.Bad.S(fmt.Sprintf("%s after %s: %s", what, runbook.Short(r.Ended.Sub(r.Started)), r.Title))
}
