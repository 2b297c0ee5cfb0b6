package actions_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
)

// vendorSite answers as the example site of Atlassian's published
// documents, with the examples transcribed in
// sources/testdata/vendor/jira (the README there names each document),
// served unchanged.
type vendorSite struct {
	t     *testing.T
	mu    sync.Mutex
	posts []string // bodies of transition requests
}

func (v *vendorSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	file := ""
	switch p := r.URL.Path; {
	case p == "/rest/agile/1.0/board/84/configuration":
		file = "agile-board-configuration.json"
	case p == "/rest/api/3/field":
		file = "derived-field-with-sprint.json"
	case p == "/rest/api/3/search/jql" && r.URL.Query().Get("nextPageToken") == "":
		file = "derived-search-jql-first-page.json"
	case p == "/rest/api/3/search/jql" && r.URL.Query().Get("nextPageToken") == "EgQIlMIC":
		file = "platform-search-jql.json"
	case strings.HasSuffix(p, "/transitions") && r.Method == http.MethodGet:
		file = "platform-transitions.json"
	case strings.HasSuffix(p, "/transitions") && r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		v.mu.Lock()
		v.posts = append(v.posts, string(body))
		v.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		v.t.Errorf("no vendor example for %s %s", r.Method, r.URL.RequestURI())
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(filepath.Join("..", "sources", "testdata", "vendor", "jira", file))
	if err != nil {
		v.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Write(data)
}

func vendorMove(t *testing.T, to string) (*vendorSite, *actions.JiraMove) {
	v := &vendorSite{t: t}
	ts := httptest.NewServer(v)
	t.Cleanup(ts.Close)
	j := &config.Jira{
		URL: ts.URL, Flavor: config.JiraCloud, Email: "a@example.com", Token: config.ResolvedSecret("env:JIRA_TOKEN", "t"),
		Board: 84, Project: "PROJ",
		Columns: []config.JiraColumn{{Name: "To Do"}, {Name: "In progress"}, {Name: "Done"}},
		Moves:   []config.JiraMove{{From: []string{"To Do"}, To: to}},
	}
	m, err := actions.NewJiraMove(j, "", "post/jira")
	if err != nil {
		t.Fatal(err)
	}
	return v, m
}

// The documented board's "In progress" column holds status 3; the documented
// transitions reach "In Progress" only as status 10000, on no column. The
// move must report the card as a problem and transition nothing, where a
// match by name would have reported "moved 1/1 card".
func TestJiraMoveVendorExampleNeverMovesByName(t *testing.T) {
	v, m := vendorMove(t, "In progress")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := m.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 1 || !strings.Contains(p.Lines[0], "ED-2 To Do → In progress: problem:") ||
		!strings.Contains(p.Lines[0], "Close Issue → In Progress (10000, on no column)") {
		t.Errorf("preview %q", p.Lines)
	}
	res, err := m.Run(ctx)
	if err == nil || res.OK || strings.HasPrefix(res.Summary, "moved 1/1") {
		t.Errorf("run: %q, %v; want the card reported, not moved", res.Summary, err)
	}
	if len(v.posts) != 0 {
		t.Errorf("transitions posted: %q", v.posts)
	}
}

// "Done" holds status 5, which the documented "QA Review" reaches.
func TestJiraMoveVendorExampleByStatusID(t *testing.T) {
	v, m := vendorMove(t, "Done")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.Preview(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(ctx)
	if err != nil || res.Summary != "moved 1/1 card: 1 to Done" {
		t.Fatalf("run: %q, %v", res.Summary, err)
	}
	if len(v.posts) != 1 || v.posts[0] != `{"transition":{"id":"711"}}` {
		t.Errorf("posted %q", v.posts)
	}
}
