package panes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// LocksView is what the DB locks pane shows.
type LocksView struct {
	Source  SourceView
	State   snapshot.DBState
	HasData bool
	Focused bool
	Target  int  // index of the target shown
	Tree    bool // blocking tree instead of the wait list
	Cursor  int  // index into the selectable rows
	Offset  int
	Tagged  map[int32]bool
	Detail  bool // the selected backend in full
	// Pods maps an application_name or client address to the pod it
	// belongs to, from the rollout source.
	Pods map[string]string
	Now  time.Time // for the age of a down target's last reading
	// Preflight is the migrations' pre-flight, nil without [migrations];
	// ShowPreflight shows it in full instead of the locks, scrolled by
	// PreflightOffset lines.
	Preflight       *snapshot.Preflight
	ShowPreflight   bool
	PreflightOffset int
}

// LocksOp is what the operator asked to do to backends.
type LocksOp string

const (
	OpCancelBackend    LocksOp = "cancel"
	OpTerminateBackend LocksOp = "terminate"
)

// LocksRequest asks the root to signal backends on one target.
type LocksRequest struct {
	Op     LocksOp
	Target string
	PIDs   []int32
}

type locksKeys struct {
	scrollKeys
	Target, Tree, Tag, TagRoots, Cancel, Terminate, Copy, Detail, Back, Preflight key.Binding
}

// Locks is the database locks pane: who blocks whom, for how long.
type Locks struct {
	Data     LocksView
	keys     locksKeys
	th       theme.Theme
	visible  int
	width    int
	readOnly bool
	targets  []string
}

// LocksSettings are what the DB locks pane shows of the [postgres]
// section.
type LocksSettings struct {
	ConfigPath    string // the config file, named while the section is missing
	Configured    bool   // there is a [postgres] section
	Targets       []string
	LockThreshold time.Duration
	LongQuery     time.Duration
	Poll          time.Duration
}

// NewLocks builds the pane for the [postgres] section.
func NewLocks(p LocksSettings, th theme.Theme) *Locks {
	v := SourceView{Number: 3, Title: "DB locks", Section: "postgres", ConfigPath: p.ConfigPath,
		Explain: "who blocks whom in Postgres and for how long"}
	var targets []string
	if p.Configured {
		v.Configured = true
		for _, t := range p.Targets {
			v.Scope = append(v.Scope, "target "+t)
			targets = append(targets, t)
		}
		v.Scope = append(v.Scope,
			"waits and holds over "+gates.FormatDuration(p.LockThreshold)+" flagged",
			"queries over "+gates.FormatDuration(p.LongQuery)+" listed as long-running",
			"read every "+gates.FormatDuration(p.Poll))
	}
	return &Locks{Data: LocksView{Source: v, Tagged: map[int32]bool{}}, th: th, targets: targets, keys: locksKeys{
		scrollKeys: newScrollKeys(),
		Target:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "next target")),
		Tree:       key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "tree/list")),
		Tag:        key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "tag")),
		TagRoots:   key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "tag root blockers")),
		Cancel:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel query")),
		Terminate:  key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "terminate")),
		Copy:       key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy query")),
		Detail:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "full query")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Preflight:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "migrations pre-flight")),
	}}
}

// Title implements Pane.
func (l *Locks) Title() string { return "DB locks" }

// SetFocused implements Pane.
func (l *Locks) SetFocused(f bool) { l.Data.Focused = f; l.Data.Source.Focused = f }

// SetTheme implements Pane.
func (l *Locks) SetTheme(th theme.Theme) { l.th = th }

// LocksContext is what the DB locks pane shows beside its feed, from
// other sources.
type LocksContext struct {
	// Pods maps an application_name or client address to the pod it
	// belongs to, from the rollout source.
	Pods map[string]string
	// Preflight is the migrations source's reading; nil when there is
	// none (yet, or no [migrations]).
	Preflight *snapshot.Preflight
}

// Show is how the DB locks pane learns what to show: the postgres
// source's feed, and which pod each client is. Tags of backends that are
// gone are dropped; the action itself makes sure a signal reaches only the
// session its preview showed.
func (l *Locks) Show(f snapshot.Feed[snapshot.DBState], c LocksContext) {
	s := f.Data
	for i := range s.Targets {
		s.Targets[i].Index()
	}
	l.Data.State, l.Data.HasData, l.Data.Now = s, f.HasData, f.Now
	l.Data.Source.Health, l.Data.Source.Reach = f.Health, f.Reach
	l.Data.Pods = c.Pods
	l.Data.Preflight = c.Preflight
	if t, ok := l.current(); ok && len(l.Data.Tagged) > 0 {
		for pid := range l.Data.Tagged {
			if _, alive := t.Find(pid); !alive {
				delete(l.Data.Tagged, pid)
			}
		}
	}
}

// SetReadOnly hides cancel and terminate; pressing them still reaches the
// root, which says why nothing happens.
func (l *Locks) SetReadOnly(ro bool) {
	l.readOnly = ro
	l.keys.Cancel.SetEnabled(!ro)
	l.keys.Terminate.SetEnabled(!ro)
}

func (l *Locks) current() (snapshot.TargetLocks, bool) {
	ts := l.Data.State.Targets
	if len(ts) == 0 {
		return snapshot.TargetLocks{}, false
	}
	return ts[min(l.Data.Target, len(ts)-1)], true
}

// TaggedOn returns the tagged pids when the pane shows target, sorted.
func (l *Locks) TaggedOn(target string) []int32 {
	t, ok := l.current()
	if !ok || t.Name != target || len(l.Data.Tagged) == 0 {
		return nil
	}
	pids := make([]int32, 0, len(l.Data.Tagged))
	for p := range l.Data.Tagged {
		pids = append(pids, p)
	}
	slices.Sort(pids)
	return pids
}

// Selected is the backend under the cursor, if any.
func (l *Locks) Selected() (snapshot.Backend, bool) {
	t, ok := l.current()
	if !ok {
		return snapshot.Backend{}, false
	}
	rows := locksRows(&t, l.Data)
	if l.Data.Cursor < 0 || l.Data.Cursor >= len(rows) {
		return snapshot.Backend{}, false
	}
	return t.Find(rows[l.Data.Cursor].pid)
}

// Update implements Pane.
func (l *Locks) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return l, nil
	}
	if key.Matches(k, l.keys.Preflight) && l.Data.Preflight != nil {
		l.Data.ShowPreflight, l.Data.PreflightOffset = !l.Data.ShowPreflight, 0
		return l, nil
	}
	if l.Data.ShowPreflight {
		return l, l.scrollPreflight(k)
	}
	t, _ := l.current()
	rows := locksRows(&t, l.Data)
	switch {
	case l.Data.Detail && (key.Matches(k, l.keys.Back) || key.Matches(k, l.keys.Detail)):
		l.Data.Detail = false
	case key.Matches(k, l.keys.Up):
		l.Data.Cursor = max(l.Data.Cursor-1, 0)
		l.follow()
	case key.Matches(k, l.keys.Down):
		l.Data.Cursor = min(l.Data.Cursor+1, max(len(rows)-1, 0))
		l.follow()
	case key.Matches(k, l.keys.PageUp):
		l.Data.Cursor = max(l.Data.Cursor-max(l.visible-4, 1), 0)
		l.follow()
	case key.Matches(k, l.keys.PageDown):
		l.Data.Cursor = min(l.Data.Cursor+max(l.visible-4, 1), max(len(rows)-1, 0))
		l.follow()
	case key.Matches(k, l.keys.Top):
		l.Data.Cursor, l.Data.Offset = 0, 0
	case key.Matches(k, l.keys.Bottom):
		l.Data.Cursor = max(len(rows)-1, 0)
		l.follow()
	case key.Matches(k, l.keys.Target):
		if n := max(len(l.Data.State.Targets), len(l.targets)); n > 0 {
			l.Data.Target = (l.Data.Target + 1) % n
		}
		l.Data.Cursor, l.Data.Offset, l.Data.Tagged, l.Data.Detail = 0, 0, map[int32]bool{}, false
	case key.Matches(k, l.keys.Tree):
		l.Data.Tree = !l.Data.Tree
		l.Data.Cursor, l.Data.Offset = 0, 0
	case l.Data.Cursor >= len(rows):
		if pressed(k, l.keys.Cancel, l.readOnly) || pressed(k, l.keys.Terminate, l.readOnly) {
			return l, locksRequest(LocksRequest{Op: opOf(k, l.keys.Cancel), Target: t.Name})
		}
	case key.Matches(k, l.keys.Tag):
		pid := rows[l.Data.Cursor].pid
		if l.Data.Tagged[pid] {
			delete(l.Data.Tagged, pid)
		} else {
			l.Data.Tagged[pid] = true
		}
	case key.Matches(k, l.keys.TagRoots):
		for _, p := range t.RootsOf(rows[l.Data.Cursor].pid) {
			l.Data.Tagged[p] = true
		}
	case pressed(k, l.keys.Cancel, l.readOnly), pressed(k, l.keys.Terminate, l.readOnly):
		return l, locksRequest(LocksRequest{Op: opOf(k, l.keys.Cancel), Target: t.Name, PIDs: l.chosen(rows)})
	case key.Matches(k, l.keys.Copy):
		if b, ok := t.Find(rows[l.Data.Cursor].pid); ok {
			return l, tea.SetClipboard(b.Query)
		}
	case key.Matches(k, l.keys.Detail):
		l.Data.Detail = true
	}
	return l, nil
}

func opOf(k tea.KeyPressMsg, cancel key.Binding) LocksOp {
	if slices.Contains(cancel.Keys(), k.String()) {
		return OpCancelBackend
	}
	return OpTerminateBackend
}

// chosen is what c and K act on: the tagged backends, else the selected one.
func (l *Locks) chosen(rows []locksRow) []int32 {
	if len(l.Data.Tagged) > 0 {
		var pids []int32
		for p := range l.Data.Tagged {
			pids = append(pids, p)
		}
		slices.Sort(pids)
		return pids
	}
	return []int32{rows[l.Data.Cursor].pid}
}

// follow scrolls so the cursor's row stays on screen.
func (l *Locks) follow() {
	rows := max(l.visible-4, 1)
	if l.Data.Cursor < l.Data.Offset {
		l.Data.Offset = l.Data.Cursor
	}
	if l.Data.Cursor >= l.Data.Offset+rows {
		l.Data.Offset = l.Data.Cursor - rows + 1
	}
}

func locksRequest(r LocksRequest) tea.Cmd { return func() tea.Msg { return r } }

// scrollPreflight moves the pre-flight's lines; esc goes back to the
// locks.
func (l *Locks) scrollPreflight(k tea.KeyPressMsg) tea.Cmd {
	lines := len(PreflightLines(*l.Data.Preflight, l.width-2, l.th))
	page := max(l.visible-1, 1)
	switch {
	case key.Matches(k, l.keys.Back):
		l.Data.ShowPreflight = false
	case key.Matches(k, l.keys.Up):
		l.Data.PreflightOffset--
	case key.Matches(k, l.keys.Down):
		l.Data.PreflightOffset++
	case key.Matches(k, l.keys.PageUp):
		l.Data.PreflightOffset -= page
	case key.Matches(k, l.keys.PageDown):
		l.Data.PreflightOffset += page
	case key.Matches(k, l.keys.Top):
		l.Data.PreflightOffset = 0
	case key.Matches(k, l.keys.Bottom):
		l.Data.PreflightOffset = lines
	}
	l.Data.PreflightOffset = max(min(l.Data.PreflightOffset, lines-page), 0)
	return nil
}

// View implements Pane.
func (l *Locks) View(width, height int) string {
	l.visible, l.width = height-2, width
	return RenderLocks(l.Data, width, height, l.th)
}

// ShortHelp implements help.KeyMap.
func (l *Locks) ShortHelp() []key.Binding {
	if l.Data.ShowPreflight {
		return []key.Binding{l.keys.Preflight, l.keys.Up, l.keys.Down}
	}
	b := []key.Binding{l.keys.Cancel, l.keys.Terminate, l.keys.Tag, l.keys.TagRoots, l.keys.Tree, l.keys.Target, l.keys.Detail}
	if l.Data.Preflight != nil {
		b = append(b, l.keys.Preflight)
	}
	return b
}

// FullHelp implements help.KeyMap.
func (l *Locks) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{l.keys.Cancel, l.keys.Terminate, l.keys.Tag, l.keys.TagRoots},
		{l.keys.Tree, l.keys.Target, l.keys.Detail, l.keys.Copy, l.keys.Preflight},
		{l.keys.Up, l.keys.Down, l.keys.PageUp, l.keys.PageDown, l.keys.Top, l.keys.Bottom},
	}
}

// locksSection is which list a row belongs to.
type locksSection int

const (
	secWaiting locksSection = iota
	secTree
	secHeld
	secLong
)

// locksRow is one selectable line: a backend in one of the lists.
type locksRow struct {
	sec   locksSection
	pid   int32
	wait  *snapshot.Wait
	held  *snapshot.HeldLock
	depth int
	again bool
}

// locksRows lists the selectable lines in screen order. It is rebuilt for
// each key and frame: the lists are a few dozen rows even when the server
// has thousands of idle sessions, which are never rows.
func locksRows(t *snapshot.TargetLocks, v LocksView) []locksRow {
	var rows []locksRow
	if v.Tree {
		for _, r := range t.Tree {
			row := locksRow{sec: secTree, pid: r.PID, depth: r.Depth, again: r.Repeat}
			for i := range t.Waits {
				if t.Waits[i].PID == r.PID {
					row.wait = &t.Waits[i]
				}
			}
			rows = append(rows, row)
		}
	} else {
		for i := range t.Waits {
			rows = append(rows, locksRow{sec: secWaiting, pid: t.Waits[i].PID, wait: &t.Waits[i]})
		}
	}
	for i := range t.Held {
		rows = append(rows, locksRow{sec: secHeld, pid: t.Held[i].PID, held: &t.Held[i]})
	}
	for _, b := range t.LongRunning(v.State.LongQuery) {
		rows = append(rows, locksRow{sec: secLong, pid: b.PID})
	}
	return rows
}

// RenderLocks draws one target's waits (or blocking tree), the heavy locks
// held and the long-running queries, under a summary line. Only the rows
// that fit are formatted.
func RenderLocks(v LocksView, width, height int, th theme.Theme) string {
	if v.ShowPreflight && v.Preflight != nil {
		lines := PreflightLines(*v.Preflight, width-2, th)
		title := "3 DB locks · pre-flight"
		if off := min(v.PreflightOffset, max(len(lines)-1, 0)); off > 0 {
			title += fmt.Sprintf(" ↓%d", off)
			lines = lines[off:]
		}
		return Frame(title, v.Focused, lines, width, height, th)
	}
	if !v.Source.Configured || !v.HasData || len(v.State.Targets) == 0 {
		return RenderSource(v.Source, width, height, th)
	}
	inner, space := width-2, height-2
	title := "3 DB locks"
	if inner < 1 || space < 1 {
		return Frame(title, v.Focused, nil, width, height, th)
	}
	t := v.State.Targets[min(v.Target, len(v.State.Targets)-1)]
	var body []string
	// Frame fits every line to the box; measuring here too would double
	// the cost of the widest pane.
	add := func(s string) { body = append(body, s) }
	add(targetsLine(v, t, th))
	if v.Preflight != nil {
		add(preflightLine(v.Preflight, th))
	}
	if t.Err != nil {
		add(th.Bad.S("✕ down: " + snapshot.OneLine(t.Err.Error())))
		if !t.GoodAt.IsZero() {
			add(th.Warn.S("last read " + runbook.Short(v.Now.Sub(t.GoodAt)) + " ago, shown below; retrying"))
		}
	}
	if t.GoodAt.IsZero() {
		return Frame(title, v.Focused, body, width, height, th)
	}
	add(summaryLine(&t, v.State.LockThreshold, th))
	rows := locksRows(&t, v)
	if v.Detail && v.Cursor < len(rows) {
		body = append(body, backendDetail(&t, rows[v.Cursor].pid, v, inner, th)...)
		return Frame(title+" · pid "+strconv.Itoa(int(rows[v.Cursor].pid)), v.Focused, body, width, height, th)
	}
	if len(rows) == 0 {
		add(th.OK.S("no lock waits, no heavy locks held, no query over " + runbook.Short(v.State.LongQuery)))
		return Frame(title, v.Focused, body, width, height, th)
	}
	offset := min(v.Offset, max(len(rows)-1, 0))
	if offset > 0 {
		title += fmt.Sprintf(" ↓%d", offset)
	}
	roots := map[int32]bool{}
	for _, p := range t.RootBlockers() {
		roots[p] = true
	}
	last := locksSection(-1)
	for i := offset; i < len(rows) && len(body) < space; i++ {
		r := rows[i]
		if r.sec != last {
			last = r.sec
			add(th.Header.S(sectionTitle(r.sec, &t, v)))
			if len(body) >= space {
				break
			}
		}
		add(locksLine(&t, r, v, roots, i == v.Cursor && v.Focused, inner, th))
	}
	return Frame(title, v.Focused, body, width, height, th)
}

func targetsLine(v LocksView, t snapshot.TargetLocks, th theme.Theme) string {
	var parts []string
	for i, x := range v.State.Targets {
		mark := th.OK.S("●")
		if x.Err != nil {
			mark = th.Bad.S("✕")
		}
		name := x.Name
		if i == min(v.Target, len(v.State.Targets)-1) {
			name = th.Bold.S("[" + name + "]")
		}
		parts = append(parts, name+" "+mark)
	}
	line := strings.Join(parts, "  ")
	if t.Where != "" {
		line += th.Dim.S("  " + t.Where)
	}
	if t.Server != "" {
		line += th.Dim.S(" · PostgreSQL " + t.Server)
	}
	return line
}

func summaryLine(t *snapshot.TargetLocks, threshold time.Duration, th theme.Theme) string {
	idle, idleTx := t.Idle, 0
	for _, b := range t.Backend {
		switch {
		case b.State == "idle":
			idle++
		case b.IdleInTransaction():
			idleTx++
		}
	}
	s := fmt.Sprintf("%d backends (%d idle", len(t.Backend)+t.Idle, idle)
	if idleTx > 0 {
		s += fmt.Sprintf(", %d idle in tx", idleTx)
	}
	s += ")"
	line := th.Text.S(s)
	if len(t.Waits) == 0 {
		line += th.OK.S(" · nothing waits")
	} else {
		w := t.Waits[0].For
		line += durPaint(w, threshold, th).S(fmt.Sprintf(" · %d waiting, longest %s", len(t.Waits), runbook.Short(w)))
	}
	if len(t.Modes) > 0 {
		var ms []string
		for _, m := range t.Modes {
			c := fmt.Sprintf("%s %d", strings.TrimSuffix(m.Mode, "Lock"), m.Granted)
			if m.Waiting > 0 {
				c += fmt.Sprintf("+%d waiting", m.Waiting)
			}
			ms = append(ms, c)
		}
		line += th.Dim.S(" · locks " + strings.Join(ms, ", "))
	}
	return line
}

func sectionTitle(s locksSection, t *snapshot.TargetLocks, v LocksView) string {
	switch s {
	case secWaiting:
		return fmt.Sprintf("waiting (%d), longest first · v: tree", len(t.Waits))
	case secTree:
		return "blocking tree, root blockers first · v: list"
	case secHeld:
		return fmt.Sprintf("heavy locks held (%d)", len(t.Held))
	}
	return "long-running (over " + runbook.Short(v.State.LongQuery) + ")"
}

// durPaint colours a wait or hold by the threshold the seed sets (30 s):
// amber from half of it, red from it.
func durPaint(d, threshold time.Duration, th theme.Theme) theme.Paint {
	switch {
	case threshold > 0 && d >= threshold:
		return th.Bad
	case threshold > 0 && d >= threshold/2:
		return th.Warn
	}
	return th.Text
}

// who names a backend the way the huddle knows it: its pod when the
// rollout source knows one, else its application and address.
func who(b snapshot.Backend, pods map[string]string) string {
	if p := pods[b.Application]; p != "" {
		return "pod " + p
	}
	if p := pods[b.ClientAddr]; p != "" {
		return "pod " + p
	}
	switch {
	case b.Application != "":
		return b.Application
	case b.ClientAddr != "":
		return b.User + "@" + b.ClientAddr
	}
	return b.User
}

func locksLine(t *snapshot.TargetLocks, r locksRow, v LocksView, roots map[int32]bool, selected bool, w int, th theme.Theme) string {
	b, _ := t.Find(r.pid)
	threshold := v.State.LockThreshold
	mark := "  "
	if v.Tagged[r.pid] {
		mark = th.Warn.S("✓ ")
	}
	if selected {
		mark = th.Selected.S("▸ ")
		if v.Tagged[r.pid] {
			mark = th.Selected.S("▸") + th.Warn.S("✓")
		}
	}
	q := th.Dim.S(snapshot.QueryLine(b.Query, w))
	pid := fmt.Sprintf("%-7d", r.pid)
	switch r.sec {
	case secWaiting:
		wt := r.wait
		blockers := make([]string, len(wt.BlockedBy))
		for i, p := range wt.BlockedBy {
			s := strconv.Itoa(int(p))
			if roots[p] {
				s = th.Bad.S(s)
			}
			blockers[i] = s
		}
		return mark + pid + durPaint(wt.For, threshold, th).S(fmt.Sprintf("%6s", runbook.Short(wt.For))) +
			" " + waitWhat(wt) + " ← " + strings.Join(blockers, ",") + "  " + who(b, v.Pods) + "  " + q
	case secTree:
		indent := strings.Repeat("  ", r.depth)
		if r.depth > 0 {
			indent = strings.Repeat("  ", r.depth-1) + "└ "
		}
		line := mark + indent + pid
		switch {
		case r.again:
			return line + th.Dim.S("(also shown above)")
		case r.wait != nil:
			line += durPaint(r.wait.For, threshold, th).S("waits "+runbook.Short(r.wait.For)) + " " + waitWhat(r.wait)
		default:
			line += th.Bad.S("root") + " " + stateOf(b, t.At, threshold, th)
		}
		return line + "  " + who(b, v.Pods) + "  " + q
	case secHeld:
		h := r.held
		waiting := ""
		if h.Waiters > 0 {
			waiting = th.Bad.S(fmt.Sprintf("  %d waiting", h.Waiters))
		}
		return mark + pid + durPaint(h.For, threshold, th).S(fmt.Sprintf("%6s", runbook.Short(h.For))) + " " +
			strings.TrimSuffix(h.Mode, "Lock") + " " + h.Relation + waiting + "  " + who(b, v.Pods) + "  " + stateOf(b, t.At, threshold, th) + "  " + q
	}
	return mark + pid + stateOf(b, t.At, threshold, th) + "  " + who(b, v.Pods) + "  " + q
}

func waitWhat(w *snapshot.Wait) string {
	mode := strings.TrimSuffix(w.Mode, "Lock")
	if w.Relation != "" {
		return mode + " " + w.Relation
	}
	if w.LockType != "" {
		return mode + " " + w.LockType
	}
	return mode
}

// stateOf says what a backend is doing, flagging the sessions that hold
// locks while doing nothing.
func stateOf(b snapshot.Backend, now time.Time, threshold time.Duration, th theme.Theme) string {
	if b.IdleInTransaction() {
		return th.Bad.S("idle in tx " + runbook.Short(b.XactAge(now)))
	}
	if b.State == "active" {
		return durPaint(b.QueryAge(now), threshold, th).S("active " + runbook.Short(b.QueryAge(now)))
	}
	return b.State
}

// backendDetail is the selected backend in full, query wrapped.
func backendDetail(t *snapshot.TargetLocks, pid int32, v LocksView, w int, th theme.Theme) []string {
	b, ok := t.Find(pid)
	if !ok {
		return []string{th.Dim.S(fmt.Sprintf("pid %d is gone", pid))}
	}
	field := func(k, val string) string { return Trunc(th.Dim.S(fmt.Sprintf("%-12s", k))+val, w) }
	lines := []string{
		field("who", fmt.Sprintf("%s  user %s  db %s  %s", who(b, v.Pods), b.User, b.Database, b.ClientAddr)),
		field("state", stateOf(b, t.At, v.State.LockThreshold, th)+"  "+strings.TrimSpace(b.WaitEventType+" "+b.WaitEvent)),
		field("transaction", runbook.Short(b.XactAge(t.At))),
		field("query", runbook.Short(b.QueryAge(t.At))),
	}
	if len(b.BlockedBy) > 0 {
		lines = append(lines, field("blocked by", fmt.Sprint(b.BlockedBy)+"  roots "+fmt.Sprint(t.RootsOf(pid))))
	}
	if b.Blocks > 0 {
		lines = append(lines, field("blocks", strconv.Itoa(b.Blocks)+" directly"))
	}
	lines = append(lines, th.Dim.S("y copies the query · esc back"))
	for _, l := range Wrap(snapshot.Printable(b.Query), w) {
		lines = append(lines, th.Text.S(l))
	}
	return lines
}
