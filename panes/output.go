package panes

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// OutputCapacity is how many lines of output the pane keeps per run.
const OutputCapacity = 10000

// Run is one execution of a command: its own section of the Output pane.
type Run struct {
	ID      string
	Title   string
	Command string
	Started time.Time
	Ended   time.Time
	Exit    *int
	Err     string
	Running bool
	// Orphan is a run the previous cockpit started and never saw end: its
	// process group, and whether that group was still there when last
	// looked at. Zero for runs of this cockpit.
	Orphan       int
	OrphanAlive  bool
	FromJournal  bool // lines are the journal's tail, not the whole output
	Lines        *Lines
	searchHits   []int
	searchCursor int
}

// NewRun returns a run with room for its output.
func NewRun(id, title, command string, started time.Time) *Run {
	return &Run{ID: id, Title: title, Command: command, Started: started, Running: true, Lines: NewLines(OutputCapacity)}
}

// OutputView is everything the output pane shows.
type OutputView struct {
	Runs     []*Run // in the order they started
	Selected int    // index into Runs
	// Pinned: the operator chose a run, so a new one does not take over
	// the view.
	Pinned  bool
	Scroll  int // lines scrolled up from the bottom; 0 follows new output
	Search  string
	Prompt  string // the search being typed, shown on the last row
	Now     time.Time
	Focused bool
}

// Current is the run on screen, or nil.
func (v OutputView) Current() *Run {
	if v.Selected < 0 || v.Selected >= len(v.Runs) {
		return nil
	}
	return v.Runs[v.Selected]
}

// OutputOp is what the operator asked of a run the previous cockpit left.
type OutputOp string

const (
	// OpWaitOrphan follows a still-running orphan until its group ends.
	OpWaitOrphan OutputOp = "wait"
	// OpStopOrphan stops an orphan's process group (previewed, confirmed).
	OpStopOrphan OutputOp = "stop"
)

// OutputRequest asks the root to act on a run.
type OutputRequest struct {
	Op   OutputOp
	Run  string
	Pgid int
}

type outputKeys struct {
	scrollKeys
	PrevRun, NextRun, Search, NextHit, PrevHit, Copy, Wait, Stop key.Binding
}

// Output is the pane of command runs.
type Output struct {
	Data     OutputView
	keys     outputKeys
	th       theme.Theme
	visible  int
	byID     map[string]*Run
	input    textinput.Model
	typing   bool
	readOnly bool
}

// NewOutput returns an empty output pane.
func NewOutput(th theme.Theme) *Output {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "search this run's output"
	in.CharLimit = 200
	return &Output{th: th, byID: map[string]*Run{}, input: in, keys: outputKeys{
		scrollKeys: newScrollKeys(),
		PrevRun:    key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous run")),
		NextRun:    key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next run")),
		Search:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		NextHit:    key.NewBinding(key.WithKeys("n"), key.WithHelp("n/N", "next/previous match")),
		PrevHit:    key.NewBinding(key.WithKeys("N")),
		Copy:       key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy run output")),
		Wait:       key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wait for a left-over run")),
		Stop:       key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop a left-over run")),
	}}
}

// SetReadOnly hides the key that stops a left-over run.
func (o *Output) SetReadOnly(ro bool) {
	o.readOnly = ro
	o.keys.Stop.SetEnabled(!ro)
}

// Title implements Pane.
func (o *Output) Title() string { return "Output" }

// SetFocused implements Pane.
func (o *Output) SetFocused(f bool) { o.Data.Focused = f }

// SetTheme implements Pane.
func (o *Output) SetTheme(th theme.Theme) { o.th = th }

// Capturing reports whether the pane is reading typed text, so the root
// sends it every key.
func (o *Output) Capturing() bool { return o.typing }

// Run returns the run with that id, or nil.
func (o *Output) Run(id string) *Run { return o.byID[id] }

// Start adds a run. It takes the view unless the operator pinned another.
func (o *Output) Start(r *Run) {
	if r.Lines == nil {
		r.Lines = NewLines(OutputCapacity)
	}
	o.Data.Runs = append(o.Data.Runs, r)
	if r.ID != "" {
		o.byID[r.ID] = r
	}
	if !o.Data.Pinned {
		o.Data.Selected = len(o.Data.Runs) - 1
		o.Data.Scroll = 0
	}
}

// Reset empties the pane, for a view that starts over from the whole
// state of the deploy.
func (o *Output) Reset() {
	o.Data.Runs, o.Data.Selected, o.Data.Scroll, o.Data.Pinned = nil, 0, 0, false
	o.byID = map[string]*Run{}
}

// Append adds output lines to a run; a scrolled-back view stays where it is.
func (o *Output) Append(id string, lines []string) {
	r := o.byID[id]
	if r == nil || len(lines) == 0 {
		return
	}
	r.Lines.Add(lines...)
	if r == o.Data.Current() && o.Data.Scroll > 0 {
		o.Data.Scroll = min(o.Data.Scroll+len(lines), max(r.Lines.Len()-1, 0))
	}
	if o.Data.Search != "" {
		r.searchHits = nil
	}
}

// End closes a run with its outcome.
func (o *Output) End(id string, took time.Duration, exit *int, errText string) {
	r := o.byID[id]
	if r == nil {
		return
	}
	r.Running = false
	r.Ended = r.Started.Add(took)
	r.Exit = exit
	r.Err = errText
}

// Update implements Pane.
func (o *Output) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return o, nil
	}
	if o.typing {
		return o, o.typeKey(k)
	}
	r := o.Data.Current()
	lines := 0
	if r != nil {
		lines = r.Lines.Len()
	}
	page := max(1, o.visible-2)
	maxScroll := max(lines-o.visible, 0)
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
	case key.Matches(k, o.keys.PrevRun):
		o.selectRun(o.Data.Selected - 1)
	case key.Matches(k, o.keys.NextRun):
		o.selectRun(o.Data.Selected + 1)
	case key.Matches(k, o.keys.Search) && r != nil:
		o.typing = true
		o.input.SetValue(o.Data.Search)
		o.input.CursorEnd()
		return o, o.input.Focus()
	case key.Matches(k, o.keys.NextHit):
		o.jump(-1)
	case key.Matches(k, o.keys.PrevHit):
		o.jump(+1)
	case key.Matches(k, o.keys.Copy) && r != nil:
		return o, tea.SetClipboard(o.text(r))
	case key.Matches(k, o.keys.Wait) && r != nil && r.Orphan > 0 && r.OrphanAlive:
		return o, func() tea.Msg { return OutputRequest{Op: OpWaitOrphan, Run: r.ID, Pgid: r.Orphan} }
	case pressed(k, o.keys.Stop, o.readOnly) && r != nil && r.Orphan > 0 && r.OrphanAlive:
		return o, func() tea.Msg { return OutputRequest{Op: OpStopOrphan, Run: r.ID, Pgid: r.Orphan} }
	}
	return o, nil
}

func (o *Output) selectRun(i int) {
	if len(o.Data.Runs) == 0 {
		return
	}
	i = min(max(i, 0), len(o.Data.Runs)-1)
	o.Data.Selected = i
	// Back on the newest run, new runs take the view again.
	o.Data.Pinned = i != len(o.Data.Runs)-1
	o.Data.Scroll = 0
}

func (o *Output) typeKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		o.typing = false
		o.input.Blur()
		return nil
	case "enter":
		o.typing = false
		o.input.Blur()
		o.Data.Search = o.input.Value()
		for _, r := range o.Data.Runs {
			r.searchHits = nil
		}
		if r := o.Data.Current(); r != nil {
			r.searchCursor = -1
		}
		o.jump(-1)
		return nil
	}
	var cmd tea.Cmd
	o.input, cmd = o.input.Update(k)
	return cmd
}

// jump scrolls to the next match going up (dir -1: older lines first, as
// a search from the newest output goes) or down (+1).
func (o *Output) jump(dir int) {
	r := o.Data.Current()
	if r == nil || o.Data.Search == "" {
		return
	}
	hits := r.hits(o.Data.Search)
	if len(hits) == 0 {
		return
	}
	if r.searchCursor < 0 || r.searchCursor >= len(hits) {
		r.searchCursor = len(hits)
	}
	r.searchCursor = (r.searchCursor + dir + len(hits)) % len(hits)
	line := hits[r.searchCursor]
	// Put the match in the middle of the view where the output allows.
	n := r.Lines.Len()
	o.Data.Scroll = min(max(n-1-line-o.visible/2, 0), max(n-o.visible, 0))
}

func (r *Run) hits(pattern string) []int {
	if r.searchHits != nil {
		return r.searchHits
	}
	hits := []int{}
	p := strings.ToLower(pattern)
	for i := 0; i < r.Lines.Len(); i++ {
		if strings.Contains(strings.ToLower(r.Lines.At(i)), p) {
			hits = append(hits, i)
		}
	}
	r.searchHits = hits
	return hits
}

// text is what y copies: the run's command and every line held.
func (o *Output) text(r *Run) string {
	var b strings.Builder
	b.WriteString("$ " + r.Command + "\n")
	for i := 0; i < r.Lines.Len(); i++ {
		b.WriteString(r.Lines.At(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// View implements Pane.
func (o *Output) View(width, height int) string {
	o.visible = max(height-5, 1)
	v := o.Data
	if o.typing {
		v.Prompt = o.input.View()
	}
	return RenderOutput(v, width, height, o.th)
}

// ShortHelp implements help.KeyMap.
func (o *Output) ShortHelp() []key.Binding {
	return []key.Binding{o.keys.PrevRun, o.keys.NextRun, o.keys.Search, o.keys.Copy, o.keys.Up, o.keys.Down}
}

// FullHelp implements help.KeyMap.
func (o *Output) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{o.keys.PrevRun, o.keys.NextRun, o.keys.Search, o.keys.NextHit, o.keys.Copy, o.keys.Wait, o.keys.Stop},
		o.keys.list(),
	}
}

// RenderOutput draws the selected run: a status line (with the run's place
// among the others), its command and as many of its lines as fit, reading
// only the lines it shows.
func RenderOutput(v OutputView, width, height int, th theme.Theme) string {
	inner, rows := width-2, height-2
	title := "6 Output"
	if inner < 1 || rows < 1 {
		return Frame(title, v.Focused, nil, width, height, th)
	}
	r := v.Current()
	if r == nil {
		body := []string{th.Dim.S("No command has run yet. Select a command step"), th.Dim.S("in the checklist and press enter.")}
		return Frame(title, v.Focused, body, width, height, th)
	}
	if len(v.Runs) > 1 {
		title += fmt.Sprintf(" · run %d/%d", v.Selected+1, len(v.Runs))
		if others := runningElsewhere(v); others > 0 {
			title += fmt.Sprintf(" · %d more running", others)
		}
	}
	body := make([]string, 0, rows)
	body = append(body, Trunc(runStatus(r, v.Now, th), inner))
	if note := orphanNote(r); note != "" {
		body = append(body, Trunc(th.Warn.S(note), inner))
	}
	body = append(body, th.Dim.S(Trunc(fmt.Sprintf("── %s %s ── %s", r.Started.Format("15:04:05"), r.Title, r.ID), inner)))
	body = append(body, th.Dim.S(Trunc("$ "+r.Command, inner)))
	if r.FromJournal {
		body = append(body, th.Dim.S(Trunc(fmt.Sprintf("(the journal's last %d lines of this run)", r.Lines.Len()), inner)))
	}
	show := rows - len(body)
	if v.Prompt != "" {
		show--
	}
	n := r.Lines.Len()
	end := max(n-v.Scroll, 0)
	start := max(end-show, 0)
	needle := strings.ToLower(v.Search)
	for i := start; i < end && show > 0; i++ {
		line := Trunc(r.Lines.At(i), inner)
		if needle != "" && strings.Contains(strings.ToLower(r.Lines.At(i)), needle) {
			line = th.Selected.S(line)
		}
		body = append(body, line)
	}
	if v.Prompt != "" {
		for len(body) < rows-1 {
			body = append(body, "")
		}
		body = append(body, Trunc(v.Prompt, inner))
	}
	if v.Scroll > 0 {
		title += fmt.Sprintf(" ↑%d", v.Scroll)
	}
	if v.Search != "" {
		title += fmt.Sprintf(" /%s %d", v.Search, len(r.hits(v.Search)))
	}
	return Frame(title, v.Focused, body, width, height, th)
}

func runningElsewhere(v OutputView) int {
	n := 0
	for i, r := range v.Runs {
		if i != v.Selected && (r.Running || r.OrphanAlive) {
			n++
		}
	}
	return n
}

func orphanNote(r *Run) string {
	switch {
	case r.Orphan > 0 && r.OrphanAlive:
		return fmt.Sprintf("still running (pgid %d) from before the restart: w waits for it, x stops it", r.Orphan)
	case r.Orphan > 0 || r.FromJournal && r.Exit == nil && !r.Running && r.Err == "":
		return "ended, outcome unknown — verify, then tick the step (space) or reopen it"
	}
	return ""
}

func runStatus(r *Run, now time.Time, th theme.Theme) string {
	switch {
	case r.Running:
		return th.Info.S(fmt.Sprintf("running %s: %s  (c cancels)", runbook.Short(now.Sub(r.Started)), r.Title))
	case r.Orphan > 0:
		return th.Warn.S(fmt.Sprintf("interrupted at the restart: %s", r.Title))
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
