package sources_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

const (
	jiraStubEmail = "deployer@acme.test"
	jiraStubToken = "stub-token-7731"
	jiraProject   = "ACME"
	jiraBoard     = 12
)

// jiraStub serves a stand-in Jira in-process and returns the [jira] section
// pointing at it, written as the sandbox writes it.
func jiraStub(t testing.TB, o jirastub.Options, flavor string) (*jirastub.Server, *config.Jira) {
	t.Helper()
	o.Email, o.Token, o.BoardID, o.Project = jiraStubEmail, jiraStubToken, jiraBoard, jiraProject
	srv := jirastub.New(o)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, jiraSection(ts.URL, flavor)
}

func jiraSection(url, flavor string) *config.Jira {
	return &config.Jira{
		URL: url, Flavor: flavor, Email: jiraStubEmail, Token: config.ResolvedSecret("env:JIRA_TOKEN", jiraStubToken),
		Board: jiraBoard, Project: jiraProject, Poll: config.Duration(time.Minute),
		FixVersion:        jirastub.CurrentRelease,
		BlockerLabels:     []string{"blocker"},
		BlockerPriorities: []string{"Blocker", "Highest"},
		Columns:           jirastub.ColumnRules(),
		Moves:             jirastub.Moves(),
	}
}

func jiraCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func manyIssues(n int) []jirastub.Issue {
	cols := jirastub.Columns()
	out := make([]jirastub.Issue, n)
	for i := range out {
		out[i] = jirastub.Issue{
			Key: fmt.Sprintf("%s-%d", jiraProject, i+1), Summary: fmt.Sprintf("Card number %d", i+1),
			Status: jirastub.ColumnStatus(cols[i%len(cols)]), Priority: "Major", Assignee: "Priya Raman",
			Labels: []string{"bulk"}, FixVersions: []string{jirastub.CurrentRelease}, Sprint: jirastub.CurrentSprint(jiraProject),
		}
	}
	return out
}

func TestJiraBoardConfig(t *testing.T) {
	_, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	bc, err := sources.NewJiraClient(j).BoardConfig(jiraCtx(t), jiraBoard)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range bc.Columns {
		names = append(names, c.Name)
		var want []string
		for _, st := range jirastub.ColumnStatuses(c.Name) {
			want = append(want, jirastub.StatusID(st))
		}
		if !slices.Equal(c.StatusIDs, want) {
			t.Errorf("column %s has statuses %v, want %v", c.Name, c.StatusIDs, want)
		}
	}
	if !slices.Equal(names, jirastub.Columns()) {
		t.Errorf("columns %v, want %v", names, jirastub.Columns())
	}
	if !slices.Equal(bc.Columns[0].StatusIDs, []string{"3", "4"}) {
		t.Errorf("In Progress has statuses %v, want the built-in In Progress and Reopened, 3 and 4", bc.Columns[0].StatusIDs)
	}
}

func TestJiraBoardNotFound(t *testing.T) {
	_, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	_, err := sources.NewJiraClient(j).BoardConfig(jiraCtx(t), 99)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "check [jira] board") {
		t.Fatalf("error %v, want a 404 naming [jira] board", err)
	}
}

func checkSearch(t *testing.T, flavor string) {
	srv, j := jiraStub(t, jirastub.Options{Issues: manyIssues(300)}, flavor)
	c := sources.NewJiraClient(j)
	bc, err := c.BoardConfig(jiraCtx(t), jiraBoard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fields(jiraCtx(t)); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests()
	got, err := c.BoardIssues(jiraCtx(t), jiraProject, bc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 {
		t.Fatalf("%d issues, want 300", len(got))
	}
	// The stand-in serves at most 50 a page whatever is asked: six pages.
	if n := srv.Requests() - before; n != 6 {
		t.Errorf("%d search requests, want 6 pages of 50", n)
	}
	for i, is := range got {
		if want := fmt.Sprintf("%s-%d", jiraProject, i+1); is.Key != want {
			t.Fatalf("issue %d is %s, want %s in rank order", i, is.Key, want)
		}
	}
	is := got[4] // ACME-5, in the fifth column
	if is.Status != jirastub.ColumnStatus(jirastub.Columns()[4]) || is.StatusID == "" || is.Summary != "Card number 5" ||
		is.Priority != "Major" || is.Assignee != "Priya Raman" || !slices.Equal(is.Labels, []string{"bulk"}) ||
		!slices.Equal(is.FixVersions, []string{jirastub.CurrentRelease}) {
		t.Errorf("fields not decoded: %+v", is)
	}
	if len(is.Sprints) != 1 || is.Sprints[0].Name != jirastub.CurrentSprint(jiraProject) || is.Sprints[0].State != "active" || is.Sprints[0].ID != 147 {
		t.Errorf("sprint not decoded: %+v", is.Sprints)
	}
}

func TestJiraSearchPaginatesCloud(t *testing.T)      { checkSearch(t, config.JiraCloud) }
func TestJiraSearchPaginatesDataCenter(t *testing.T) { checkSearch(t, config.JiraDatacenter) }

func TestJiraRetryAfter429(t *testing.T) {
	srv, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	srv.SetFailure(http.StatusTooManyRequests, 1)
	start := time.Now()
	bc, err := sources.NewJiraClient(j).BoardConfig(jiraCtx(t), jiraBoard)
	if err != nil {
		t.Fatalf("a single 429 with Retry-After should be waited out: %v", err)
	}
	if len(bc.Columns) != 7 {
		t.Errorf("%d columns after the retry", len(bc.Columns))
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("retried after %s, but Retry-After asked for 1 s", took)
	}
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want the refused one and its retry", srv.Requests())
	}
}

func TestJiraRateLimitGivesUp(t *testing.T) {
	srv, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	srv.SetFailure(http.StatusTooManyRequests, 10)
	c := sources.NewJiraClient(j)
	c.MaxRetries = 1
	_, err := c.Transitions(jiraCtx(t), "ACME-1")
	var je *sources.JiraError
	if !errors.As(err, &je) || je.Status != http.StatusTooManyRequests {
		t.Fatalf("error %v, want a 429 JiraError", err)
	}
	for _, want := range []string{"rate limiting", "429", "after 1 retries", "wait 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want 2 (the first and one retry)", srv.Requests())
	}
}

// A context ending while the client waits out a Retry-After returns at once.
func TestJiraRateLimitWaitIsCancellable(t *testing.T) {
	srv, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	srv.SetFailure(http.StatusTooManyRequests, 10)
	c := sources.NewJiraClient(j)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Transitions(ctx, "ACME-1")
	if err == nil || time.Since(start) > 800*time.Millisecond {
		t.Fatalf("err %v after %s, want a prompt cancellation", err, time.Since(start))
	}
}

// Workers sharing a client slow down together under the server's limit
// and all get through.
func TestJiraConcurrentRequestsRideTheRateLimit(t *testing.T) {
	_, j := jiraStub(t, jirastub.Options{RateLimit: 8}, config.JiraCloud)
	c := sources.NewJiraClient(j)
	var wg sync.WaitGroup
	errs := make([]error, 24)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = c.Transitions(jiraCtx(t), fmt.Sprintf("ACME-%d", i%40+1))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestJiraServerError(t *testing.T) {
	srv, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	srv.SetFailure(http.StatusInternalServerError, 1)
	_, err := sources.NewJiraClient(j).BoardConfig(jiraCtx(t), jiraBoard)
	if err == nil {
		t.Fatal("no error from a 500")
	}
	for _, want := range []string{"500 Internal Server Error", "Jira's side", "/rest/agile/1.0/board/12/configuration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if srv.Requests() != 1 {
		t.Errorf("%d requests: a 500 is reported, not retried", srv.Requests())
	}
}

func TestJiraUnauthorized(t *testing.T) {
	for _, flavor := range []string{config.JiraCloud, config.JiraDatacenter} {
		t.Run(flavor, func(t *testing.T) {
			_, j := jiraStub(t, jirastub.Options{}, flavor)
			j.Token = config.ResolvedSecret("env:JIRA_TOKEN", "wrong-token-5521")
			_, err := sources.NewJiraClient(j).BoardConfig(jiraCtx(t), jiraBoard)
			var je *sources.JiraError
			if !errors.As(err, &je) || je.Status != http.StatusUnauthorized {
				t.Fatalf("error %v, want a 401", err)
			}
			want := "check [jira] email and token"
			if flavor == config.JiraDatacenter {
				want = "check [jira] token (a personal access token)"
			}
			if !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, want it to say %q", err, want)
			}
			if strings.Contains(err.Error(), "wrong-token-5521") {
				t.Error("the token leaked into the error")
			}
		})
	}
}

func TestJiraUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	_, err := sources.NewJiraClient(jiraSection(url, config.JiraCloud)).BoardConfig(jiraCtx(t), jiraBoard)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Jira at "+url) || !strings.Contains(err.Error(), "check [jira] url") {
		t.Fatalf("error %v, want one naming the URL to check", err)
	}
}

func TestJiraTransitions(t *testing.T) {
	srv, j := jiraStub(t, jirastub.Options{}, config.JiraCloud)
	c := sources.NewJiraClient(j)
	ts, err := c.Transitions(jiraCtx(t), "ACME-23") // Merged to Master
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID != "41" || ts[0].ToName != jirastub.StatusStaging || ts[0].ToID != "10003" {
		t.Fatalf("transitions %+v, want the one to Staging (41)", ts)
	}
	if err := c.Transition(jiraCtx(t), "ACME-23", "41"); err != nil {
		t.Fatal(err)
	}
	for _, is := range srv.Issues() {
		if is.Key == "ACME-23" && is.Status != jirastub.StatusStaging {
			t.Errorf("ACME-23 is in %s after the transition", is.Status)
		}
	}
	err = c.Transition(jiraCtx(t), "ACME-23", "11")
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "not valid for this issue") {
		t.Errorf("an invalid transition: %v, want Jira's 400 and its message", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 09:59:00 GMT", 0, true},
	} {
		got, ok := sources.ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// A site that will not list its fields still shows its board; without a
// sprint field a sprint rule reads as not checked, naming sprint_field.
func TestJiraFieldListRefused(t *testing.T) {
	srv := jirastub.New(jirastub.Options{Email: jiraStubEmail, Token: jiraStubToken, BoardID: jiraBoard, Project: jiraProject})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/field") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	j := jiraSection(ts.URL, config.JiraCloud)
	src := &sources.BoardSource{Jira: j, Client: sources.NewJiraClient(j), Target: snapshot.ReleaseTarget{Sprint: jirastub.CurrentSprint(jiraProject)}}
	b, err := src.Read(jiraCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if b.Cards() != 40 {
		t.Fatalf("%d cards", b.Cards())
	}
	for _, f := range b.Flagged() {
		for _, fl := range f.Card.Flags {
			if fl.Kind == snapshot.FlagSprint {
				t.Errorf("%s flagged %q without sprint data", f.Card.Key, fl.Text)
			}
		}
	}
	if !strings.Contains(b.Summary(), "unchecked") {
		t.Errorf("summary %q does not say sprints went unchecked", b.Summary())
	}
}
