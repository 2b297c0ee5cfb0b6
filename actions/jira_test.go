//go:build unix

package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
)

const (
	moveEmail = "deployer@acme.test"
	moveToken = "move-token-4410"
)

// jiraFront wraps the stand-in to count the transitions posted and, once
// armed, to make the stand-in fail the requests after the first post.
type jiraFront struct {
	srv     *jirastub.Server
	posts   atomic.Int64
	failOn  atomic.Int64 // HTTP status to arm on the first post; 0 = none
	failN   int
	armOnce sync.Once
}

func (f *jiraFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/transitions") {
		f.posts.Add(1)
		if code := int(f.failOn.Load()); code != 0 {
			f.armOnce.Do(func() { f.srv.SetFailure(code, f.failN) })
		}
	}
	f.srv.Handler().ServeHTTP(w, r)
}

func moveStub(t *testing.T, o jirastub.Options) (*jiraFront, *config.Jira) {
	t.Helper()
	o.Email, o.Token, o.BoardID, o.Project = moveEmail, moveToken, 12, "ACME"
	f := &jiraFront{srv: jirastub.New(o)}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return f, &config.Jira{
		URL: ts.URL, Flavor: config.JiraCloud, Email: moveEmail, Token: config.ResolvedSecret("env:JIRA_TOKEN", moveToken),
		Board: 12, Project: "ACME",
		Columns: []config.JiraColumn{
			{Name: "In Progress"}, {Name: "Code Review"}, {Name: "Merged to Master"}, {Name: "Staging"},
			{Name: "QA Hold"}, {Name: "Testing For Production"}, {Name: "Production"},
		},
		Moves: []config.JiraMove{
			{From: []string{"Staging", "QA Hold", "Testing For Production"}, To: "Production"},
			{From: []string{"Merged to Master"}, To: "Staging"},
		},
	}
}

func moveCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func statusCounts(s *jirastub.Server) map[string]int {
	out := map[string]int{}
	for _, is := range s.Issues() {
		out[is.Status]++
	}
	return out
}

func statusOf(s *jirastub.Server, key string) string {
	for _, is := range s.Issues() {
		if is.Key == key {
			return is.Status
		}
	}
	return ""
}

func moveResults(t *testing.T, data []byte) []actions.JiraMoveResult {
	t.Helper()
	var out []actions.JiraMoveResult
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("detail %s: %v", data, err)
	}
	return out
}

func resultRecords(recs []journal.Record) []journal.Record {
	var out []journal.Record
	for _, r := range recs {
		if r.Type == runbook.RecResult && r.Kind == actions.KindJiraMove {
			out = append(out, r)
		}
	}
	return out
}

func TestJiraMoveAppliedThenRerunMovesNothing(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	ctx := moveCtx(t)
	a, err := actions.NewJiraMove(j, "", "post/jira")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Dangerous() || a.Kind() != "jira.move" {
		t.Fatal("jira.move must be dangerous")
	}
	p, err := a.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 21 || !strings.HasSuffix(p.Title, "(21 cards)") {
		t.Fatalf("preview %q with %d lines:\n%s", p.Title, len(p.Lines), strings.Join(p.Lines, "\n"))
	}
	for _, want := range []string{
		`ACME-12 Testing For Production → Production via "Production" (transition 71): Add appointment reminders`,
		`ACME-23 Merged to Master → Staging via "Staging" (transition 41): Multi-location stock transfers`,
	} {
		if !strings.Contains(strings.Join(p.Lines, "\n"), want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	if front.posts.Load() != 0 {
		t.Fatal("the preview moved cards")
	}

	jr := openJournal(t)
	r := &actions.Runner{Journal: jr, By: "ana"}
	out := r.Execute(ctx, "m1", a, "post-deploy moves", time.Minute)
	if out.Err != nil || !out.Result.OK {
		t.Fatalf("run: %v (%s)", out.Err, out.Result.Summary)
	}
	if out.Result.Summary != "moved 21/21 cards: 15 to Production, 6 to Staging" {
		t.Errorf("summary %q", out.Result.Summary)
	}
	counts := statusCounts(front.srv)
	if counts[jirastub.StatusProduction] != 23 || counts[jirastub.StatusStaging] != 6 || counts[jirastub.StatusMergedToMaster] != 0 ||
		counts[jirastub.StatusQAHold] != 0 || counts[jirastub.StatusTestingForProd] != 0 {
		t.Fatalf("board after the move: %v", counts)
	}
	if statusOf(front.srv, "ACME-23") != jirastub.StatusStaging || statusOf(front.srv, "ACME-16") != jirastub.StatusProduction {
		t.Error("cards did not follow their moves")
	}
	recs := resultRecords(records(t, jr))
	if len(recs) != 1 {
		t.Fatalf("%d result records", len(recs))
	}
	res := moveResults(t, recs[0].Data)
	if len(res) != 21 {
		t.Fatalf("journal lists %d cards", len(res))
	}
	for _, c := range res {
		if !c.OK || c.Transition == "" || c.From == "" || c.To == "" {
			t.Errorf("journal entry %+v", c)
		}
	}

	// Again, from the journal, as after a restart: nothing moves, and the
	// cards that only just reached Staging stay there.
	moved := actions.JiraMovedByJournal(records(t, jr))
	if len(moved) != 21 || moved["ACME-23"] != "Staging" {
		t.Fatalf("moved by journal: %v", moved)
	}
	again, _ := actions.NewJiraMove(j, "", "post/jira")
	again.Moved = moved
	p, err = again.Preview(ctx)
	if err != nil || !strings.Contains(p.Title, "nothing to move") || len(p.Lines) != 6 || !strings.Contains(p.Lines[0], "stays in Staging") {
		t.Fatalf("re-run preview %q %v: %v", p.Title, p.Lines, err)
	}
	posts := front.posts.Load()
	out = r.Execute(ctx, "m2", again, "post-deploy moves", time.Minute)
	if out.Err != nil || !out.Result.OK || out.Result.Summary != "nothing to move" || string(out.Result.Detail) != "[]" {
		t.Fatalf("re-run: %v %q %s", out.Err, out.Result.Summary, out.Result.Detail)
	}
	// The same action remembers what it moved, too.
	if res, err := a.Run(ctx); err != nil || res.Summary != "nothing to move" {
		t.Fatalf("same action again: %v %q", err, res.Summary)
	}
	if front.posts.Load() != posts {
		t.Errorf("re-running moved %d cards", front.posts.Load()-posts)
	}
}

func TestJiraMovePartialFailureThenResume(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	ctx := moveCtx(t)
	front.failN = 2
	front.failOn.Store(http.StatusInternalServerError)

	jr := openJournal(t)
	r := &actions.Runner{Journal: jr, By: "ana"}
	a, _ := actions.NewJiraMove(j, "Production", "post/jira-to-production")
	if _, err := a.Preview(ctx); err != nil {
		t.Fatal(err)
	}
	out := r.Execute(ctx, "m1", a, "to production", time.Minute)
	if out.Err == nil || out.Result.OK {
		t.Fatalf("a partial failure reported as success: %q", out.Result.Summary)
	}
	if !strings.HasPrefix(out.Result.Summary, "moved 13/15 cards: 13 to Production; failed: ") || strings.Count(out.Result.Summary, "(Jira 500)") != 2 {
		t.Errorf("summary %q", out.Result.Summary)
	}
	res := moveResults(t, out.Result.Detail)
	var failed []string
	for _, c := range res {
		if !c.OK {
			failed = append(failed, c.Key)
			if !strings.Contains(c.Error, "500") || !strings.Contains(c.Error, "may or may not have moved") {
				t.Errorf("%s: error %q", c.Key, c.Error)
			}
		}
	}
	if len(res) != 15 || len(failed) != 2 {
		t.Fatalf("%d results, failed %v", len(res), failed)
	}
	for _, k := range failed {
		if s := statusOf(front.srv, k); s == jirastub.StatusProduction {
			t.Errorf("%s failed yet moved", k)
		}
	}

	// Resume: a fresh action plans from the board and moves what is left.
	front.failOn.Store(0)
	resume, _ := actions.NewJiraMove(j, "Production", "post/jira-to-production")
	resume.Moved = actions.JiraMovedByJournal(records(t, jr))
	p, err := resume.Preview(ctx)
	if err != nil || len(p.Lines) != 2 {
		t.Fatalf("resume preview %v: %v", p.Lines, err)
	}
	for i, k := range failed {
		if !strings.HasPrefix(p.Lines[i], k+" ") {
			t.Errorf("resume preview line %q, want %s", p.Lines[i], k)
		}
	}
	out = r.Execute(ctx, "m2", resume, "to production", time.Minute)
	if out.Err != nil || out.Result.Summary != "moved 2/2 cards: 2 to Production" {
		t.Fatalf("resume: %v %q", out.Err, out.Result.Summary)
	}
	if c := statusCounts(front.srv); c[jirastub.StatusProduction] != 23 || c[jirastub.StatusMergedToMaster] != 6 {
		t.Errorf("board after resuming: %v", c)
	}
	if n := front.posts.Load(); n != 17 {
		t.Errorf("%d transitions posted, want 15 then the 2 left", n)
	}
	if got := len(actions.JiraMovedByJournal(records(t, jr))); got != 15 {
		t.Errorf("the journal lists %d cards moved, want 15", got)
	}
}

// A card the workflow cannot take to the target is a problem in the
// preview and a failure in the result, never silently skipped.
func TestJiraMoveListsProblems(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	ctx := moveCtx(t)
	j.Moves = []config.JiraMove{{From: []string{"Merged to Master", "In Progress"}, To: "Staging"}}
	a, _ := actions.NewJiraMove(j, "", "")
	p, err := a.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p.Title, "(12 cards, 6 with problems)") {
		t.Errorf("title %q", p.Title)
	}
	text := strings.Join(p.Lines, "\n")
	if !strings.Contains(text, "ACME-33 In Progress → Staging: problem: no transition from In Progress reaches Staging, which holds status 10003; it offers Code Review → In Review (10001, column Code Review)") {
		t.Errorf("preview:\n%s", text)
	}
	res, err := a.Run(ctx)
	if err == nil || res.OK || !strings.HasPrefix(res.Summary, "moved 6/12 cards: 6 to Staging; failed: ACME-33 (no transition)") {
		t.Fatalf("run: %v %q", err, res.Summary)
	}
	if c := statusCounts(front.srv); c[jirastub.StatusInProgress]+c[jirastub.StatusReopened] != 6 || c[jirastub.StatusMergedToMaster] != 0 {
		t.Errorf("board: %v", c)
	}
}

func TestJiraMoveOnlyWhatWasPreviewed(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	ctx := moveCtx(t)
	a, _ := actions.NewJiraMove(j, "Production", "")
	if _, err := a.Preview(ctx); err != nil {
		t.Fatal(err)
	}
	// Someone moves ACME-23 into Staging after the preview.
	single := actions.NewJiraMoveCard(j, "ACME-23", "Staging")
	if _, err := single.Run(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(ctx)
	if err == nil || !strings.Contains(res.Summary, "ACME-23 (not previewed)") || !strings.HasPrefix(res.Summary, "moved 15/16") {
		t.Fatalf("%v %q", err, res.Summary)
	}
	if statusOf(front.srv, "ACME-23") != jirastub.StatusStaging {
		t.Error("a card the operator never saw in the preview was moved")
	}
}

func TestJiraMoveCard(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	ctx := moveCtx(t)
	a := actions.NewJiraMoveCard(j, "ACME-16", "Production")
	p, err := a.Preview(ctx)
	if err != nil || p.Title != "Move ACME-16 to Production (1 card)" || len(p.Lines) != 1 || !strings.Contains(p.Lines[0], "QA Hold → Production via") {
		t.Fatalf("preview %q %v: %v", p.Title, p.Lines, err)
	}
	res, err := a.Run(ctx)
	if err != nil || res.Summary != "moved 1/1 card: 1 to Production" || statusOf(front.srv, "ACME-16") != jirastub.StatusProduction {
		t.Fatalf("%v %q", err, res.Summary)
	}
	again := actions.NewJiraMoveCard(j, "ACME-16", "Production")
	if res, err := again.Run(ctx); err != nil || res.Summary != "ACME-16 is already in Production" {
		t.Fatalf("%v %q", err, res.Summary)
	}
	if _, err := actions.NewJiraMoveCard(j, "ACME-999", "Production").Preview(ctx); err == nil || !strings.Contains(err.Error(), "not on the board") {
		t.Errorf("a missing card: %v", err)
	}
	if front.posts.Load() != 1 {
		t.Errorf("%d posts", front.posts.Load())
	}
}

// Under a tight server rate limit every card still moves: the client waits
// out each Retry-After, and all workers wait together.
func TestJiraMoveWithinRateLimit(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{RateLimit: 10})
	a, _ := actions.NewJiraMove(j, "", "")
	res, err := a.Run(moveCtx(t))
	if err != nil || res.Summary != "moved 21/21 cards: 15 to Production, 6 to Staging" {
		t.Fatalf("%v %q", err, res.Summary)
	}
	if front.posts.Load() < 21 {
		t.Errorf("%d posts", front.posts.Load())
	}
}

// Cancelled midway, the cards not yet started say so, and a new run
// finishes them.
func TestJiraMoveInterrupted(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{Latency: 40 * time.Millisecond})
	a, _ := actions.NewJiraMove(j, "Production", "")
	a.Concurrency = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for front.posts.Load() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res, err := a.Run(ctx)
	if err == nil || res.OK {
		t.Fatalf("an interrupted move reported %q", res.Summary)
	}
	done := 0
	for _, c := range moveResults(t, res.Detail) {
		if c.OK {
			done++
		} else if !strings.Contains(c.Error, "move again") {
			t.Errorf("%s: %q", c.Key, c.Error)
		}
	}
	if done == 0 || done == 15 {
		t.Fatalf("%d of 15 moved before the cancel", done)
	}
	b, _ := actions.NewJiraMove(j, "Production", "")
	b.Moved = a.Moved
	res, err = b.Run(moveCtx(t))
	if err != nil || statusCounts(front.srv)[jirastub.StatusProduction] != 23 {
		t.Fatalf("resume: %v %q", err, res.Summary)
	}
}

func TestJiraMoveRefusedReadOnly(t *testing.T) {
	front, j := moveStub(t, jirastub.Options{})
	a, _ := actions.NewJiraMove(j, "", "")
	out := (&actions.Runner{Journal: openJournal(t), ReadOnly: true}).Execute(moveCtx(t), "x", a, "move", time.Minute)
	if !errors.Is(out.Err, actions.ErrReadOnly) || front.posts.Load() != 0 {
		t.Fatalf("read-only: %v", out.Err)
	}
	if _, err := actions.NewJiraMove(j, "QA Hold", ""); err == nil {
		t.Error("a move to a column no [[jira.move]] goes to was accepted")
	}
}

func TestGitFetchAction(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	base := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", base)
	repo, err := jirastub.BuildRepo(moveCtx(t), filepath.Join(base, "app"), "ACME", nil)
	if err != nil {
		t.Fatal(err)
	}
	origin, other := filepath.Join(base, "origin.git"), filepath.Join(base, "other")
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	for _, args := range [][]string{
		{"clone", "-q", "--bare", repo.Dir, origin},
		{"-C", repo.Dir, "remote", "add", "origin", origin},
		{"clone", "-q", "-b", "staging", origin, other},
		{"-C", other, "commit", "-q", "--allow-empty", "-m", "ACME-33: hotfix"},
		{"-C", other, "push", "-q", "origin", "staging"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	g := &config.Git{Repo: repo.Dir, Remote: "origin", Branches: repo.Branches}
	f := &actions.GitFetch{Git: g}
	if f.Dangerous() {
		t.Fatal("a fetch changes nothing local and must be allowed in read-only mode")
	}
	p, err := f.Preview(moveCtx(t))
	if err != nil || !strings.Contains(p.Title, "Fetch origin into "+repo.Dir) {
		t.Fatalf("preview %q: %v", p.Title, err)
	}
	out := (&actions.Runner{Journal: openJournal(t), ReadOnly: true}).Execute(moveCtx(t), "f", f, "fetch", time.Minute)
	if out.Err != nil || !out.Result.OK || !strings.HasPrefix(out.Result.Summary, "fetched origin: ") {
		t.Fatalf("fetch: %v %q", out.Err, out.Result.Summary)
	}
	cmd := exec.Command("git", "-C", repo.Dir, "log", "-1", "--format=%s", "origin/staging")
	if b, err := cmd.Output(); err != nil || strings.TrimSpace(string(b)) != "ACME-33: hotfix" {
		t.Errorf("origin/staging after the fetch: %s %v", b, err)
	}
}

// dyingJournal writes to a real journal until the process "dies" after
// the given number of records: nothing later reaches the file.
type dyingJournal struct {
	mu   sync.Mutex
	j    *journal.Journal
	left int
	dead func()
}

func (d *dyingJournal) Append(rec journal.Record) (journal.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.left == 0 {
		return rec, errors.New("killed")
	}
	d.left--
	if d.left == 0 {
		d.dead()
	}
	return d.j.Append(rec)
}

// TestJiraBulkMoveKilledMidwayResumesExactly: each card is journaled as it
// moves; a cockpit killed after a few cards leaves those records (and no
// result), from which the next run moves exactly the cards left, and none
// that an earlier move of this deploy just put where another move takes
// from.
func TestJiraBulkMoveKilledMidwayResumesExactly(t *testing.T) {
	clean, jc := moveStub(t, jirastub.Options{})
	ca, _ := actions.NewJiraMove(jc, "", "")
	if _, err := ca.Run(moveCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, is := range clean.srv.Issues() {
		want[is.Key] = is.Status
	}

	for _, killAfter := range []int{2, 5, 9} {
		t.Run(fmt.Sprint(killAfter), func(t *testing.T) {
			front, j := moveStub(t, jirastub.Options{Latency: 10 * time.Millisecond})
			path := filepath.Join(t.TempDir(), "deploy.jsonl")
			jr, _, err := journal.Open(path, journal.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			// The intent, then killAfter cards.
			dj := &dyingJournal{j: jr, left: 1 + killAfter, dead: kill}
			a, _ := actions.NewJiraMove(j, "", "")
			a.Concurrency = 1
			(&actions.Runner{Journal: dj}).Execute(ctx, "bulk", a, "move", time.Minute)
			jr.Close()

			j2, replay, err := journal.Open(path, journal.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			if len(resultRecords(replay.Records)) != 0 {
				t.Fatal("a killed move left a result")
			}
			moved := actions.JiraMovedByJournal(replay.Records)
			if len(moved) != killAfter {
				t.Fatalf("the journal names %d moved cards, want %d: %v", len(moved), killAfter, moved)
			}
			for key, to := range moved {
				if statusOf(front.srv, key) == "" || !strings.EqualFold(jirastub.ColumnOf(statusOf(front.srv, key)), to) {
					t.Errorf("%s journaled as moved to %s, Jira has it in %s", key, to, statusOf(front.srv, key))
				}
			}
			b, _ := actions.NewJiraMove(j, "", "")
			b.Moved = moved
			if _, err := b.Run(moveCtx(t)); err != nil {
				t.Fatal(err)
			}
			for _, is := range front.srv.Issues() {
				if want[is.Key] != is.Status {
					t.Errorf("%s ended in %s, a clean run leaves it in %s", is.Key, is.Status, want[is.Key])
				}
			}
		})
	}
}
