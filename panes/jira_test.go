package panes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// boardSettings are the sandbox's [jira] section as the pane is given it.
func boardSettings() JiraSettings {
	s := JiraSettings{ConfigPath: "/etc/flightdeck/acme.toml", Configured: true, Board: 12, Project: "ACME"}
	for _, c := range jirastub.ColumnRules() {
		s.Columns = append(s.Columns, snapshot.ColumnRules{Name: c.Name, MergedTo: c.MergedTo, NotMergedTo: c.NotMergedTo,
			CheckRelease: c.CheckRelease, NoBlockers: c.NoBlockers})
	}
	for _, m := range jirastub.Moves() {
		s.Moves = append(s.Moves, JiraMove{From: m.From, To: m.To})
	}
	return s
}

// boardRules are the same section's rules, as the board is checked
// against them.
func boardRules() snapshot.BoardRules {
	return snapshot.BoardRules{Board: 12, Columns: boardSettings().Columns,
		BlockerLabels: []string{"blocker"}, BlockerPriorities: []string{"Blocker", "Highest"}}
}

func issuesOf(seed []jirastub.Issue) []snapshot.JiraIssue {
	out := make([]snapshot.JiraIssue, len(seed))
	for i, is := range seed {
		state := "active"
		if is.Sprint == jirastub.PreviousSprint("ACME") {
			state = "closed"
		}
		out[i] = snapshot.JiraIssue{Key: is.Key, Summary: is.Summary, Status: is.Status, StatusID: jirastub.StatusID(is.Status),
			Priority: is.Priority, Assignee: is.Assignee, Labels: is.Labels, FixVersions: is.FixVersions,
			Sprints: []snapshot.JiraSprint{{Name: is.Sprint, State: state}}}
	}
	return out
}

// seedBoard is the sandbox board as the source builds it, with git as the
// stand-in's repository has it: merged where the column says, apart from
// the seeded mistakes.
func seedBoard(seed []jirastub.Issue, at time.Time) snapshot.Board {
	var bc snapshot.JiraBoardConfig
	bc.ID, bc.Name = 12, "ACME board"
	for _, c := range jirastub.Columns() {
		col := snapshot.JiraBoardColumn{Name: c}
		for _, st := range jirastub.ColumnStatuses(c) {
			col.StatusIDs = append(col.StatusIDs, jirastub.StatusID(st))
		}
		bc.Columns = append(bc.Columns, col)
	}
	keys := map[string]map[string]bool{"master": {}, "staging": {}, "production": {}}
	for _, is := range seed {
		var on []string
		switch jirastub.ColumnOf(is.Status) {
		case jirastub.ColumnProduction:
			on = []string{"master", "staging", "production"}
		case jirastub.ColumnStaging, jirastub.ColumnQAHold, jirastub.ColumnTestingForProd:
			on = []string{"master", "staging"}
		case jirastub.ColumnMergedToMaster:
			on = []string{"master"}
		}
		if is.Key == "ACME-35" || is.Key == "ACME-22" {
			on = []string{"master"}
		}
		for _, b := range on {
			keys[b][is.Key] = true
		}
	}
	git := &snapshot.GitInfo{Repo: "/srv/app", Remote: "origin",
		Branches: []snapshot.GitBranch{
			{Name: "master", Head: "9c4e1f2a77", Keys: keys["master"]},
			{Name: "staging", Head: "51d0be3c02", Keys: keys["staging"], Behind: 1},
			{Name: "production", Head: "e07a6b9d13", Keys: keys["production"]},
		},
		Pairs: []snapshot.GitPair{{Upper: "master", Lower: "staging", Pending: 14}, {Upper: "staging", Lower: "production", Pending: 27}},
	}
	b := snapshot.BuildBoard(boardRules(), snapshot.ReleaseTarget{FixVersion: jirastub.CurrentRelease}, bc, issuesOf(seed), git, at)
	b.GitAt = at
	return b
}

// boardFeed shows b as a good reading at now.
func boardFeed(b snapshot.Board, h snapshot.Health, now time.Time) snapshot.Feed[snapshot.Board] {
	return snapshot.Feed[snapshot.Board]{Data: b, HasData: true, Health: h, Now: now}
}

func boardPane(t testing.TB) *Jira {
	p := NewJira(boardSettings(), dark)
	p.SetFocused(true)
	p.Show(boardFeed(seedBoard(jirastub.DefaultSeed("ACME"), fixtureNow.Add(-20*time.Second)),
		snapshot.Health{Source: "jira", State: snapshot.OK}, fixtureNow))
	return p
}

func pressJira(p *Jira, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		var code rune
		switch k {
		case "right":
			code = tea.KeyRight
		case "left":
			code = tea.KeyLeft
		case "down":
			code = tea.KeyDown
		case "up":
			code = tea.KeyUp
		default:
			code = []rune(k)[0]
		}
		msg := tea.KeyPressMsg{Code: code}
		if len(k) == 1 {
			msg.Text = k
		}
		_, cmd = p.Update(msg)
	}
	return cmd
}

// onACME22 puts the cursor on the card in Staging that is not on staging.
func onACME22(t testing.TB) *Jira {
	p := boardPane(t)
	pressJira(p, "right", "right", "right", "down", "down", "down", "down")
	if v := p.ViewState(); v.Board.Columns[v.Col].Cards[v.Row].Key != "ACME-22" {
		t.Fatalf("cursor on %s", v.Board.Columns[v.Col].Cards[v.Row].Key)
	}
	return p
}

func TestRenderBoardGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderBoard(onACME22(t).ViewState(), w, 24, dark)
			assertBox(t, out, w, 24)
			golden.RequireEqual(t, out)
		})
	}
}

func TestRenderBoardShowsEveryFlag(t *testing.T) {
	p := boardPane(t)
	out := ansi.Strip(RenderBoard(p.ViewState(), 200, 60, dark))
	for _, want := range []string{
		"⚠ 4 of 40 cards need attention: 1 already merged, 1 not merged, 1 wrong fix version, 1 blocker",
		"In Progress 6 ⚠1", "Staging 6 ⚠1", "QA Hold 4 ⚠1", "Testing For Production 5 ⚠1", "Production 8",
		"✕ already merged to", "✕ not merged to staging", "✕ blocker: priority", "✕ fix version",
		"git master 9c4e1f2", "staging 51d0be3 ↓1",
		"2026.11.22 · ACME Sprint",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if n := strings.Count(out, "✕ "); n != 4 {
		t.Errorf("%d flags drawn, want the 4 seeded ones", n)
	}
}

func TestRenderBoardScrollsSideways(t *testing.T) {
	p := boardPane(t)
	out := ansi.Strip(RenderBoard(p.ViewState(), 80, 24, dark))
	if !strings.Contains(out, "In Progress") || strings.Contains(out, "Production 8") || !strings.Contains(out, "▸") {
		t.Fatalf("first columns with a marker for more:\n%s", out)
	}
	pressJira(p, "right", "right", "right", "right", "right", "right")
	out = ansi.Strip(RenderBoard(p.ViewState(), 80, 24, dark))
	if !strings.Contains(out, "Production 8") || !strings.Contains(out, "◂") || strings.Contains(out, "In Progress 6") {
		t.Fatalf("scrolled to the last column:\n%s", out)
	}
}

// The cursor's card stays on screen however far down the column it is.
func TestRenderBoardScrollsDown(t *testing.T) {
	p := boardPane(t)
	pressJira(p, "right", "right", "right", "right", "right", "right", "G")
	out := ansi.Strip(RenderBoard(p.ViewState(), 60, 14, dark))
	if !strings.Contains(out, "▸ ACME-10") || !strings.Contains(out, "↑ ") {
		t.Fatalf("last Production card not shown:\n%s", out)
	}
}

func TestRenderBoardKeepsDataWhenDown(t *testing.T) {
	p := boardPane(t)
	b := p.ViewState().Board
	b.GitErr = errors.New("git for-each-ref in /srv/app: not a git repository")
	p.Show(boardFeed(b, snapshot.Health{Source: "jira", State: snapshot.Down, Reason: "Jira at https://jira.acme.test refused the credentials (401 Unauthorized)"}, fixtureNow.Add(2*time.Minute)))
	out := ansi.Strip(RenderBoard(p.ViewState(), 120, 24, dark))
	for _, want := range []string{"✕ down: Jira at https://jira.acme.test refused the credentials (401", "showing the board from",
		"✕ git: git for-each-ref in /srv/app: not a git repository", "using data from", "ACME-35"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestJiraKeysAskTheRoot(t *testing.T) {
	p := onACME22(t)
	ask := func(keys ...string) JiraRequest {
		t.Helper()
		cmd := pressJira(p, keys...)
		if cmd == nil {
			t.Fatalf("%v asked nothing", keys)
		}
		r, ok := cmd().(JiraRequest)
		if !ok {
			t.Fatalf("%v sent %T", keys, cmd())
		}
		return r
	}
	if r := ask("M"); r != (JiraRequest{Op: JiraMoveCard, Key: "ACME-22", From: "Staging", To: "Production"}) {
		t.Errorf("M: %+v", r)
	}
	if r := ask("m"); r.Op != JiraMoveAll {
		t.Errorf("m: %+v", r)
	}
	if r := ask("f"); r.Op != JiraFetch {
		t.Errorf("f: %+v", r)
	}
	if r := ask("r"); r.Op != JiraRefresh {
		t.Errorf("r: %+v", r)
	}
	pressJira(p, "left", "left", "left", "up")
	if r := ask("M"); r.Key != "ACME-38" || r.To != "" {
		t.Errorf("M in a column no move takes from: %+v", r)
	}

	p.SetReadOnly(true)
	for _, b := range p.ShortHelp() {
		if b.Help().Key == "m" || b.Help().Key == "M" {
			if b.Enabled() {
				t.Errorf("%s enabled in read-only mode", b.Help().Key)
			}
		}
	}
	// Still sent, so the root can say why nothing happens.
	if r := ask("m"); r.Op != JiraMoveAll {
		t.Errorf("m in read-only: %+v", r)
	}
}

func TestJiraCursorFollowsTheCard(t *testing.T) {
	p := onACME22(t)
	seed := jirastub.DefaultSeed("ACME")
	for i := range seed {
		if seed[i].Key == "ACME-22" {
			seed[i].Status = jirastub.StatusProduction
		}
	}
	p.Show(boardFeed(seedBoard(seed, fixtureNow), snapshot.Health{State: snapshot.OK}, fixtureNow))
	v := p.ViewState()
	if c := v.Board.Columns[v.Col]; c.Name != "Production" || c.Cards[v.Row].Key != "ACME-22" {
		t.Errorf("cursor on %s in %s", c.Cards[v.Row].Key, c.Name)
	}
}

func TestJiraCollapsesEmptyColumns(t *testing.T) {
	seed := jirastub.DefaultSeed("ACME")
	for i := range seed {
		switch jirastub.ColumnOf(seed[i].Status) {
		case jirastub.ColumnQAHold, jirastub.ColumnTestingForProd, jirastub.ColumnCodeReview:
			seed[i].Status = jirastub.StatusProduction
		}
	}
	p := NewJira(boardSettings(), dark)
	p.Show(boardFeed(seedBoard(seed, fixtureNow), snapshot.Health{State: snapshot.OK}, fixtureNow))
	if out := ansi.Strip(RenderBoard(p.ViewState(), 200, 30, dark)); !strings.Contains(out, "QA Hold 0") {
		t.Fatalf("empty columns shown by default:\n%s", out)
	}
	pressJira(p, "e")
	out := ansi.Strip(RenderBoard(p.ViewState(), 200, 30, dark))
	if strings.Contains(out, "QA Hold 0") || !strings.Contains(out, "empty: Code Review, QA Hold, Testing For Production (e shows them)") {
		t.Fatalf("collapsed:\n%s", out)
	}
	pressJira(p, "right")
	if v := p.ViewState(); v.Board.Columns[v.Col].Name != "Merged to Master" {
		t.Errorf("right from In Progress went to %s, not past the hidden Code Review", v.Board.Columns[v.Col].Name)
	}
}

// TestJiraKeepsTheCursorOnTheSameBoard: the pane is shown its feed on
// every tick of the clock; the same board again leaves the cursor where
// the operator put it, on an empty column too.
func TestJiraKeepsTheCursorOnTheSameBoard(t *testing.T) {
	seed := jirastub.DefaultSeed("ACME")
	for i := range seed {
		if jirastub.ColumnOf(seed[i].Status) == jirastub.ColumnCodeReview {
			seed[i].Status = jirastub.StatusProduction
		}
	}
	p := NewJira(boardSettings(), dark)
	b := seedBoard(seed, fixtureNow)
	p.Show(boardFeed(b, snapshot.Health{State: snapshot.OK}, fixtureNow))
	pressJira(p, "right")
	if c := p.Data.Board.Columns[p.Data.Col]; c.Name != jirastub.ColumnCodeReview || len(c.Cards) != 0 {
		t.Fatalf("cursor on %s (%d cards), want the empty Code Review", c.Name, len(c.Cards))
	}
	p.Show(boardFeed(b, snapshot.Health{State: snapshot.OK}, fixtureNow.Add(time.Second)))
	if c := p.Data.Board.Columns[p.Data.Col]; c.Name != jirastub.ColumnCodeReview {
		t.Errorf("the same board again moved the cursor to %s", c.Name)
	}
}

func TestRenderBoardIsABoxAtEverySize(t *testing.T) {
	v := onACME22(t).ViewState()
	empty := NewJira(boardSettings(), dark)
	empty.Show(boardFeed(snapshot.Board{}, snapshot.Health{State: snapshot.OK}, fixtureNow))
	for w := 2; w <= 210; w += 13 {
		for h := 2; h <= 40; h += 5 {
			assertBox(t, RenderBoard(v, w, h, dark), w, h)
			assertBox(t, RenderBoard(empty.ViewState(), w, h, dark), w, h)
		}
	}
}

// bigBoard has n cards spread over the seven columns, a tenth of them
// flagged.
func bigBoard(n int) snapshot.Board {
	cols := jirastub.Columns()
	seed := make([]jirastub.Issue, n)
	for i := range seed {
		seed[i] = jirastub.Issue{Key: fmt.Sprintf("ACME-%d", 1000+i), Summary: fmt.Sprintf("Card %d with a summary long enough to be cut", i),
			Status: jirastub.ColumnStatus(cols[i%len(cols)]), Priority: "Major", Sprint: jirastub.CurrentSprint("ACME"), FixVersions: []string{jirastub.CurrentRelease}}
		if i%10 == 0 {
			seed[i].FixVersions = []string{jirastub.PreviousRelease}
		}
	}
	return seedBoard(seed, fixtureNow)
}

func BenchmarkRenderBoard(b *testing.B) {
	p := NewJira(boardSettings(), dark)
	p.SetFocused(true)
	p.Show(boardFeed(bigBoard(500), snapshot.Health{State: snapshot.OK}, fixtureNow))
	pressJira(p, "right", "right", "G")
	v := p.ViewState()
	if v.Board.Cards() != 500 {
		b.Fatalf("%d cards", v.Board.Cards())
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderBoard(v, 200, 50, dark)
	}
}

func TestRenderBoardNoColor(t *testing.T) {
	plain := theme.New(true, true)
	out := RenderBoard(onACME22(t).ViewState(), 120, 24, plain)
	if strings.Contains(out, "38;2;") || strings.Contains(out, "48;2;") {
		t.Fatal("NO_COLOR render contains colour codes")
	}
	if !strings.Contains(ansi.Strip(out), "▸ ACME-22") {
		t.Fatal("the cursor is invisible without colour")
	}
}
