package sources_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

func boardSource(t testing.TB, o jirastub.Options) (*jirastub.Server, *sources.BoardSource) {
	t.Helper()
	srv, j := jiraStub(t, o, config.JiraCloud)
	g := seedRepo(t)
	return srv, &sources.BoardSource{Jira: j, Git: g, Target: snapshot.ReleaseTarget{FixVersion: jirastub.CurrentRelease}, Client: sources.NewJiraClient(j)}
}

var seededFlag = map[string]snapshot.FlagKind{
	"ACME-35": snapshot.FlagMerged,
	"ACME-22": snapshot.FlagUnmerged,
	"ACME-16": snapshot.FlagBlocker,
	"ACME-15": snapshot.FlagRelease,
}

// The seed's deliberate mistakes, and nothing else, are flagged.
func TestBoardFlagsExactlyTheSeededInconsistencies(t *testing.T) {
	_, src := boardSource(t, jirastub.Options{})
	b, err := src.Read(jiraCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if b.GitErr != nil || b.Git == nil || b.MergeUnchecked {
		t.Fatalf("git not read: %v", b.GitErr)
	}
	var names []string
	for _, c := range b.Columns {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, jirastub.Columns()) || b.Cards() != 40 {
		t.Fatalf("columns %v with %d cards", names, b.Cards())
	}
	want := map[string]jirastub.Inconsistency{}
	for _, inc := range jirastub.Inconsistencies(jiraProject) {
		want[inc.Key] = inc
	}
	flagged := b.Flagged()
	for _, f := range flagged {
		inc, ok := want[f.Card.Key]
		if !ok {
			t.Errorf("%s in %s flagged but consistent: %+v", f.Card.Key, f.Column, f.Card.Flags)
			continue
		}
		if f.Column != inc.Column {
			t.Errorf("%s flagged in %s, seeded in %s", f.Card.Key, f.Column, inc.Column)
		}
		if len(f.Card.Flags) != 1 || f.Card.Flags[0].Kind != seededFlag[f.Card.Key] {
			t.Errorf("%s (%s) flags %+v, want one %s flag", f.Card.Key, inc.What, f.Card.Flags, seededFlag[f.Card.Key])
		}
		delete(want, f.Card.Key)
	}
	for k, inc := range want {
		t.Errorf("%s not flagged: %s", k, inc.What)
	}
	texts := map[string]string{}
	for _, f := range flagged {
		texts[f.Card.Key] = f.Card.Flags[0].Text
	}
	for key, text := range map[string]string{
		"ACME-35": "already merged to master",
		"ACME-22": "not merged to staging (only on master)",
		"ACME-16": "blocker: priority Blocker, label blocker",
		"ACME-15": "fix version 2026.11.08, want 2026.11.22",
	} {
		if texts[key] != text {
			t.Errorf("%s says %q, want %q", key, texts[key], text)
		}
	}
	if s := b.Summary(); s != "4 of 40 cards need attention: 1 already merged, 1 not merged, 1 wrong fix version, 1 blocker" {
		t.Errorf("summary %q", s)
	}
	f := b.Facts()["jira.columns_clean"]
	if !f.Known || f.Bool || !strings.HasPrefix(f.Detail, "4 of 40 cards flagged: ") {
		t.Errorf("jira.columns_clean = %+v", f)
	}
	if _, ok := b.Facts()["git.branches_in_sync"]; !ok {
		t.Error("a board read with git should carry git.branches_in_sync")
	}
}

func TestBoardCleanAfterFixingTheSeed(t *testing.T) {
	seed := jirastub.DefaultSeed(jiraProject)
	for i := range seed {
		switch seed[i].Key {
		case "ACME-35":
			seed[i].Status = jirastub.StatusMergedToMaster
			seed[i].FixVersions = []string{jirastub.CurrentRelease}
		case "ACME-22":
			seed[i].Status = jirastub.StatusMergedToMaster
		case "ACME-16":
			seed[i].Priority, seed[i].Labels = "Major", []string{"billing"}
		case "ACME-15":
			seed[i].FixVersions = []string{jirastub.CurrentRelease}
		}
	}
	_, src := boardSource(t, jirastub.Options{Issues: seed})
	b, err := src.Read(jiraCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if fl := b.Flagged(); len(fl) != 0 {
		t.Fatalf("flagged on a consistent board: %+v", fl)
	}
	if f := b.Facts()["jira.columns_clean"]; !f.Known || !f.Bool || f.Detail != "40 cards clean" {
		t.Errorf("jira.columns_clean = %+v", f)
	}
}

func ruleConfig() *config.Jira {
	return &config.Jira{
		Board: 1, BlockerLabels: []string{"blocker"}, BlockerPriorities: []string{"Blocker", "Highest"},
		Columns: []config.JiraColumn{
			{Name: "Review", NotMergedTo: "master"},
			{Name: "Ready", MergedTo: "staging", CheckRelease: true, NoBlockers: true},
			{Name: "Archive"},
		},
	}
}

var ruleBoard = snapshot.JiraBoardConfig{ID: 1, Name: "B", Columns: []snapshot.JiraBoardColumn{
	{Name: "Review", StatusIDs: []string{"1"}}, {Name: "Ready", StatusIDs: []string{"2", "3"}}, {Name: "Done", StatusIDs: []string{"4"}},
}}

func TestBuildBoardRules(t *testing.T) {
	git := &snapshot.GitInfo{Remote: "origin", Branches: []snapshot.GitBranch{
		{Name: "master", Keys: map[string]bool{"X-1": true, "X-2": true, "X-3": true}},
		{Name: "staging", Keys: map[string]bool{"X-2": true}},
	}}
	sprint := func(name, state string) []snapshot.JiraSprint {
		return []snapshot.JiraSprint{{Name: name, State: state}}
	}
	issues := []snapshot.JiraIssue{
		{Key: "X-1", StatusID: "1", Status: "In Review"},                                                                           // merged, must not be
		{Key: "X-9", StatusID: "1", Status: "In Review"},                                                                           // fine
		{Key: "X-2", StatusID: "3", FixVersions: []string{"R1"}, Sprints: sprint("S1", "active")},                                  // fine
		{Key: "X-3", StatusID: "2", FixVersions: []string{"R0"}, Sprints: sprint("S0", "closed"), Labels: []string{"BLOCKER"}},     // four flags
		{Key: "X-4", StatusID: "2", Priority: "highest", Sprints: append(sprint("S0", "closed"), sprint("S1", "active")...)},       // carried over: sprint fine
		{Key: "X-5", StatusID: "", Status: "", Missing: []string{"status"}},                                                        // no status: on no column
		{Key: "X-6", StatusID: "99", Status: "Elsewhere"},                                                                          // not on the board
		{Key: "X-7", StatusID: "4", Status: "Done", FixVersions: []string{"R0"}, Priority: "Blocker", Labels: []string{"blocker"}}, // no rules
		{Key: "X-8", StatusID: "2", Sprints: sprint("S1", "active"), Missing: []string{"fixVersions", "labels"}},                   // rules it cannot check
	}
	b := snapshot.BuildBoard(sources.BoardRules(ruleConfig()), snapshot.ReleaseTarget{FixVersion: "r1"}, ruleBoard, issues, git, time.Time{})
	got := map[string][]string{}
	for _, f := range b.Flagged() {
		for _, fl := range f.Card.Flags {
			got[f.Card.Key] = append(got[f.Card.Key], fl.Text)
		}
	}
	want := map[string][]string{
		"X-1": {"already merged to master"},
		"X-3": {"not merged to staging (only on master)", "fix version R0, want r1", "only in closed sprint S0", "blocker: label BLOCKER"},
		"X-4": {"not merged to staging (on no deploy branch)", "no fix version, want r1", "blocker: priority highest"},
		"X-8": {"not merged to staging (on no deploy branch)", "fix version not checked: Jira's answer has no fix versions for it", "blockers not fully checked: Jira's answer has no labels for it"},
	}
	if len(got) != len(want) {
		t.Errorf("flagged %v, want %v", got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if c, ok := b.Column("done"); !ok || len(c.Cards) != 1 {
		t.Errorf("Done holds %+v, want X-7 alone", c.Cards)
	}
	for _, k := range []string{"X-5", "X-6"} {
		if _, _, ok := b.Find(k); ok {
			t.Errorf("%s placed in a column though its status is none of the board's", k)
		}
	}
	if len(b.Unplaced) != 2 || b.Unplaced[0].Key != "X-5" || b.Unplaced[1].Key != "X-6" {
		t.Errorf("unplaced %+v, want X-5 and X-6 counted", b.Unplaced)
	}
	if len(b.Problems) != 2 || !strings.Contains(b.Problems[0], `"Archive"`) ||
		b.Problems[1] != "2 issues on no column, rules not checked: X-5 (Jira's answer has no status for it), X-6 (its status Elsewhere (99) is on no column)" {
		t.Errorf("problems %q, want the config column missing from the board and the issues on no column", b.Problems)
	}

	// A configured sprint is checked by name.
	b = snapshot.BuildBoard(sources.BoardRules(ruleConfig()), snapshot.ReleaseTarget{Sprint: "S2"}, ruleBoard, issues[2:3], git, time.Time{})
	if fl := b.Flagged(); len(fl) != 1 || fl[0].Card.Flags[0].Text != "sprint S1, want S2" {
		t.Errorf("flagged %+v", fl)
	}
}

func TestBoardGateUnknownWithoutGit(t *testing.T) {
	issues := []snapshot.JiraIssue{{Key: "X-1", StatusID: "1"}}
	b := snapshot.BuildBoard(sources.BoardRules(ruleConfig()), snapshot.ReleaseTarget{}, ruleBoard, issues, nil, time.Time{})
	if !b.MergeUnchecked {
		t.Fatal("merge rules without git data must be marked unchecked")
	}
	if f := b.Facts()["jira.columns_clean"]; f.Known || !strings.Contains(f.Detail, "no [git] section") {
		t.Errorf("jira.columns_clean = %+v, want unknown", f)
	}
	git := &snapshot.GitInfo{Branches: []snapshot.GitBranch{{Name: "master", Keys: map[string]bool{}}, {Name: "staging", Keys: map[string]bool{}}}}
	b = snapshot.BuildBoard(sources.BoardRules(ruleConfig()), snapshot.ReleaseTarget{}, ruleBoard, issues, git, time.Time{})
	b.GitErr = errors.New("not a git repository")
	if f := b.Facts()["jira.columns_clean"]; f.Known || !strings.Contains(f.Detail, "not a git repository") {
		t.Errorf("jira.columns_clean with stale git = %+v, want unknown", f)
	}
	if _, ok := b.Facts()["git.branches_in_sync"]; ok {
		t.Error("a failed git reading must not publish git facts")
	}
}

func transitionsFrom(t *testing.T, c *sources.JiraClient) func(string) ([]sources.JiraTransition, error) {
	return func(key string) ([]sources.JiraTransition, error) { return c.Transitions(jiraCtx(t), key) }
}

func TestPlanMovesAgainstTheStandIn(t *testing.T) {
	_, src := boardSource(t, jirastub.Options{})
	b, err := src.Read(jiraCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	plans := sources.PlanMoves(b, src.Jira.Moves, transitionsFrom(t, src.Client))
	if len(plans) != 2 {
		t.Fatalf("%d plans", len(plans))
	}
	count := map[string]int{}
	for _, p := range plans {
		for _, s := range p.Steps {
			count[p.To]++
			wantID := map[string]string{"Production": "71", "Staging": "41"}[p.To]
			if s.Problem != "" || s.TransitionID != wantID || s.To != p.To {
				t.Errorf("%s: %+v, want transition %s", s.Key, s, wantID)
			}
		}
	}
	// Staging 6 + QA Hold 4 + Testing For Production 5; Merged to Master 6.
	if count["Production"] != 15 || count["Staging"] != 6 {
		t.Errorf("planned %v", count)
	}
	if keys := sources.MoveCards(b, src.Jira.Moves); len(keys) != 21 {
		t.Errorf("MoveCards = %d keys", len(keys))
	}
}

func TestPlanMovesListsProblems(t *testing.T) {
	git := &snapshot.GitInfo{Branches: []snapshot.GitBranch{{Name: "master", Keys: map[string]bool{}}, {Name: "staging", Keys: map[string]bool{"X-2": true, "X-3": true}}}}
	issues := []snapshot.JiraIssue{{Key: "X-2", StatusID: "2", Status: "Ready"}, {Key: "X-3", StatusID: "3", Status: "Ready 2"}, {Key: "X-5", StatusID: "2"}}
	b := snapshot.BuildBoard(sources.BoardRules(ruleConfig()), snapshot.ReleaseTarget{}, ruleBoard, issues, git, time.Time{})
	trans := map[string][]sources.JiraTransition{
		"X-2": {{ID: "7", Name: "Ship", ToID: "4", ToName: "Done"}},
		"X-3": {{ID: "8", Name: "Back", ToID: "1", ToName: "Review"}},
	}
	plans := sources.PlanMoves(b, []config.JiraMove{{From: []string{"Ready"}, To: "Done"}}, func(k string) ([]sources.JiraTransition, error) {
		if k == "X-5" {
			return nil, errors.New("503 from Jira")
		}
		return trans[k], nil
	})
	steps := plans[0].Steps
	if len(steps) != 3 || plans[0].Problems() != 2 {
		t.Fatalf("steps %+v", steps)
	}
	if steps[0].TransitionID != "7" || steps[0].Problem != "" {
		t.Errorf("X-2: %+v", steps[0])
	}
	if steps[1].Problem != "no transition from Ready 2 reaches Done, which holds status 4; it offers Back → Review (1, column Review)" {
		t.Errorf("X-3: %q", steps[1].Problem)
	}
	if !strings.Contains(steps[2].Problem, "cannot read its transitions: 503 from Jira") {
		t.Errorf("X-5: %q", steps[2].Problem)
	}
	st, err := sources.PlanCardMove(b, "X-2", "Ready", nil)
	if err != nil || st.Problem != "already in Ready" {
		t.Errorf("moving a card to its own column: %+v, %v", st, err)
	}
	if _, err := sources.PlanCardMove(b, "X-404", "Done", nil); err == nil {
		t.Error("planning a card that is not on the board")
	}
}

func TestSelectMoves(t *testing.T) {
	moves := jiraSection("", config.JiraCloud).Moves
	for which, want := range map[string]int{"": 2, "0": 1, "1": 1, "production": 1, "Staging": 1} {
		got, err := sources.SelectMoves(moves, which)
		if err != nil || len(got) != want {
			t.Errorf("SelectMoves(%q) = %d moves, %v", which, len(got), err)
		}
	}
	for _, bad := range []string{"2", "-1", "QA"} {
		if _, err := sources.SelectMoves(moves, bad); err == nil {
			t.Errorf("SelectMoves(%q) accepted", bad)
		}
	}
}

type boardUpdates struct {
	mu  sync.Mutex
	got []snapshot.Update
	ch  chan struct{}
}

func (u *boardUpdates) emit(x snapshot.Update) {
	u.mu.Lock()
	u.got = append(u.got, x)
	u.mu.Unlock()
	select {
	case u.ch <- struct{}{}:
	default:
	}
}

func (u *boardUpdates) next(t *testing.T, n int) snapshot.Update {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		u.mu.Lock()
		if len(u.got) >= n {
			x := u.got[n-1]
			u.mu.Unlock()
			return x
		}
		u.mu.Unlock()
		select {
		case <-u.ch:
		case <-deadline:
			t.Fatalf("no update %d", n)
		}
	}
}

// Refresh reads at once; Jira failing keeps the last good board on screen
// with the error; git failing keeps the last good git reading inside the
// board and makes the gate unknown.
func TestBoardSourceRefreshAndFailures(t *testing.T) {
	srv, src := boardSource(t, jirastub.Options{})
	src.Jira.Poll = config.Duration(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	u := &boardUpdates{ch: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sources.Supervise(ctx, sources.Source[snapshot.Board](src), sources.DefaultBackoff, u.emit)
	}()
	defer func() { cancel(); <-done }()

	first := u.next(t, 1)
	if first.Err != nil || first.Data.(snapshot.Board).Cards() != 40 {
		t.Fatalf("first update: %+v", first.Err)
	}
	srv.SetFailure(http.StatusUnauthorized, 1)
	src.Refresh()
	down := u.next(t, 2)
	if down.Err == nil || !strings.Contains(down.Err.Error(), "401") || down.Data.(snapshot.Board).Cards() != 40 {
		t.Fatalf("after a 401: err %v, %d cards kept", down.Err, down.Data.(snapshot.Board).Cards())
	}
	srv.SetFailure(http.StatusInternalServerError, 1)
	src.Refresh()
	if x := u.next(t, 3); x.Err == nil || !strings.Contains(x.Err.Error(), "500") || x.Data.(snapshot.Board).Cards() != 40 {
		t.Fatalf("after a 500: %v", x.Err)
	}

	if err := os.Rename(src.Git.Repo, src.Git.Repo+".moved"); err != nil {
		t.Fatal(err)
	}
	src.Refresh()
	x := u.next(t, 4)
	b := x.Data.(snapshot.Board)
	if x.Err != nil || b.GitErr == nil || b.Git == nil || len(b.Flagged()) != 4 {
		t.Fatalf("with git gone: err %v, git err %v, %d flagged", x.Err, b.GitErr, len(b.Flagged()))
	}
	if f := b.Facts()["jira.columns_clean"]; f.Known {
		t.Errorf("gate known on stale git: %+v", f)
	}
}
