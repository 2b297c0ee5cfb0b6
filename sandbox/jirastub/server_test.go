package jirastub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testEmail = "deployer@acme.test"
	testToken = "s3cret-token"
)

type client struct {
	t    *testing.T
	base string
	auth string
}

func start(t *testing.T, o Options) (*Server, client) {
	t.Helper()
	if o.Email == "" {
		o.Email, o.Token = testEmail, testToken
	}
	s := New(o)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(o.Email+":"+o.Token))
	return s, client{t: t, base: ts.URL, auth: basic}
}

// do sends a request and returns the response with its body read.
func (c client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// getJSON fails the test unless the answer is want, then decodes it into v.
func (c client) json(method, path string, body any, want int, v any) {
	c.t.Helper()
	resp, b := c.do(method, path, body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
}

// errorResponse checks Atlassian's error shape and returns its messages.
func errorResponse(t *testing.T, b []byte) []string {
	t.Helper()
	var e struct {
		ErrorMessages []string       `json:"errorMessages"`
		Errors        map[string]any `json:"errors"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.ErrorMessages == nil || e.Errors == nil {
		t.Fatalf("not an Atlassian error body: %s (%v)", b, err)
	}
	return e.ErrorMessages
}

type searchPage struct {
	Issues []struct {
		ID     string                     `json:"id"`
		Key    string                     `json:"key"`
		Self   string                     `json:"self"`
		Fields map[string]json.RawMessage `json:"fields"`
	} `json:"issues"`
	NextPageToken *string `json:"nextPageToken"`
	IsLast        bool    `json:"isLast"`
	StartAt       int     `json:"startAt"`
	MaxResults    int     `json:"maxResults"`
	Total         int     `json:"total"`
}

func (p searchPage) keys() []string {
	var out []string
	for _, is := range p.Issues {
		out = append(out, is.Key)
	}
	return out
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func TestBoardConfiguration(t *testing.T) {
	_, c := start(t, Options{BoardID: 12})
	var cfg struct {
		ID           int    `json:"id"`
		Name         string `json:"name"`
		Type         string `json:"type"`
		Self         string `json:"self"`
		Filter       struct{ ID, Self string }
		ColumnConfig struct {
			Columns []struct {
				Name     string `json:"name"`
				Statuses []struct{ ID, Self string }
			} `json:"columns"`
		} `json:"columnConfig"`
	}
	c.json("GET", "/rest/agile/1.0/board/12/configuration", nil, 200, &cfg)
	if cfg.ID != 12 || cfg.Name == "" || (cfg.Type != "scrum" && cfg.Type != "kanban") || cfg.Filter.ID == "" {
		t.Fatalf("board header: %+v", cfg)
	}
	if !strings.HasSuffix(cfg.Self, "/rest/agile/1.0/board/12/configuration") {
		t.Errorf("self = %q", cfg.Self)
	}
	var names []string
	for _, col := range cfg.ColumnConfig.Columns {
		names = append(names, col.Name)
		if len(col.Statuses) == 0 {
			t.Fatalf("column %q has no statuses", col.Name)
		}
		for _, ref := range col.Statuses {
			if ref.ID == "" || !strings.HasSuffix(ref.Self, "/status/"+ref.ID) {
				t.Fatalf("column %q statuses: %+v", col.Name, col.Statuses)
			}
			// Every status a column lists is one its cards report.
			var page searchPage
			c.json("GET", "/rest/api/3/search/jql"+q("jql", "project = ACME AND status = "+ref.ID, "fields", "status", "maxResults", "1"), nil, 200, &page)
			if len(page.Issues) != 1 {
				t.Fatalf("no card in status %s of column %q", ref.ID, col.Name)
			}
			var st struct{ ID, Name string }
			json.Unmarshal(page.Issues[0].Fields["status"], &st)
			if st.ID != ref.ID || ColumnOf(st.Name) != col.Name {
				t.Errorf("column %q maps status %s, card says %+v", col.Name, ref.ID, st)
			}
		}
	}
	if !slices.Equal(names, Columns()) {
		t.Errorf("columns = %q, want %q", names, Columns())
	}

	resp, b := c.do("GET", "/rest/agile/1.0/board/13/configuration", nil)
	if resp.StatusCode != 404 || len(errorResponse(t, b)) == 0 {
		t.Errorf("other board: %d %s", resp.StatusCode, b)
	}
}

func TestAuth(t *testing.T) {
	_, c := start(t, Options{})
	cases := []struct {
		name, header string
		want         int
	}{
		{"none", "", 401},
		{"wrong token", "Basic " + base64.StdEncoding.EncodeToString([]byte(testEmail+":nope")), 401},
		{"wrong email", "Basic " + base64.StdEncoding.EncodeToString([]byte("x@acme.test:"+testToken)), 401},
		{"garbage", "Basic !!!", 401},
		{"bearer wrong", "Bearer nope", 401},
		{"basic", c.auth, 200},
		{"basic email case", "Basic " + base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(testEmail)+":"+testToken)), 200},
		{"bearer", "Bearer " + testToken, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := c
			cc.t, cc.auth = t, tc.header
			resp, b := cc.do("GET", "/rest/api/3/myself", nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.want == 401 {
				if msgs := errorResponse(t, b); len(msgs) == 0 {
					t.Error("401 without a message")
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("content type %q", ct)
				}
			}
		})
	}
	// Every endpoint is protected, not only myself.
	cc := c
	cc.auth = ""
	for _, p := range []string{"/rest/agile/1.0/board/12/configuration", "/rest/api/3/search/jql?jql=project=ACME", "/rest/api/2/search", "/rest/api/3/issue/ACME-1/transitions"} {
		if resp, _ := cc.do("GET", p, nil); resp.StatusCode != 401 {
			t.Errorf("%s without auth: %d", p, resp.StatusCode)
		}
	}
}

func TestMyself(t *testing.T) {
	_, c := start(t, Options{})
	for _, v := range []string{"2", "3"} {
		var me struct{ AccountID, DisplayName, EmailAddress string }
		c.json("GET", "/rest/api/"+v+"/myself", nil, 200, &me)
		if me.AccountID == "" || me.DisplayName != "Deployer" || me.EmailAddress != testEmail {
			t.Errorf("v%s myself = %+v", v, me)
		}
	}
}

func manyIssues(n int) []Issue {
	cols := Columns()
	out := make([]Issue, n)
	for i := range out {
		out[i] = Issue{
			Key:      fmt.Sprintf("ACME-%d", i+1),
			Summary:  fmt.Sprintf("Card %d", i+1),
			Status:   ColumnStatus(cols[i%len(cols)]),
			Priority: "Major",
			Sprint:   CurrentSprint("ACME"),
		}
	}
	return out
}

func countStatus(issues []Issue, statuses ...string) int {
	n := 0
	for _, is := range issues {
		if slices.Contains(statuses, is.Status) {
			n++
		}
	}
	return n
}

func TestPaginationNextPageToken(t *testing.T) {
	_, c := start(t, Options{Issues: manyIssues(300)})
	seen := map[string]int{}
	token := ""
	pages := 0
	for {
		path := "/rest/api/3/search/jql" + q("jql", "project = ACME ORDER BY key ASC", "maxResults", "37", "fields", "summary")
		if token != "" {
			path += "&nextPageToken=" + url.QueryEscape(token)
		}
		var page searchPage
		c.json("GET", path, nil, 200, &page)
		pages++
		for _, k := range page.keys() {
			seen[k]++
		}
		if page.IsLast {
			if page.NextPageToken != nil {
				t.Errorf("last page carries a token")
			}
			if len(page.Issues) != 300-37*8 {
				t.Errorf("last page has %d issues", len(page.Issues))
			}
			break
		}
		if page.NextPageToken == nil || len(page.Issues) != 37 {
			t.Fatalf("page %d: %d issues, token %v", pages, len(page.Issues), page.NextPageToken)
		}
		token = *page.NextPageToken
		if pages > 20 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 300 || pages != 9 {
		t.Fatalf("saw %d distinct issues in %d pages", len(seen), pages)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", k, n)
		}
	}

	// The server caps maxResults at its page size.
	var big searchPage
	c.json("GET", "/rest/api/3/search/jql"+q("jql", "project = ACME", "maxResults", "1000"), nil, 200, &big)
	if len(big.Issues) != 50 || big.IsLast {
		t.Errorf("maxResults=1000 gave %d issues, isLast %v", len(big.Issues), big.IsLast)
	}

	// POST with the body form, fields as an array.
	var post searchPage
	c.json("POST", "/rest/api/3/search/jql", map[string]any{
		"jql": "project = ACME ORDER BY key DESC", "maxResults": 2, "fields": []string{"summary"},
	}, 200, &post)
	if !slices.Equal(post.keys(), []string{"ACME-300", "ACME-299"}) || post.NextPageToken == nil {
		t.Fatalf("POST page: %v", post.keys())
	}
	c.json("POST", "/rest/api/3/search/jql", map[string]any{
		"jql": "project = ACME ORDER BY key DESC", "maxResults": 2, "nextPageToken": *post.NextPageToken,
	}, 200, &post)
	if !slices.Equal(post.keys(), []string{"ACME-298", "ACME-297"}) {
		t.Fatalf("POST second page: %v", post.keys())
	}

	// A token belongs to its query.
	resp, b := c.do("GET", "/rest/api/3/search/jql"+q("jql", "status = Staging", "nextPageToken", *post.NextPageToken), nil)
	if resp.StatusCode != 400 || len(errorResponse(t, b)) == 0 {
		t.Errorf("foreign token: %d %s", resp.StatusCode, b)
	}
}

// Paging resumes after the last card seen, so a card that leaves the result
// between pages makes no other card vanish, as an offset would.
func TestPaginationSurvivesMoves(t *testing.T) {
	_, c := start(t, Options{Issues: manyIssues(300)})
	jql := `project = ACME AND status in (Staging, "QA Hold") ORDER BY key`
	var first searchPage
	c.json("GET", "/rest/api/3/search/jql"+q("jql", jql, "maxResults", "10"), nil, 200, &first)
	want := countStatus(manyIssues(300), StatusStaging, StatusQAHold)
	for _, k := range first.keys()[:5] {
		if resp, b := c.do("POST", "/rest/api/3/issue/"+k+"/transitions", map[string]any{"transition": map[string]string{"id": "71"}}); resp.StatusCode != 204 {
			t.Fatalf("move %s: %d %s", k, resp.StatusCode, b)
		}
	}
	seen := map[string]bool{}
	for _, k := range first.keys() {
		seen[k] = true
	}
	page := first
	for !page.IsLast {
		tok := *page.NextPageToken
		page = searchPage{}
		c.json("GET", "/rest/api/3/search/jql"+q("jql", jql, "maxResults", "10", "nextPageToken", tok), nil, 200, &page)
		for _, k := range page.keys() {
			if seen[k] {
				t.Fatalf("%s repeated", k)
			}
			seen[k] = true
		}
	}
	if len(seen) != want {
		t.Errorf("saw %d cards, want %d", len(seen), want)
	}
}

func TestPaginationStartAt(t *testing.T) {
	_, c := start(t, Options{Issues: manyIssues(300), PageSize: 40})
	seen := map[string]bool{}
	for startAt := 0; ; {
		var page searchPage
		c.json("GET", "/rest/api/2/search"+q("jql", "project = ACME ORDER BY key", "startAt", strconv.Itoa(startAt), "maxResults", "100"), nil, 200, &page)
		if page.Total != 300 || page.StartAt != startAt || page.MaxResults != 40 {
			t.Fatalf("page header: total %d startAt %d maxResults %d", page.Total, page.StartAt, page.MaxResults)
		}
		if len(page.Issues) == 0 {
			break
		}
		for _, k := range page.keys() {
			if seen[k] {
				t.Fatalf("%s repeated", k)
			}
			seen[k] = true
		}
		// Data Center returns fields by default.
		if _, ok := page.Issues[0].Fields["summary"]; !ok {
			t.Fatal("v2 search without fields returned no summary")
		}
		startAt += len(page.Issues)
	}
	if len(seen) != 300 {
		t.Errorf("saw %d issues", len(seen))
	}
	var count searchPage
	c.json("GET", "/rest/api/2/search"+q("jql", "status = Released", "maxResults", "0"), nil, 200, &count)
	if count.Total != countStatus(manyIssues(300), StatusProduction) || len(count.Issues) != 0 {
		t.Errorf("count-only search: total %d, %d issues", count.Total, len(count.Issues))
	}
	var post searchPage
	c.json("POST", "/rest/api/2/search", map[string]any{"jql": "project = ACME ORDER BY key", "startAt": 295, "fields": []string{"status"}}, 200, &post)
	if !slices.Equal(post.keys(), []string{"ACME-296", "ACME-297", "ACME-298", "ACME-299", "ACME-300"}) {
		t.Errorf("POST startAt: %v", post.keys())
	}
	// Cloud removed the v3 offset search; a client still calling it learns so.
	if resp, b := c.do("GET", "/rest/api/3/search?jql=project=ACME", nil); resp.StatusCode != 410 || len(errorResponse(t, b)) == 0 {
		t.Errorf("v3 search: %d %s", resp.StatusCode, b)
	}
}

func TestFieldsFilter(t *testing.T) {
	_, c := start(t, Options{})
	get := func(fields ...string) map[string]json.RawMessage {
		t.Helper()
		args := []string{"jql", "key = ACME-16"}
		for _, f := range fields {
			args = append(args, "fields", f)
		}
		var page searchPage
		c.json("GET", "/rest/api/3/search/jql"+q(args...), nil, 200, &page)
		if len(page.Issues) != 1 || page.Issues[0].Key != "ACME-16" || page.Issues[0].ID == "" || !strings.Contains(page.Issues[0].Self, "/rest/api/3/issue/") {
			t.Fatalf("issue header: %+v", page.Issues)
		}
		return page.Issues[0].Fields
	}
	keys := func(m map[string]json.RawMessage) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if f := get(); f != nil {
		t.Errorf("no fields asked, got %v", keys(f))
	}
	if got := keys(get("summary,status")); !slices.Equal(got, []string{"status", "summary"}) {
		t.Errorf("summary,status gave %v", got)
	}
	if got := keys(get("summary", "labels")); !slices.Equal(got, []string{"labels", "summary"}) {
		t.Errorf("repeated fields gave %v", got)
	}
	all := get("*all,-project")
	if got := keys(all); !slices.Equal(got, []string{"assignee", SprintField, RankField, "fixVersions", "labels", "priority", "status", "summary"}) {
		t.Errorf("*all,-project gave %v", got)
	}

	var st struct {
		ID, Name       string
		StatusCategory struct{ Key, Name string }
	}
	json.Unmarshal(all["status"], &st)
	if st.Name != StatusQAHold || st.ID == "" || st.StatusCategory.Key != "indeterminate" {
		t.Errorf("status = %+v", st)
	}
	var prio struct{ ID, Name string }
	json.Unmarshal(all["priority"], &prio)
	if prio.Name != "Blocker" || prio.ID == "" {
		t.Errorf("priority = %+v", prio)
	}
	var labels []string
	json.Unmarshal(all["labels"], &labels)
	if !slices.Contains(labels, "blocker") {
		t.Errorf("labels = %v", labels)
	}
	var fv []struct {
		ID, Name string
		Released bool
	}
	json.Unmarshal(all["fixVersions"], &fv)
	if len(fv) != 1 || fv[0].Name != CurrentRelease || fv[0].Released || fv[0].ID == "" {
		t.Errorf("fixVersions = %+v", fv)
	}
	var sprints []struct {
		ID      int
		Name    string
		State   string
		BoardID int
	}
	json.Unmarshal(all[SprintField], &sprints)
	if len(sprints) != 1 || sprints[0].Name != CurrentSprint("ACME") || sprints[0].State != "active" || sprints[0].BoardID != 12 || sprints[0].ID == 0 {
		t.Errorf("sprint = %+v", sprints)
	}
	var who struct{ AccountID, DisplayName string }
	json.Unmarshal(all["assignee"], &who)
	if who.DisplayName != "Jonas Weber" || who.AccountID == "" {
		t.Errorf("assignee = %+v", who)
	}

	// An unassigned card's assignee is null, not absent.
	var page searchPage
	c.json("GET", "/rest/api/3/search/jql"+q("jql", "key = ACME-6", "fields", "assignee"), nil, 200, &page)
	if raw, ok := page.Issues[0].Fields["assignee"]; !ok || string(raw) != "null" {
		t.Errorf("unassigned assignee = %s (present %v)", raw, ok)
	}
}

type transitionsResp struct {
	Transitions []struct {
		ID, Name string
		To       struct {
			ID, Name       string
			StatusCategory struct{ Key string }
		}
		IsAvailable bool
	}
}

func TestTransitions(t *testing.T) {
	s, c := start(t, Options{})
	list := func(k string) (ids, to []string) {
		t.Helper()
		var tr transitionsResp
		c.json("GET", "/rest/api/3/issue/"+k+"/transitions", nil, 200, &tr)
		for _, x := range tr.Transitions {
			if !x.IsAvailable || x.To.ID == "" || x.To.StatusCategory.Key == "" {
				t.Errorf("%s: transition %+v", k, x)
			}
			ids, to = append(ids, x.ID), append(to, x.To.Name)
		}
		return ids, to
	}
	want := map[string][]string{
		"ACME-33": {StatusCodeReview},                                                                          // In Progress
		"ACME-39": {StatusCodeReview},                                                                          // Reopened
		"ACME-28": {StatusInProgress, StatusMergedToMaster},                                                    // In Review
		"ACME-23": {StatusStaging},                                                                             // Merged
		"ACME-11": {StatusOffBoard, StatusQAHold, StatusTestingForProd, StatusProduction},                      // Staging
		"ACME-8":  {StatusOffBoard, StatusTestingForProd, StatusProduction, StatusStaging, StatusWaitingForQA}, // QA Hold
		"ACME-19": {StatusOffBoard, StatusQAHold, StatusTestingForProd, StatusProduction, StatusStaging},       // Waiting for QA
		"ACME-5":  {StatusOffBoard, StatusProduction, StatusQAHold},                                            // Testing For Production
		"ACME-1":  {StatusReopened},                                                                            // Released: reopen only
	}
	for k, w := range want {
		if _, to := list(k); !slices.Equal(to, w) {
			t.Errorf("%s can move to %q, want %q", k, to, w)
		}
	}
	if resp, b := c.do("GET", "/rest/api/3/issue/ACME-999/transitions", nil); resp.StatusCode != 404 || len(errorResponse(t, b)) == 0 {
		t.Errorf("unknown issue: %d %s", resp.StatusCode, b)
	}
	var one transitionsResp
	c.json("GET", "/rest/api/3/issue/ACME-11/transitions?transitionId=71&expand=transitions.fields", nil, 200, &one)
	if len(one.Transitions) != 1 || one.Transitions[0].To.Name != StatusProduction {
		t.Errorf("transitionId filter: %+v", one)
	}

	// Production is not reachable from In Progress.
	resp, b := c.do("POST", "/rest/api/3/issue/ACME-33/transitions", map[string]any{"transition": map[string]string{"id": "71"}})
	if resp.StatusCode != 400 || len(errorResponse(t, b)) == 0 {
		t.Fatalf("forbidden transition: %d %s", resp.StatusCode, b)
	}
	if resp, b := c.do("POST", "/rest/api/3/issue/ACME-33/transitions", map[string]any{}); resp.StatusCode != 400 {
		t.Errorf("no transition: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.do("POST", "/rest/api/3/issue/ACME-999/transitions", map[string]any{"transition": map[string]string{"id": "21"}}); resp.StatusCode != 404 {
		t.Errorf("unknown issue POST: %d", resp.StatusCode)
	}

	// The runbook's post-deployment moves, one allowed step each.
	resp, b = c.do("POST", "/rest/api/3/issue/ACME-11/transitions", map[string]any{"transition": map[string]string{"id": "71"}})
	if resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("Staging → Production: %d %s", resp.StatusCode, b)
	}
	// Jira also takes a numeric id.
	if resp, b := c.do("POST", "/rest/api/2/issue/ACME-23/transitions", map[string]any{"transition": map[string]int{"id": 41}}); resp.StatusCode != 204 {
		t.Fatalf("Merged to Master → Staging: %d %s", resp.StatusCode, b)
	}
	status := map[string]string{}
	for _, is := range s.Issues() {
		status[is.Key] = is.Status
	}
	if status["ACME-11"] != StatusProduction || status["ACME-23"] != StatusStaging || status["ACME-33"] != StatusInProgress {
		t.Errorf("after moves: 11=%s 23=%s 33=%s", status["ACME-11"], status["ACME-23"], status["ACME-33"])
	}
	var issue struct {
		Fields struct{ Status struct{ Name string } }
	}
	c.json("GET", "/rest/api/3/issue/ACME-11?fields=status", nil, 200, &issue)
	if issue.Fields.Status.Name != StatusProduction {
		t.Errorf("GET issue status = %q", issue.Fields.Status.Name)
	}
	if _, to := list("ACME-11"); !slices.Equal(to, []string{StatusReopened}) {
		t.Errorf("after the move ACME-11 offers %q", to)
	}
	// The same transition again is now invalid.
	if resp, _ := c.do("POST", "/rest/api/3/issue/ACME-11/transitions", map[string]any{"transition": map[string]string{"id": "71"}}); resp.StatusCode != 400 {
		t.Errorf("repeat transition: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	s, c := start(t, Options{RateLimit: 5})
	var limited *http.Response
	var body []byte
	for range 20 {
		resp, b := c.do("GET", "/rest/api/3/myself", nil)
		if resp.StatusCode == 429 {
			limited, body = resp, b
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if limited == nil {
		t.Fatal("20 requests at once were never limited at 5 per second")
	}
	if got := s.Requests(); got < 6 {
		t.Errorf("limited after %d requests, burst is 5", got)
	}
	secs, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q", limited.Header.Get("Retry-After"))
	}
	if len(errorResponse(t, body)) == 0 {
		t.Error("429 without message")
	}
	time.Sleep(time.Duration(secs) * time.Second)
	if resp, b := c.do("GET", "/rest/api/3/myself", nil); resp.StatusCode != 200 {
		t.Errorf("after Retry-After: %d %s", resp.StatusCode, b)
	}
}

func TestSetFailure(t *testing.T) {
	s, c := start(t, Options{})
	s.SetFailure(500, 2)
	for i := range 2 {
		resp, b := c.do("GET", "/rest/agile/1.0/board/12/configuration", nil)
		if resp.StatusCode != 500 || len(errorResponse(t, b)) == 0 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if resp, _ := c.do("GET", "/rest/agile/1.0/board/12/configuration", nil); resp.StatusCode != 200 {
		t.Errorf("after the failures: %d", resp.StatusCode)
	}
	s.SetFailure(503, 1)
	resp, _ := c.do("GET", "/rest/api/3/myself", nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("503: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.SetFailure(500, 3)
	s.SetFailure(0, 0)
	if resp, _ := c.do("GET", "/rest/api/3/myself", nil); resp.StatusCode != 200 {
		t.Errorf("cleared failure still answers %d", resp.StatusCode)
	}
	if s.Requests() != 5 {
		t.Errorf("Requests() = %d, want 5", s.Requests())
	}
}

func TestLatency(t *testing.T) {
	_, c := start(t, Options{Latency: 50 * time.Millisecond})
	t0 := time.Now()
	c.json("GET", "/rest/api/3/myself", nil, 200, nil)
	if d := time.Since(t0); d < 50*time.Millisecond {
		t.Errorf("answered in %v despite 50ms latency", d)
	}
}

func TestUnknownRoutes(t *testing.T) {
	_, c := start(t, Options{})
	for _, p := range []string{"/rest/api/4/myself", "/rest/nope", "/rest/api/3/issue/ACME-999"} {
		if resp, b := c.do("GET", p, nil); resp.StatusCode != 404 || len(errorResponse(t, b)) == 0 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}

// Searches and transitions from many clients at once, for the race detector
// and to show no transition is lost.
func TestConcurrentUse(t *testing.T) {
	s, c := start(t, Options{RateLimit: 0})
	var wg sync.WaitGroup
	staging := []string{"ACME-11", "ACME-18", "ACME-20", "ACME-21", "ACME-22", "ACME-24"}
	for _, k := range staging {
		wg.Add(2)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", c.base+"/rest/api/3/issue/"+k+"/transitions", strings.NewReader(`{"transition":{"id":"71"}}`))
			req.Header.Set("Authorization", c.auth)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", c.base+"/rest/api/3/search/jql?fields=status&jql="+url.QueryEscape("project = ACME"), nil)
			req.Header.Set("Authorization", c.auth)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for _, is := range s.Issues() {
		if slices.Contains(staging, is.Key) && is.Status != StatusProduction {
			t.Errorf("%s is %s", is.Key, is.Status)
		}
	}
}
