package panes

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// JiraView is what the board pane shows.
type JiraView struct {
	Source  SourceView // connection, scope, health
	Board   snapshot.Board
	HasData bool
	Now     time.Time
	Focused bool
	// Col and Row are the cursor: an index into Board.Columns and a card
	// in that column.
	Col, Row int
	// Collapse hides the empty columns, listing them on one line instead.
	Collapse bool
}

// JiraOp is what the operator asked of the board.
type JiraOp string

const (
	JiraMoveAll  JiraOp = "move"      // every [[jira.move]]: the post-deploy moves
	JiraMoveCard JiraOp = "move-card" // the card under the cursor
	JiraFetch    JiraOp = "fetch"     // git fetch, so the merge checks see the remote
	JiraRefresh  JiraOp = "refresh"   // read the board and git again now
)

// JiraRequest asks the root to act on the board. For JiraMoveCard, Key is
// the card, From its column, and To the column of the [[jira.move]] that
// takes cards from there; To is empty when no move does, and the root says
// so.
type JiraRequest struct {
	Op            JiraOp
	Key, From, To string
}

type jiraKeys struct {
	Up, Down, Left, Right, Top, Bottom key.Binding
	Move, MoveCard, Fetch, Refresh     key.Binding
	Collapse                           key.Binding
}

// Jira is the board pane: the columns and their cards, what is merged
// where, and the post-deploy moves.
type Jira struct {
	Data     JiraView
	cursor   string // key of the card under the cursor, kept across refreshes
	moves    []JiraMove
	keys     jiraKeys
	th       theme.Theme
	readOnly bool
}

// JiraSettings are what the board pane shows of the [jira] section.
type JiraSettings struct {
	ConfigPath string // the config file, named while the section is missing
	Configured bool   // there is a [jira] section
	Board      int
	Project    string
	Columns    []snapshot.ColumnRules
	Moves      []JiraMove // the post-deploy moves, in config order
}

// JiraMove is a [[jira.move]]: every card in the From columns goes to To.
type JiraMove struct {
	From []string
	To   string
}

// NewJira is the board pane: columns, cards, and what is merged where.
func NewJira(j JiraSettings, th theme.Theme) *Jira {
	v := SourceView{Number: 4, Title: "Jira", Section: "jira", ConfigPath: j.ConfigPath,
		Explain: "the board's columns and cards, checked against git"}
	var moves []JiraMove
	if j.Configured {
		v.Configured = true
		moves = j.Moves
		v.Scope = append(v.Scope, fmt.Sprintf("board %d, project %s", j.Board, j.Project))
		for _, c := range j.Columns {
			var rules []string
			if c.MergedTo != "" {
				rules = append(rules, "merged to "+c.MergedTo)
			}
			if c.NotMergedTo != "" {
				rules = append(rules, "not merged to "+c.NotMergedTo)
			}
			if c.CheckRelease {
				rules = append(rules, "release matches")
			}
			if c.NoBlockers {
				rules = append(rules, "no blockers")
			}
			line := c.Name
			if len(rules) > 0 {
				line += ": " + strings.Join(rules, ", ")
			}
			v.Scope = append(v.Scope, line)
		}
		for _, m := range j.Moves {
			v.Scope = append(v.Scope, "after deploy: "+strings.Join(m.From, ", ")+" → "+m.To)
		}
	}
	return &Jira{Data: JiraView{Source: v}, th: th, moves: moves, keys: jiraKeys{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "card up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "card down")),
		Left:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "column left")),
		Right:    key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "column right")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first card")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last card")),
		Move:     key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "post-deploy moves")),
		MoveCard: key.NewBinding(key.WithKeys("M"), key.WithHelp("M", "move this card")),
		Fetch:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "git fetch")),
		Refresh:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Collapse: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "hide/show empty columns")),
	}}
}

// Title implements Pane.
func (p *Jira) Title() string { return "Jira" }

// SetFocused implements Pane.
func (p *Jira) SetFocused(f bool) { p.Data.Focused = f; p.Data.Source.Focused = f }

// SetTheme implements Pane.
func (p *Jira) SetTheme(th theme.Theme) { p.th = th }

// Show is how the board pane learns what to show: the board source's feed
// (the last good board when the source is down: the health says so). On a
// new reading of the board the cursor stays on the same card if it is
// still there.
func (p *Jira) Show(f snapshot.Feed[snapshot.Board]) {
	fresh := f.HasData && (!p.Data.HasData || !f.Data.At.Equal(p.Data.Board.At))
	p.Data.Board, p.Data.HasData, p.Data.Now = f.Data, f.HasData, f.Now
	p.Data.Source.Health, p.Data.Source.Reach = f.Health, f.Reach
	if fresh && p.cursor != "" {
		if ci, ri, ok := f.Data.Find(p.cursor); ok {
			p.Data.Col, p.Data.Row = ci, ri
		}
	}
	p.clamp()
}

// ViewState is what the pane shows now, for tests and the root.
func (p *Jira) ViewState() JiraView { return p.Data }

// SetReadOnly hides the keys that change the board; pressing them still
// reaches the root, which says why nothing happens.
func (p *Jira) SetReadOnly(ro bool) {
	p.readOnly = ro
	p.keys.Move.SetEnabled(!ro)
	p.keys.MoveCard.SetEnabled(!ro)
}

// visibleCols lists the columns shown, in order.
func visibleCols(v JiraView) []int {
	var out []int
	for i, c := range v.Board.Columns {
		if !v.Collapse || len(c.Cards) > 0 || i == v.Col {
			out = append(out, i)
		}
	}
	return out
}

func (p *Jira) clamp() {
	cols := p.Data.Board.Columns
	if len(cols) == 0 {
		p.Data.Col, p.Data.Row = 0, 0
		return
	}
	p.Data.Col = min(max(p.Data.Col, 0), len(cols)-1)
	p.Data.Row = min(max(p.Data.Row, 0), max(len(cols[p.Data.Col].Cards)-1, 0))
	if cards := cols[p.Data.Col].Cards; len(cards) > 0 {
		p.cursor = cards[p.Data.Row].Key
	}
}

// stepCol moves the cursor to the next shown column in direction d,
// skipping empty ones while they are collapsed.
func (p *Jira) stepCol(d int) {
	cols := p.Data.Board.Columns
	for i := p.Data.Col + d; i >= 0 && i < len(cols); i += d {
		if !p.Data.Collapse || len(cols[i].Cards) > 0 {
			p.Data.Col = i
			p.Data.Row = min(p.Data.Row, max(len(cols[i].Cards)-1, 0))
			return
		}
	}
}

// Update implements Pane.
func (p *Jira) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return p, nil
	}
	v := &p.Data
	switch {
	case key.Matches(k, p.keys.Up):
		v.Row--
	case key.Matches(k, p.keys.Down):
		v.Row++
	case key.Matches(k, p.keys.Left):
		p.stepCol(-1)
	case key.Matches(k, p.keys.Right):
		p.stepCol(1)
	case key.Matches(k, p.keys.Top):
		v.Row = 0
	case key.Matches(k, p.keys.Bottom):
		v.Row = 1 << 30
	case key.Matches(k, p.keys.Collapse):
		v.Collapse = !v.Collapse
		if v.Collapse && v.Col < len(v.Board.Columns) && len(v.Board.Columns[v.Col].Cards) == 0 {
			p.stepCol(1)
			if len(v.Board.Columns[v.Col].Cards) == 0 {
				p.stepCol(-1)
			}
		}
	case pressed(k, p.keys.Move, p.readOnly):
		return p, jiraRequest(JiraRequest{Op: JiraMoveAll})
	case pressed(k, p.keys.MoveCard, p.readOnly):
		if v.Col >= len(v.Board.Columns) || len(v.Board.Columns[v.Col].Cards) == 0 {
			return p, nil
		}
		col := v.Board.Columns[v.Col]
		req := JiraRequest{Op: JiraMoveCard, Key: col.Cards[v.Row].Key, From: col.Name}
		for _, m := range p.moves {
			if foldIn(m.From, col.Name) {
				req.To = m.To
				break
			}
		}
		return p, jiraRequest(req)
	case key.Matches(k, p.keys.Fetch):
		return p, jiraRequest(JiraRequest{Op: JiraFetch})
	case key.Matches(k, p.keys.Refresh):
		return p, jiraRequest(JiraRequest{Op: JiraRefresh})
	}
	p.clamp()
	return p, nil
}

func foldIn(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func jiraRequest(r JiraRequest) tea.Cmd { return func() tea.Msg { return r } }

// View implements Pane.
func (p *Jira) View(width, height int) string {
	return RenderBoard(p.ViewState(), width, height, p.th)
}

// ShortHelp implements help.KeyMap.
func (p *Jira) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Move, p.keys.MoveCard, p.keys.Fetch, p.keys.Left, p.keys.Right}
}

// FullHelp implements help.KeyMap.
func (p *Jira) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{p.keys.Move, p.keys.MoveCard, p.keys.Fetch, p.keys.Refresh, p.keys.Collapse},
		{p.keys.Up, p.keys.Down, p.keys.Left, p.keys.Right, p.keys.Top, p.keys.Bottom},
	}
}

// jiraMinCol is the narrowest a column is drawn: a key, a few words of
// summary and a flag still fit.
const jiraMinCol = 26

// boardCell is a piece of a line and its width in terminal cells, measured once:
// measuring is most of what drawing a large board costs.
type boardCell struct {
	s string
	w int
}

// fitCell truncates s to at most w cells and says how wide it came out.
func fitCell(s string, w int) boardCell {
	if w <= 0 {
		return boardCell{}
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	return boardCell{s, sw}
}

var boardBlanks = strings.Repeat(" ", 256)

// pad writes c padded with spaces to exactly w cells.
func (c boardCell) pad(b *strings.Builder, w int) {
	b.WriteString(c.s)
	for n := w - c.w; n > 0; n -= len(boardBlanks) {
		b.WriteString(boardBlanks[:min(n, len(boardBlanks))])
	}
}

// boardSeg is plain text and the paint it is drawn in.
type boardSeg struct {
	p theme.Paint
	s string
}

// plainWidth is the width of unpainted text. Card text is nearly always
// printable ASCII, one boardCell per byte, and grapheme segmentation is most of
// the cost of a frame; anything else is measured properly.
func plainWidth(s string) int {
	if printableASCII(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cellOf paints segs one after the other, cutting with "…" where they would
// pass w cells. Widths come from the plain text, before any paint.
func cellOf(w int, segs ...boardSeg) boardCell {
	if w <= 0 {
		return boardCell{}
	}
	var b strings.Builder
	used := 0
	for _, sg := range segs {
		sw := plainWidth(sg.s)
		if used+sw <= w {
			b.WriteString(sg.p.S(sg.s))
			used += sw
			continue
		}
		if room := w - used; printableASCII(sg.s) && room >= 1 {
			b.WriteString(sg.p.S(sg.s[:room-1] + "…"))
			return boardCell{b.String(), w}
		}
		t := ansi.Truncate(sg.s, w-used, "…")
		b.WriteString(sg.p.S(t))
		return boardCell{b.String(), used + plainWidth(t)}
	}
	return boardCell{b.String(), used}
}

// RenderBoard draws the board as a kanban: a summary of what needs
// attention, git's view of the deploy branches, then as many columns as fit,
// scrolling sideways to keep the cursor's column in view. Only the cards
// that fit are built, so a board of hundreds costs what the screen shows.
func RenderBoard(v JiraView, width, height int, th theme.Theme) string {
	if !v.Source.Configured || !v.HasData {
		return RenderSource(v.Source, width, height, th)
	}
	inner, rows := width-2, height-2
	title := "4 Jira"
	if v.Board.Name != "" {
		title += " · " + v.Board.Name
	}
	if inner < 1 || rows < 1 {
		return Frame(title, v.Focused, nil, width, height, th)
	}
	var head []boardCell
	add := func(s string) { head = append(head, fitCell(s, inner)) }
	if h := v.Source.Health; h.State != snapshot.OK && h.State != snapshot.Waiting {
		add(HealthMark(h, th) + th.Dim.S(" · showing the board from "+runbook.Short(v.Now.Sub(v.Board.At))+" ago"))
	}
	b := v.Board
	flagged := 0
	for _, c := range b.Columns {
		for _, card := range c.Cards {
			if len(card.Flags) > 0 {
				flagged++
			}
		}
	}
	if flagged == 0 && !b.MergeUnchecked {
		add(th.OK.S("✓ " + b.Summary()))
	} else {
		add(th.Warn.S("⚠ " + b.Summary()))
	}
	if line := gitLine(b, v.Now, th); line != "" {
		add(line)
	}
	for _, pr := range b.Problems {
		add(th.Warn.S("⚠ " + pr))
	}
	if len(b.Columns) == 0 {
		add(th.Dim.S("the board has no columns"))
	}
	vis := visibleCols(v)
	if v.Collapse {
		var empty []string
		for _, c := range b.Columns {
			if len(c.Cards) == 0 {
				empty = append(empty, c.Name)
			}
		}
		if len(empty) > 0 {
			add(th.Dim.S("empty: " + strings.Join(empty, ", ") + " (e shows them)"))
		}
	}
	avail := rows - len(head)
	var cols [][]boardCell
	var widths []int
	if avail >= 3 && len(vis) > 0 {
		// Fit as many columns as the width allows and scroll so the
		// cursor's column is among them.
		k := min(max(1, (inner+1)/(jiraMinCol+1)), len(vis))
		cur := 0
		for i, c := range vis {
			if c == v.Col {
				cur = i
			}
		}
		off := max(cur-k+1, 0)
		colW := (inner - (k - 1)) / k
		widths = make([]int, k)
		for i := range widths {
			widths[i] = colW
		}
		widths[k-1] = inner - (k-1)*(colW+1)
		cols = make([][]boardCell, k)
		for i, ci := range vis[off : off+k] {
			cols[i] = renderColumn(b.Columns[ci], ci == v.Col, v.Row, v.Focused, widths[i], avail, i == 0 && off > 0, i == k-1 && off+k < len(vis), th)
		}
	}

	// Every line is built to exactly inner cells here, so the frame is put
	// around it without measuring again.
	border := Frame(title, v.Focused, nil, width, 2, th)
	top, bottom, _ := strings.Cut(border, "\n")
	side := th.Border.S("│")
	if v.Focused {
		side = th.BorderFocus.S("│")
	}
	sep := th.Border.S("│")
	var out strings.Builder
	out.Grow((width + 24) * height * 2)
	out.WriteString(top)
	for r := range rows {
		out.WriteByte('\n')
		out.WriteString(side)
		switch {
		case r < len(head):
			head[r].pad(&out, inner)
		case cols != nil:
			row := r - len(head)
			for i := range cols {
				if i > 0 {
					out.WriteString(sep)
				}
				if row < len(cols[i]) {
					cols[i][row].pad(&out, widths[i])
				} else {
					boardCell{}.pad(&out, widths[i])
				}
			}
		default:
			boardCell{}.pad(&out, inner)
		}
		out.WriteString(side)
	}
	out.WriteByte('\n')
	out.WriteString(bottom)
	return out.String()
}

// gitLine sums up the deploy branches: how much each would take to the
// next, and anything out of step with the remote. A failed reading says so
// and how old the data is.
func gitLine(b snapshot.Board, now time.Time, th theme.Theme) string {
	if b.GitErr != nil {
		age := ""
		if b.Git != nil && !b.GitAt.IsZero() {
			age = " (using data from " + runbook.Short(now.Sub(b.GitAt)) + " ago)"
		}
		return th.Bad.S("✕ git: "+snapshot.OneLine(b.GitErr.Error())) + th.Dim.S(age)
	}
	g := b.Git
	if g == nil {
		return ""
	}
	var parts []string
	for i, br := range g.Branches {
		s := br.Name + " " + shortID(br.Head)
		if br.Ahead > 0 {
			s += fmt.Sprintf(" ↑%d", br.Ahead)
		}
		if br.Behind > 0 {
			s += fmt.Sprintf(" ↓%d", br.Behind)
		}
		if i < len(g.Pairs) {
			pr := g.Pairs[i]
			s += th.Dim.S(fmt.Sprintf(" →%d→", pr.Pending))
			if pr.Unmerged > 0 {
				s += th.Warn.S(fmt.Sprintf(" (%d not merged back)", pr.Unmerged))
			}
		}
		parts = append(parts, s)
	}
	return th.Dim.S("git ") + strings.Join(parts, " ")
}

func shortID(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return id
}

// cardHeight is how many lines cardLines draws for c, without drawing it.
func cardHeight(c snapshot.Card, w int) int {
	n := 2
	if len(c.FixVersions) > 0 || c.Sprint != "" {
		n++
	}
	for _, f := range c.Flags {
		n += len(Wrap("✕ "+f.Text, max(w-4, 8)))
	}
	return n
}

// cardLines draws one card: its key (and priority), summary, fix version
// and sprint, and each broken rule.
func cardLines(dst []boardCell, c snapshot.Card, selected bool, w int, th theme.Theme) []boardCell {
	switch {
	case selected:
		text := "▸ " + c.Key
		if c.Priority != "" {
			text += " " + c.Priority
		}
		if n := w - plainWidth(text); n > 0 {
			text += strings.Repeat(" ", n)
		}
		dst = append(dst, cellOf(w, boardSeg{th.Selected, text}))
	case len(c.Flags) > 0:
		dst = append(dst, cellOf(w, boardSeg{th.Bad, "⚠ " + c.Key}, boardSeg{th.Dim, " " + c.Priority}))
	default:
		dst = append(dst, cellOf(w, boardSeg{th.Text, "  "}, boardSeg{th.Bold, c.Key}, boardSeg{th.Dim, " " + c.Priority}))
	}
	dst = append(dst, cellOf(w, boardSeg{th.Text, "  " + c.Summary}))
	switch {
	case len(c.FixVersions) > 0 && c.Sprint != "":
		dst = append(dst, cellOf(w, boardSeg{th.Dim, "  " + strings.Join(c.FixVersions, ",") + " · " + c.Sprint}))
	case len(c.FixVersions) > 0:
		dst = append(dst, cellOf(w, boardSeg{th.Dim, "  " + strings.Join(c.FixVersions, ",")}))
	case c.Sprint != "":
		dst = append(dst, cellOf(w, boardSeg{th.Dim, "  " + c.Sprint}))
	}
	// Flags are why the card is on screen at all: wrapped, never cut.
	for _, f := range c.Flags {
		for i, l := range Wrap("✕ "+f.Text, max(w-4, 8)) {
			indent := "  "
			if i > 0 {
				indent = "    "
			}
			dst = append(dst, cellOf(w, boardSeg{th.Text, indent}, boardSeg{th.Bad, l}))
		}
	}
	return dst
}

// renderColumn draws a column's header and as many cards as fit in rows
// lines, scrolled so the cursor's card is whole on screen.
func renderColumn(col snapshot.BoardColumn, current bool, row int, focused bool, w, rows int, moreLeft, moreRight bool, th theme.Theme) []boardCell {
	flagged := 0
	for _, c := range col.Cards {
		if len(c.Flags) > 0 {
			flagged++
		}
	}
	name := col.Name
	if moreLeft {
		name = "◂ " + name
	}
	head := th.Header.S(name) + th.Dim.S(fmt.Sprintf(" %d", len(col.Cards)))
	if current && focused {
		head = th.TitleFocus.S(name) + th.Dim.S(fmt.Sprintf(" %d", len(col.Cards)))
	}
	if flagged > 0 {
		head += th.Bad.S(fmt.Sprintf(" ⚠%d", flagged))
	}
	if moreRight {
		head = Fit(head, w-2) + th.Dim.S(" ▸")
	}
	out := make([]boardCell, 0, rows)
	out = append(out, fitCell(head, w), boardCell{th.Border.S(strings.Repeat("─", max(w, 0))), max(w, 0)})
	room := rows - len(out)
	if len(col.Cards) == 0 {
		return append(out, cellOf(w, boardSeg{th.Dim, "  empty"}))
	}
	sel := -1
	if current {
		sel = row
	}
	// Start at the first card unless that would push the cursor's card
	// off the bottom; then start as late as needed, counting back from it
	// and keeping a line for each "more" marker.
	start := 0
	if sel > 0 {
		start = sel
		used := cardHeight(col.Cards[sel], w) + 1
		for i := sel - 1; i >= 0; i-- {
			h := cardHeight(col.Cards[i], w) + 1
			if used+h > room-2 {
				break
			}
			used += h
			start = i
		}
	}
	if start > 0 {
		out = append(out, cellOf(w, boardSeg{th.Dim, fmt.Sprintf("  ↑ %d more", start)}))
	}
	for i := start; i < len(col.Cards); i++ {
		h := cardHeight(col.Cards[i], w)
		last := i+1 == len(col.Cards)
		if !last && len(out)+h+1 > rows-1 || last && len(out)+h > rows {
			if len(out) < rows {
				out = append(out, cellOf(w, boardSeg{th.Dim, fmt.Sprintf("  ↓ %d more", len(col.Cards)-i)}))
			}
			break
		}
		out = cardLines(out, col.Cards[i], i == sel && focused, w, th)
		if !last {
			out = append(out, boardCell{})
		}
	}
	return out
}
