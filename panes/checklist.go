package panes

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// ChecklistView is everything the checklist shows.
type ChecklistView struct {
	Runbook *runbook.Runbook
	Gates   map[string]gates.Result
	Now     time.Time
	Cursor  int // index into Runbook.Steps()
	Focused bool
	Spinner string // frame of the running-step spinner
	// Vars expand a command's templates for display, exactly as it will run.
	Vars map[string]string
	// Orphans are the steps whose command the previous cockpit left
	// running, by step id: the process group still there.
	Orphans map[string]int
}

type checklistKeys struct {
	scrollKeys
	Check, Skip, Run, Reopen, Cancel key.Binding
}

// Checklist is the runbook pane.
type Checklist struct {
	Data     ChecklistView
	keys     checklistKeys
	th       theme.Theme
	visible  int // rows shown last time, for paging
	readOnly bool
}

// NewChecklist builds the pane over a runbook the root keeps current.
func NewChecklist(rb *runbook.Runbook, th theme.Theme) *Checklist {
	return &Checklist{
		Data: ChecklistView{Runbook: rb, Gates: map[string]gates.Result{}},
		th:   th,
		keys: checklistKeys{
			scrollKeys: newScrollKeys(),
			Check:      key.NewBinding(key.WithKeys("space", "x"), key.WithHelp("space", "check off")),
			Skip:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip (reason)")),
			Run:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run step")),
			Reopen:     key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "reopen")),
			Cancel:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel run")),
		},
	}
}

// Title implements Pane.
func (c *Checklist) Title() string { return "Checklist" }

// SetFocused implements Pane.
func (c *Checklist) SetFocused(f bool) { c.Data.Focused = f }

// SetTheme implements Pane.
func (c *Checklist) SetTheme(th theme.Theme) { c.th = th }

// SetReadOnly hides the bindings that would change the world.
// The key still reaches the root, which says why it refuses: a key that
// silently does nothing during an incident is worse than a clear no.
func (c *Checklist) SetReadOnly(ro bool) {
	c.readOnly = ro
	c.keys.Run.SetEnabled(!ro)
}

// Selected returns the step under the cursor, or nil.
func (c *Checklist) Selected() *runbook.Step {
	steps := c.Data.Runbook.Steps()
	if c.Data.Cursor < 0 || c.Data.Cursor >= len(steps) {
		return nil
	}
	return steps[c.Data.Cursor]
}

// Update implements Pane.
func (c *Checklist) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return c, nil
	}
	n := len(c.Data.Runbook.Steps())
	page := max(1, c.visible-2)
	move := func(d int) { c.Data.Cursor = min(max(c.Data.Cursor+d, 0), n-1) }
	sel := c.Selected()
	switch {
	case key.Matches(k, c.keys.Up):
		move(-1)
	case key.Matches(k, c.keys.Down):
		move(1)
	case key.Matches(k, c.keys.PageUp):
		move(-page)
	case key.Matches(k, c.keys.PageDown):
		move(page)
	case key.Matches(k, c.keys.Top):
		c.Data.Cursor = 0
	case key.Matches(k, c.keys.Bottom):
		c.Data.Cursor = n - 1
	case sel == nil:
	case key.Matches(k, c.keys.Check):
		return c, request(OpCheck, sel.ID)
	case key.Matches(k, c.keys.Skip):
		return c, request(OpSkip, sel.ID)
	case pressed(k, c.keys.Run, c.readOnly):
		return c, request(OpRun, sel.ID)
	case key.Matches(k, c.keys.Reopen):
		return c, request(OpReopen, sel.ID)
	case key.Matches(k, c.keys.Cancel):
		return c, request(OpCancel, sel.ID)
	}
	return c, nil
}

// View implements Pane.
func (c *Checklist) View(width, height int) string {
	c.visible = height - 2
	return RenderChecklist(c.Data, width, height, c.th)
}

// ShortHelp implements help.KeyMap.
func (c *Checklist) ShortHelp() []key.Binding {
	if c.readOnly {
		// Every key of its own changes the deploy: a watcher is not
		// offered them (pressed anyway, they are refused with a word).
		return nil
	}
	return []key.Binding{c.keys.Check, c.keys.Run, c.keys.Skip, c.keys.Reopen, c.keys.Cancel}
}

// FullHelp implements help.KeyMap.
func (c *Checklist) FullHelp() [][]key.Binding {
	return [][]key.Binding{c.ShortHelp(), c.keys.list()}
}

// detailLines is how much room the selected step's detail takes at the
// bottom of the pane, when the pane is tall enough to afford it.
const detailLines = 4

// RenderChecklist draws the runbook: phases, steps with their marks,
// estimates and actuals, gate values, and the selected step's detail.
func RenderChecklist(v ChecklistView, width, height int, th theme.Theme) string {
	inner, rows := width-2, height-2
	if inner < 1 || rows < 1 {
		return Frame("Checklist", v.Focused, nil, width, height, th)
	}
	rb := v.Runbook
	closed, total := rb.Progress()
	title := fmt.Sprintf("1 Checklist %d/%d", closed, total)

	steps := rb.Steps()
	var sel *runbook.Step
	if v.Cursor >= 0 && v.Cursor < len(steps) {
		sel = steps[v.Cursor]
	}
	showDetail := rows >= 10 && sel != nil
	listRows := rows
	if showDetail {
		listRows = rows - detailLines - 1
	}

	// Flatten phases and steps into rows; remember the cursor's row.
	type row struct {
		phase *runbook.Phase
		step  *runbook.Step
		index int
	}
	all := make([]row, 0, len(steps)+len(rb.Phases))
	cursorRow, i := 0, 0
	for _, p := range rb.Phases {
		all = append(all, row{phase: p})
		for _, s := range p.Steps {
			if i == v.Cursor {
				cursorRow = len(all)
			}
			all = append(all, row{step: s, index: i})
			i++
		}
	}
	// Keep the cursor a third of the way down once the list scrolls, so the
	// steps that come next stay in view.
	offset := 0
	if len(all) > listRows {
		offset = min(max(cursorRow-listRows/3, 0), len(all)-listRows)
	}

	timeW := 0
	switch {
	case inner >= 72 && learnedAny(rb):
		timeW = learnedTimeW
	case inner >= 46:
		timeW = 15
	case inner >= 30:
		timeW = 6
	}
	kindW := 0
	if inner >= 40 {
		kindW = 5
	}
	body := make([]string, 0, rows)
	for r := offset; r < len(all) && len(body) < listRows; r++ {
		it := all[r]
		if it.phase != nil {
			body = append(body, phaseHeader(it.phase, inner, th))
			continue
		}
		body = append(body, stepRow(v, it.step, it.index == v.Cursor, inner, kindW, timeW, th))
	}
	if showDetail {
		for len(body) < listRows {
			body = append(body, "")
		}
		body = append(body, th.Border.S(strings.Repeat("─", inner)))
		body = append(body, stepDetail(v, sel, inner, th)...)
	}
	return Frame(title, v.Focused, body, width, height, th)
}

func phaseHeader(p *runbook.Phase, w int, th theme.Theme) string {
	done, n := 0, len(p.Steps)
	var est time.Duration
	for _, s := range p.Steps {
		if s.State.Status.Closed() {
			done++
		}
		est += s.Estimate.D()
	}
	name := strings.ToUpper(p.Name)
	if p.Contingency {
		name += " (if needed)"
	}
	right := fmt.Sprintf("%d/%d · %s", done, n, runbook.Short(est))
	left := Trunc(name, max(w-ansi.StringWidth(right)-1, 1))
	gap := max(w-ansi.StringWidth(left)-ansi.StringWidth(right), 1)
	if gap+ansi.StringWidth(left)+ansi.StringWidth(right) > w {
		return th.Header.S(Fit(left, w))
	}
	return th.Header.S(left) + strings.Repeat(" ", gap) + th.Dim.S(right)
}

// Mark returns the checkbox for a status.
func Mark(st runbook.Status, spinner string) string {
	switch st {
	case runbook.Done:
		return "[x]"
	case runbook.Skipped:
		return "[-]"
	case runbook.Running:
		if spinner != "" {
			return "[" + spinner + "]"
		}
		return "[>]"
	case runbook.Failed:
		return "[!]"
	case runbook.Unknown:
		return "[?]"
	}
	return "[ ]"
}

func statusPaint(st runbook.Status, th theme.Theme) theme.Paint {
	switch st {
	case runbook.Done:
		return th.OK
	case runbook.Skipped:
		return th.Dim
	case runbook.Running:
		return th.Info
	case runbook.Failed, runbook.Unknown:
		return th.Bad
	}
	return th.Text
}

func kindBadge(s *runbook.Step, g gates.Result, th theme.Theme) string {
	switch s.Kind {
	case runbook.CommandStep:
		return th.Info.S("cmd ")
	case runbook.ActionStep:
		return th.Info.S("act ")
	case runbook.GateStep:
		switch g.State {
		case gates.Pass:
			return th.OK.S("gate")
		case gates.Fail:
			return th.Bad.S("gate")
		}
		return th.Dim.S("gate")
	}
	return "    "
}

func stepRow(v ChecklistView, s *runbook.Step, selected bool, w, kindW, timeW int, th theme.Theme) string {
	st := s.State
	cursor := "  "
	if selected {
		cursor = "▸ "
	}
	mark := Mark(st.Status, v.Spinner)
	titleW := w - 2 - 4 - kindW - timeW
	if timeW > 0 {
		titleW--
	}
	title := Fit(s.Title, max(titleW, 1))
	var b strings.Builder
	b.WriteString(cursor)
	b.WriteString(statusPaint(st.Status, th).S(mark))
	b.WriteByte(' ')
	if st.Status.Closed() {
		b.WriteString(th.Dim.S(title))
	} else {
		b.WriteString(th.Text.S(title))
	}
	if kindW > 0 {
		b.WriteByte(' ')
		b.WriteString(kindBadge(s, v.Gates[s.ID], th))
	}
	if timeW > 0 {
		b.WriteByte(' ')
		b.WriteString(timeCell(s, v.Now, timeW, th))
	}
	line := b.String()
	if selected && v.Focused {
		return th.Selected.S(Fit(ansi.Strip(line), w))
	}
	return line
}

// learnedTimeW is the time column with room for what a step usually
// takes: "    5m · usually 40s    /    38s".
const learnedTimeW = 32

// learnedAny reports whether any step has learned how long it takes.
func learnedAny(rb *runbook.Runbook) bool {
	for _, s := range rb.Steps() {
		if s.Usual.Known() {
			return true
		}
	}
	return false
}

// timeCell shows "est / actual", the actual red when it overran; given
// the room, what the step usually takes sits between them.
func timeCell(s *runbook.Step, now time.Time, w int, th theme.Theme) string {
	est := runbook.Short(s.Estimate.D())
	act := s.State.Actual(now)
	if w >= learnedTimeW {
		usual := strings.Repeat(" ", 17)
		if s.Usual.Known() {
			usual = th.Dim.S(fmt.Sprintf(" · usually %-6s", runbook.Short(s.Usual.Median)))
		}
		actual := strings.Repeat(" ", 9)
		if act > 0 {
			p := th.Dim
			if act > s.Estimate.D() {
				p = th.Warn
			}
			actual = th.Dim.S(" / ") + p.S(fmt.Sprintf("%6s", runbook.Short(act)))
		}
		return th.Dim.S(fmt.Sprintf("%6s", est)) + usual + actual + strings.Repeat(" ", w-learnedTimeW)
	}
	if w < 15 || act == 0 {
		return th.Dim.S(fmt.Sprintf("%*s", w, est))
	}
	a := runbook.Short(act)
	p := th.Dim
	if act > s.Estimate.D() {
		p = th.Warn
	}
	return th.Dim.S(fmt.Sprintf("%6s", est)) + th.Dim.S(" / ") + p.S(fmt.Sprintf("%6s", a))
}

func stepDetail(v ChecklistView, s *runbook.Step, w int, th theme.Theme) []string {
	var lines []string
	add := func(p theme.Paint, text string) {
		for _, l := range Wrap(text, w) {
			lines = append(lines, p.S(l))
		}
	}
	st := s.State
	switch s.Kind {
	case runbook.CommandStep:
		add(th.Info, "$ "+s.ShownCommand(v.Vars))
	case runbook.GateStep:
		g := v.Gates[s.ID]
		text := fmt.Sprintf("gate %s: %s", s.Gate, g.State)
		if g.Value != "" {
			text += " (" + g.Value + ")"
		} else if g.Reason != "" {
			text += " (" + g.Reason + ")"
		}
		p := th.Dim
		switch g.State {
		case gates.Pass:
			p = th.OK
		case gates.Fail:
			p = th.Bad
		}
		add(p, text)
	case runbook.ActionStep:
		add(th.Info, "action "+s.Action)
	}
	switch st.Status {
	case runbook.Failed:
		msg := "failed"
		if st.Exit != nil {
			msg = fmt.Sprintf("failed with exit %d", *st.Exit)
		}
		if st.Err != "" {
			msg += ": " + st.Err
		}
		add(th.Bad, msg+" — enter retries, s skips with a reason")
	case runbook.Unknown:
		if pgid, ok := v.Orphans[s.ID]; ok {
			add(th.Warn, fmt.Sprintf("still running (pgid %d) from before the restart: in the Output pane w waits for it, x stops it", pgid))
		} else {
			add(th.Bad, "ended, outcome unknown — flightdeck stopped while this ran. Verify, then space marks it done or s skips it")
		}
	case runbook.Skipped:
		add(th.Dim, "skipped by "+st.By+": "+st.Reason)
	case runbook.Done:
		by := "done"
		if st.By != "" {
			by += " by " + st.By
		}
		if st.Value != "" {
			by += " at " + st.Value
		}
		if st.Exit != nil {
			by += fmt.Sprintf(" (exit %d)", *st.Exit)
		}
		add(th.OK, by)
	}
	if u := s.Usual; u.Known() {
		of := "the last run"
		if u.Runs > 1 {
			of = fmt.Sprintf("the median of the last %d runs", u.Runs)
		}
		add(th.Dim, fmt.Sprintf("estimate %s · usually %s (%s)", runbook.Short(s.Estimate.D()), runbook.Short(u.Median), of))
	}
	if s.Notes != "" {
		add(th.Dim, s.ShownNotes(v.Vars))
	}
	if len(lines) > detailLines {
		lines = lines[:detailLines]
	}
	return lines
}
