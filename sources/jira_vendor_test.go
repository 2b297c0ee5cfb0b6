package sources_test

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// These tests feed the clients Atlassian's own published examples, as
// transcribed under testdata/vendor/jira (see the README there for the
// documents and versions), served byte for byte. The stand-in was written
// by the same hands as the clients and so shares their assumptions; these
// examples do not.

// vendorRoute is the fixture that answers a request, and with what status.
type vendorRoute struct {
	status int
	file   string
}

// vendorJira serves fixtures unchanged and remembers what was asked.
type vendorJira struct {
	t     testing.TB
	route func(r *http.Request) (vendorRoute, bool)

	mu   sync.Mutex
	reqs []vendorRequest
}

type vendorRequest struct {
	Method, Path string
	Query        url.Values
	Body         string
}

func (v *vendorJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v.mu.Lock()
	v.reqs = append(v.reqs, vendorRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: string(body)})
	v.mu.Unlock()
	rt, ok := v.route(r)
	if !ok {
		v.t.Errorf("no vendor example for %s %s", r.Method, r.URL.RequestURI())
		http.NotFound(w, r)
		return
	}
	if rt.file == "" {
		w.WriteHeader(rt.status)
		return
	}
	data := vendorFile(v.t, rt.file)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(cmp.Or(rt.status, http.StatusOK))
	w.Write(data)
}

func (v *vendorJira) requests(method, pathSuffix string) []vendorRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []vendorRequest
	for _, r := range v.reqs {
		if r.Method == method && strings.HasSuffix(r.Path, pathSuffix) {
			out = append(out, r)
		}
	}
	return out
}

func vendorFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vendor", "jira", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// vendorClient starts a server answering with route and a client for it.
func vendorClient(t *testing.T, flavor string, route func(r *http.Request) (vendorRoute, bool)) (*vendorJira, *sources.JiraClient, *config.Jira) {
	t.Helper()
	v := &vendorJira{t: t, route: route}
	ts := httptest.NewServer(v)
	t.Cleanup(ts.Close)
	j := &config.Jira{
		URL: ts.URL, Flavor: flavor, Email: "a@example.com", Token: config.ResolvedSecret("env:JIRA_TOKEN", "t"),
		Board: 84, Project: "PROJ",
		Columns: []config.JiraColumn{{Name: "To Do"}, {Name: "In progress"}, {Name: "Done"}},
		Moves:   []config.JiraMove{{From: []string{"To Do"}, To: "In progress"}},
	}
	return v, sources.NewJiraClient(j), j
}

// vendorBoardRoutes answer as the documented example site: the agile
// board configuration, the platform field list, the enhanced search over
// two pages (the second being the documented example, whose issue has no
// status) and the documented transitions for every issue.
func vendorBoardRoutes(fields string) func(r *http.Request) (vendorRoute, bool) {
	return func(r *http.Request) (vendorRoute, bool) {
		switch p := r.URL.Path; {
		case p == "/rest/agile/1.0/board/84/configuration":
			return vendorRoute{file: "agile-board-configuration.json"}, true
		case p == "/rest/api/3/field":
			return vendorRoute{file: fields}, true
		case p == "/rest/api/3/search/jql" && r.URL.Query().Get("nextPageToken") == "":
			return vendorRoute{file: "derived-search-jql-first-page.json"}, true
		case p == "/rest/api/3/search/jql" && r.URL.Query().Get("nextPageToken") == "EgQIlMIC":
			return vendorRoute{file: "platform-search-jql.json"}, true
		case strings.HasSuffix(p, "/transitions") && r.Method == http.MethodGet:
			return vendorRoute{file: "platform-transitions.json"}, true
		case strings.HasSuffix(p, "/transitions") && r.Method == http.MethodPost:
			return vendorRoute{status: http.StatusNoContent}, true
		}
		return vendorRoute{}, false
	}
}

func vendorBoard(t *testing.T, c *sources.JiraClient, j *config.Jira) snapshot.Board {
	t.Helper()
	bc, err := c.BoardConfig(jiraCtx(t), j.Board)
	if err != nil {
		t.Fatal(err)
	}
	issues, err := c.BoardIssues(jiraCtx(t), j.Project, bc)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.BuildBoard(sources.BoardRules(j), snapshot.ReleaseTarget{}, bc, issues, nil, time.Time{})
}

// Jira Software Cloud REST API, Get configuration: a column lists statuses
// by id only, several to a column, and a column's name is not its
// statuses' names ("To Do" holds 1 and 4, "Done" holds 5).
func TestVendorBoardConfigurationListsStatusIDs(t *testing.T) {
	bc, err := sources.DecodeJiraBoardConfig(vendorFile(t, "agile-board-configuration.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.JiraBoardColumn{
		{Name: "To Do", StatusIDs: []string{"1", "4"}},
		{Name: "In progress", StatusIDs: []string{"3"}},
		{Name: "Done", StatusIDs: []string{"5"}},
	}
	if bc.ID != 10000 || bc.Name != "Board" || len(bc.Columns) != len(want) {
		t.Fatalf("board %+v", bc)
	}
	for i, w := range want {
		if bc.Columns[i].Name != w.Name || !slices.Equal(bc.Columns[i].StatusIDs, w.StatusIDs) {
			t.Errorf("column %d = %+v, want %+v", i, bc.Columns[i], w)
		}
	}
}

// The documented transitions offer "Close Issue" to a status named "In
// Progress" whose id, 10000, is on no column of the documented board, whose
// "In progress" column holds status 3. A transition is a candidate only by
// the target column's status ids, so the card is a problem naming what the
// workflow does offer; it is never filed into status 10000.
func TestVendorMoveMatchesTransitionsByStatusIDOnly(t *testing.T) {
	v, c, j := vendorClient(t, config.JiraCloud, vendorBoardRoutes("derived-field-with-sprint.json"))
	b := vendorBoard(t, c, j)
	transitions := func(key string) ([]sources.JiraTransition, error) { return c.Transitions(jiraCtx(t), key) }

	plans := sources.PlanMoves(b, j.Moves, transitions)
	if len(plans) != 1 || len(plans[0].Steps) != 1 {
		t.Fatalf("plans %+v", plans)
	}
	st := plans[0].Steps[0]
	if st.Key != "ED-2" || st.TransitionID != "" || st.Problem == "" {
		t.Fatalf("ED-2 → In progress: %+v; want a problem, not transition %q", st, st.TransitionID)
	}
	for _, want := range []string{"Close Issue → In Progress (10000, on no column)", "QA Review → Closed (5, column Done)", "In progress, which holds status 3"} {
		if !strings.Contains(st.Problem, want) {
			t.Errorf("problem %q does not say %q", st.Problem, want)
		}
	}

	// Done holds status 5, which "QA Review" reaches though neither its
	// name nor its status's name is "Done".
	st, err := sources.PlanCardMove(b, "ED-2", "Done", transitions)
	if err != nil || st.Problem != "" || st.TransitionID != "711" {
		t.Fatalf("ED-2 → Done: %+v, %v; want transition 711", st, err)
	}
	if err := c.Transition(jiraCtx(t), "ED-2", st.TransitionID); err != nil {
		t.Fatalf("the documented 204 is success: %v", err)
	}
	posts := v.requests(http.MethodPost, "/transitions")
	if len(posts) != 1 || posts[0].Body != `{"transition":{"id":"711"}}` || posts[0].Path != "/rest/api/3/issue/ED-2/transitions" {
		t.Errorf("posted %+v", posts)
	}
}

// Platform REST API v3, Search for issues using JQL enhanced search: the
// documented result's issue carries no status although one was asked for.
// It is counted and shown as a problem, not dropped.
func TestVendorIssueWithoutStatusIsCounted(t *testing.T) {
	_, c, j := vendorClient(t, config.JiraCloud, vendorBoardRoutes("derived-field-with-sprint.json"))
	b := vendorBoard(t, c, j)
	if b.Cards() != 1 {
		t.Errorf("%d cards on columns, want ED-2 only", b.Cards())
	}
	if !slices.ContainsFunc(b.Problems, func(p string) bool { return strings.Contains(p, "ED-1") && strings.Contains(p, "no status") }) {
		t.Errorf("problems %q do not name ED-1 and its missing status", b.Problems)
	}
	if s := b.Summary(); !strings.Contains(s, "1 issue on no column") {
		t.Errorf("summary %q does not count the issue left off the board", s)
	}
	if f := b.Facts()["jira.columns_clean"]; f.Known {
		t.Errorf("jira.columns_clean = %+v: a card that could not be checked must not let the gate pass", f)
	}
}

// Enhanced search: "nextPageToken" is documented both as "not included in
// the response for the last page" (the parameter) and as "null" on "the
// last or the only page" (the result schema). Both end the paging, as does
// "isLast".
func TestVendorSearchCloudPaging(t *testing.T) {
	v, c, _ := vendorClient(t, config.JiraCloud, vendorBoardRoutes("derived-field-with-sprint.json"))
	got, err := c.Search(jiraCtx(t), "project = PROJ")
	if err != nil {
		t.Fatal(err)
	}
	if keys := issueKeys(got); !slices.Equal(keys, []string{"ED-2", "ED-1"}) {
		t.Errorf("issues %v", keys)
	}
	searches := v.requests(http.MethodGet, "/rest/api/3/search/jql")
	if len(searches) != 2 || searches[1].Query.Get("nextPageToken") != "EgQIlMIC" {
		t.Errorf("searches %+v, want the first page and the documented token", searches)
	}

	v, c, _ = vendorClient(t, config.JiraCloud, func(r *http.Request) (vendorRoute, bool) {
		switch r.URL.Path {
		case "/rest/api/3/field":
			return vendorRoute{file: "platform-field.json"}, true
		case "/rest/api/3/search/jql":
			return vendorRoute{file: "derived-search-jql-only-page-null-token.json"}, true
		}
		return vendorRoute{}, false
	})
	got, err = c.Search(jiraCtx(t), "project = PROJ")
	if err != nil || len(got) != 1 || got[0].StatusID != "4" {
		t.Fatalf("null token page: %+v, %v", got, err)
	}
	if n := len(v.requests(http.MethodGet, "/search/jql")); n != 1 {
		t.Errorf("%d searches for one page", n)
	}
}

func issueKeys(issues []snapshot.JiraIssue) []string {
	var out []string
	for _, is := range issues {
		out = append(out, is.Key)
	}
	return out
}

// Data Center offset search: "total" is optional in the documented result
// (the schema requires none of its properties), so a page without it says
// nothing about the end. Paging goes on to a short or empty page.
func TestVendorSearchDataCenterWithoutTotal(t *testing.T) {
	v, c, _ := vendorClient(t, config.JiraDatacenter, func(r *http.Request) (vendorRoute, bool) {
		switch r.URL.Path {
		case "/rest/api/2/field":
			return vendorRoute{file: "derived-field-with-sprint.json"}, true
		case "/rest/api/2/search":
			switch r.URL.Query().Get("startAt") {
			case "0":
				return vendorRoute{file: "derived-search-offset-no-total-1.json"}, true
			case "2":
				return vendorRoute{file: "derived-search-offset-no-total-2.json"}, true
			}
		}
		return vendorRoute{}, false
	})
	got, err := c.Search(jiraCtx(t), "project = PROJ")
	if err != nil {
		t.Fatal(err)
	}
	if keys := issueKeys(got); !slices.Equal(keys, []string{"ED-2", "PR-3", "PR-2"}) {
		t.Errorf("issues %v, want all three", keys)
	}
	if n := len(v.requests(http.MethodGet, "/rest/api/2/search")); n != 2 {
		t.Errorf("%d searches: the second page is short, so it is the last", n)
	}
}

// The documented offset search result with its "total": one page, one
// request.
func TestVendorSearchDataCenterWithTotal(t *testing.T) {
	v, c, _ := vendorClient(t, config.JiraDatacenter, func(r *http.Request) (vendorRoute, bool) {
		switch r.URL.Path {
		case "/rest/api/2/field":
			return vendorRoute{file: "platform-field.json"}, true
		case "/rest/api/2/search":
			return vendorRoute{file: "platform-search.json"}, true
		}
		return vendorRoute{}, false
	})
	got, err := c.Search(jiraCtx(t), "project = PROJ")
	if err != nil || len(got) != 1 || got[0].Key != "ED-1" {
		t.Fatalf("%+v, %v", got, err)
	}
	if n := len(v.requests(http.MethodGet, "/rest/api/2/search")); n != 1 {
		t.Errorf("%d searches for total 1", n)
	}
}

// Jira Software Cloud REST API, "Jira Software field input formats": the
// sprint field's id differs per site and is found in the field list by its
// schema, com.pyxis.greenhopper.jira:gh-sprint. On the documented board,
// customfield_10020 is the rank field.
func TestVendorSprintFieldIsDiscovered(t *testing.T) {
	v, c, _ := vendorClient(t, config.JiraCloud, vendorBoardRoutes("derived-field-with-sprint.json"))
	got, err := c.Search(jiraCtx(t), "project = PROJ")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(v.requests(http.MethodGet, "/search/jql")[0].Query.Get("fields"), ",")
	if !slices.Contains(fields, "customfield_10007") || slices.Contains(fields, "customfield_10020") || !slices.Contains(fields, "fixVersions") {
		t.Errorf("asked for fields %v, want the discovered sprint field customfield_10007", fields)
	}
	want := []snapshot.JiraSprint{{ID: 1, Name: "Sprint 1", State: "closed"}, {ID: 2, Name: "Sprint 2", State: "future"}}
	if len(got) == 0 || !slices.Equal(got[0].Sprints, want) {
		t.Errorf("ED-2 sprints %+v, want %+v", got[0].Sprints, want)
	}
	if _, err := c.Search(jiraCtx(t), "project = PROJ"); err != nil {
		t.Fatal(err)
	}
	if n := len(v.requests(http.MethodGet, "/rest/api/3/field")); n != 1 {
		t.Errorf("%d field list requests: the site's fields are read once", n)
	}
}

// [jira] sprint_field names the field outright; the field list is then not
// needed for it.
func TestVendorSprintFieldFromConfig(t *testing.T) {
	v, c, j := vendorClient(t, config.JiraCloud, vendorBoardRoutes("platform-field.json"))
	j.SprintField = "customfield_10007"
	c = sources.NewJiraClient(j)
	got, err := c.Search(jiraCtx(t), "project = PROJ")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got[0].Sprints) != 2 {
		t.Errorf("sprints %+v", got)
	}
	if n := len(v.requests(http.MethodGet, "/field")); n != 0 {
		t.Errorf("%d field list requests with sprint_field set", n)
	}
}

// The documented field list has no sprint field at all: no sprint field is
// asked for, and a sprint rule says it could not be checked instead of
// calling every card sprintless.
func TestVendorSiteWithoutSprintField(t *testing.T) {
	v, c, j := vendorClient(t, config.JiraCloud, vendorBoardRoutes("platform-field.json"))
	bc, err := c.BoardConfig(jiraCtx(t), j.Board)
	if err != nil {
		t.Fatal(err)
	}
	issues, err := c.BoardIssues(jiraCtx(t), j.Project, bc)
	if err != nil {
		t.Fatal(err)
	}
	fields := v.requests(http.MethodGet, "/search/jql")[0].Query.Get("fields")
	if strings.Contains(fields, "customfield_") {
		t.Errorf("asked for %s on a site without a sprint field", fields)
	}
	j.Columns[0].CheckRelease = true
	b := snapshot.BuildBoard(sources.BoardRules(j), snapshot.ReleaseTarget{Sprint: "Sprint 2"}, bc, issues, nil, time.Time{})
	fl := b.Flagged()
	if len(fl) != 1 || fl[0].Card.Key != "ED-2" || fl[0].Card.Flags[0].Kind != snapshot.FlagMissing ||
		!strings.Contains(fl[0].Card.Flags[0].Text, "sprint not checked") {
		t.Errorf("flagged %+v", fl)
	}
}

// ErrorCollection, both halves: errorMessages, and errors by field.
func TestVendorErrorCollection(t *testing.T) {
	for file, want := range map[string]string{
		"platform-error-messages.json": "Only custom fields can be queried.",
		"platform-error-errors.json":   "projectId: The ID of a project has to be provided.",
	} {
		_, c, _ := vendorClient(t, config.JiraCloud, func(r *http.Request) (vendorRoute, bool) {
			return vendorRoute{status: http.StatusBadRequest, file: file}, true
		})
		err := c.Transition(jiraCtx(t), "ED-1", "2")
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to carry %q", file, err, want)
		}
	}
}

// Transition ids are strings in the documented list.
func TestVendorTransitionsDecode(t *testing.T) {
	ts, err := sources.DecodeJiraTransitions(vendorFile(t, "platform-transitions.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []sources.JiraTransition{
		{ID: "2", Name: "Close Issue", ToID: "10000", ToName: "In Progress"},
		{ID: "711", Name: "QA Review", ToID: "5", ToName: "Closed"},
	}
	if !slices.Equal(ts, want) {
		t.Errorf("transitions %+v, want %+v", ts, want)
	}
}
