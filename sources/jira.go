package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// JiraAuth sets the credentials Jira expects: Basic email:token on Cloud,
// a personal access token as Bearer on Data Center.
func JiraAuth(req *http.Request, j *config.Jira) {
	if j.Flavor == "datacenter" {
		req.Header.Set("Authorization", "Bearer "+j.Token.Value())
		return
	}
	req.SetBasicAuth(j.Email, j.Token.Value())
}

// ProbeJira fetches the authenticated user, which proves the URL, the
// credentials and the API flavour in one request.
func ProbeJira(ctx context.Context, j *config.Jira) Reach {
	api := "/rest/api/3/myself"
	if j.Flavor == "datacenter" {
		api = "/rest/api/2/myself"
	}
	u := strings.TrimRight(j.URL, "/") + api
	r := Reach{Target: j.URL}
	var me struct {
		DisplayName string `json:"displayName"`
	}
	r.Err = getJSON(ctx, u, func(req *http.Request) { JiraAuth(req, j) }, &me, "check [jira] email and token")
	if r.Err == nil {
		r.Detail = "signed in as " + me.DisplayName
	}
	return r
}

// getJSON does one authenticated GET and decodes the answer, turning the
// status codes a person can act on into sentences. It never retries: a
// probe must answer within its own short deadline.
func getJSON(ctx context.Context, u string, auth func(*http.Request), into any, authHint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %s", resp.Status, authHint)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: rate limited, %s", resp.Status, rateLimitAdvice(resp.Header, time.Now()))
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: unexpected answer (not the expected JSON): %w", u, err)
	}
	return nil
}

// JiraSprintField is where Jira Cloud keeps sprints unless a site says
// otherwise; it is the same id on the vast majority of sites.
const JiraSprintField = "customfield_10020"

// JiraClient is a thin typed client for the few Jira REST resources the
// cockpit uses. It is safe for concurrent use: a rate limit met by one
// request holds back all of them, so a bulk move slows down together instead
// of hammering the server from every worker.
type JiraClient struct {
	BaseURL string // without a trailing slash
	Flavor  string // config.JiraCloud or config.JiraDatacenter
	// Auth sets the credentials on a request.
	Auth func(*http.Request)
	// HTTP is the client to use; nil uses one with a 30 s timeout.
	HTTP *http.Client
	// SprintField is the custom field holding sprints; empty means
	// JiraSprintField.
	SprintField string
	// PageSize is the maxResults asked for per search page; servers may
	// answer with fewer. Zero means 100.
	PageSize int
	// MaxRetries bounds the retries of a request refused with 429 (or 503
	// with Retry-After); zero means 4.
	MaxRetries int
	// MaxWait is the longest Retry-After honoured; a server asking for more
	// gets the error reported instead. Zero means 60 s.
	MaxWait time.Duration

	mu        sync.Mutex
	notBefore time.Time
}

// NewJiraClient builds a client from the [jira] section.
func NewJiraClient(j *config.Jira) *JiraClient {
	return &JiraClient{
		BaseURL: strings.TrimRight(j.URL, "/"),
		Flavor:  j.Flavor,
		Auth:    func(r *http.Request) { JiraAuth(r, j) },
	}
}

var defaultJiraHTTP = &http.Client{Timeout: 30 * time.Second}

func (c *JiraClient) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultJiraHTTP
}

func (c *JiraClient) cloud() bool { return c.Flavor != config.JiraDatacenter }

// api is the platform REST prefix: v3 on Cloud, v2 on Data Center.
func (c *JiraClient) api() string {
	if c.cloud() {
		return "/rest/api/3"
	}
	return "/rest/api/2"
}

func (c *JiraClient) sprintField() string {
	if c.SprintField != "" {
		return c.SprintField
	}
	return JiraSprintField
}

// JiraError is a failed Jira request, worded for the person at the
// keyboard. Status is 0 when no answer came at all.
type JiraError struct {
	Method, Path string
	Base         string
	Status       int
	Messages     []string      // Jira's errorMessages and errors, if any
	RetryAfter   time.Duration // for 429: how long Jira asked to wait
	Retries      int           // how many times the request was retried
	Hint         string        // what to check, from the caller's context
	Cloud        bool
	Err          error // the transport error, when Status is 0
}

func (e *JiraError) Unwrap() error { return e.Err }

func (e *JiraError) Error() string {
	what := e.Method + " " + e.Path
	msgs := ""
	if len(e.Messages) > 0 {
		msgs = ": " + strings.Join(e.Messages, "; ")
	}
	hint := func(def string) string {
		if e.Hint != "" {
			return e.Hint
		}
		return def
	}
	switch {
	case e.Status == 0:
		if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
			return fmt.Sprintf("no answer from Jira at %s for %s in time (%v): check the network, or try again", e.Base, what, e.Err)
		}
		return fmt.Sprintf("cannot reach Jira at %s (%v): check [jira] url and the network", e.Base, e.Err)
	case e.Status == http.StatusUnauthorized:
		creds := "check [jira] email and token (an API token from the Atlassian account)"
		if !e.Cloud {
			creds = "check [jira] token (a personal access token)"
		}
		return fmt.Sprintf("Jira at %s refused the credentials (401 Unauthorized): %s", e.Base, creds)
	case e.Status == http.StatusForbidden:
		return fmt.Sprintf("Jira at %s forbids %s (403 Forbidden)%s: %s", e.Base, what, msgs,
			hint("the account lacks a permission (browse the project, see the board, transition issues); ask a Jira admin"))
	case e.Status == http.StatusTooManyRequests:
		after := ""
		if e.RetryAfter > 0 {
			after = fmt.Sprintf(", asking to wait %s", e.RetryAfter.Round(time.Second))
		}
		return fmt.Sprintf("Jira at %s is rate limiting (429 Too Many Requests%s) and still was after %d retries: wait a minute and try again", e.Base, after, e.Retries)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found on Jira at %s (404)%s: %s", what, e.Base, msgs, hint("check [jira] url, board and project"))
	case e.Status >= 500:
		return fmt.Sprintf("Jira at %s failed with %d %s on %s%s: a problem on Jira's side; try again shortly", e.Base, e.Status, http.StatusText(e.Status), what, msgs)
	}
	return fmt.Sprintf("Jira at %s rejected %s (%d %s)%s", e.Base, what, e.Status, http.StatusText(e.Status), msgs)
}

// request is one API call. Its body is kept as bytes so that a retry can
// send it again.
type jiraRequest struct {
	method, path string
	query        url.Values
	body         []byte
	hint         string
}

// do sends r, waiting out rate limits, and returns the answer's body.
func (c *JiraClient) do(ctx context.Context, r jiraRequest) ([]byte, error) {
	maxRetries := c.MaxRetries
	if maxRetries == 0 {
		maxRetries = 4
	}
	maxWait := c.MaxWait
	if maxWait == 0 {
		maxWait = 60 * time.Second
	}
	u := c.BaseURL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	fail := func(status int, attempt int, err error) *JiraError {
		return &JiraError{Method: r.method, Path: r.path, Base: c.BaseURL, Status: status, Retries: attempt, Hint: r.hint, Cloud: c.cloud(), Err: err}
	}
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, fail(0, attempt, err)
		}
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, u, body)
		if err != nil {
			return nil, fail(0, attempt, err)
		}
		req.Header.Set("Accept", "application/json")
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.Auth != nil {
			c.Auth(req)
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fail(0, attempt, err)
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				return nil, fail(0, attempt, fmt.Errorf("reading the answer: %w", rerr))
			}
			return data, nil
		}
		je := fail(resp.StatusCode, attempt, nil)
		je.Messages = JiraErrorMessages(data)
		retryable := resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
		if !retryable {
			return nil, je
		}
		wait, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = time.Duration(1<<min(attempt, 5)) * time.Second
		}
		je.RetryAfter = wait
		if attempt >= maxRetries || wait > maxWait {
			return nil, je
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would only end in a timeout; say what really happened.
			return nil, je
		}
		c.holdOff(wait)
	}
}

// holdOff makes every request of this client wait until d from now.
func (c *JiraClient) holdOff(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := time.Now().Add(d); t.After(c.notBefore) {
		c.notBefore = t
	}
}

func (c *JiraClient) waitTurn(ctx context.Context) error {
	c.mu.Lock()
	wait := time.Until(c.notBefore)
	c.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 86400)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// JiraErrorMessages reads Jira's error body, {"errorMessages":[...],
// "errors":{field: message}}, into sentences; anything else yields nil.
func JiraErrorMessages(body []byte) []string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	var out []string
	for _, m := range e.ErrorMessages {
		if m = OneLine(strings.TrimSpace(m)); m != "" {
			out = append(out, m)
		}
	}
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if m := OneLine(strings.TrimSpace(e.Errors[k])); m != "" {
			out = append(out, k+": "+m)
		}
	}
	return out
}

// JiraBoardColumn is one column of a board and the statuses mapped to it.
type JiraBoardColumn struct {
	Name      string
	StatusIDs []string
}

// JiraBoardConfig is the part of a board's configuration the cockpit reads.
type JiraBoardConfig struct {
	ID      int
	Name    string
	Columns []JiraBoardColumn
}

// BoardConfig reads a board's columns and the statuses in each.
func (c *JiraClient) BoardConfig(ctx context.Context, board int) (JiraBoardConfig, error) {
	data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: fmt.Sprintf("/rest/agile/1.0/board/%d/configuration", board),
		hint: fmt.Sprintf("board %d does not exist or this account cannot see it: check [jira] board (the number in the board's URL)", board)})
	if err != nil {
		return JiraBoardConfig{}, err
	}
	bc, err := DecodeJiraBoardConfig(data)
	if err != nil {
		return bc, fmt.Errorf("board %d configuration from %s: %w", board, c.BaseURL, err)
	}
	return bc, nil
}

// DecodeJiraBoardConfig decodes GET /rest/agile/1.0/board/{id}/configuration.
func DecodeJiraBoardConfig(data []byte) (JiraBoardConfig, error) {
	var raw struct {
		ID           int    `json:"id"`
		Name         string `json:"name"`
		ColumnConfig *struct {
			Columns []struct {
				Name     string `json:"name"`
				Statuses []struct {
					ID string `json:"id"`
				} `json:"statuses"`
			} `json:"columns"`
		} `json:"columnConfig"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return JiraBoardConfig{}, fmt.Errorf("unexpected answer (not a board configuration): %w", err)
	}
	if raw.ColumnConfig == nil {
		return JiraBoardConfig{}, errors.New("unexpected answer: the board configuration has no columnConfig")
	}
	bc := JiraBoardConfig{ID: raw.ID, Name: raw.Name}
	for _, col := range raw.ColumnConfig.Columns {
		jc := JiraBoardColumn{Name: col.Name}
		for _, s := range col.Statuses {
			if s.ID != "" {
				jc.StatusIDs = append(jc.StatusIDs, s.ID)
			}
		}
		bc.Columns = append(bc.Columns, jc)
	}
	return bc, nil
}

// JiraSprint is a sprint an issue belongs to.
type JiraSprint struct {
	ID    int
	Name  string
	State string // active, closed, future (lower case)
}

// JiraIssue is one issue with the fields the board shows.
type JiraIssue struct {
	Key         string
	Summary     string
	StatusID    string
	Status      string
	FixVersions []string
	Sprints     []JiraSprint
	Labels      []string
	Priority    string
	Assignee    string
}

// jiraFields is the explicit field list every search asks for: Cloud's
// enhanced search returns no fields at all without one.
func (c *JiraClient) jiraFields() []string {
	return []string{"summary", "status", "fixVersions", c.sprintField(), "labels", "priority", "assignee"}
}

// Search returns every issue matching jql, following the flavour's paging to
// the end.
func (c *JiraClient) Search(ctx context.Context, jql string) ([]JiraIssue, error) {
	size := c.PageSize
	if size <= 0 {
		size = 100
	}
	fields := strings.Join(c.jiraFields(), ",")
	var out []JiraIssue
	if c.cloud() {
		token := ""
		seen := map[string]bool{}
		for page := 0; ; page++ {
			q := url.Values{"jql": {jql}, "fields": {fields}, "maxResults": {strconv.Itoa(size)}}
			if token != "" {
				q.Set("nextPageToken", token)
			}
			data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/search/jql", query: q,
				hint: "check [jira] project and that the account can browse it"})
			if err != nil {
				return nil, err
			}
			p, err := DecodeJiraSearchPage(data, c.sprintField())
			if err != nil {
				return nil, fmt.Errorf("search page %d from %s: %w", page+1, c.BaseURL, err)
			}
			out = append(out, p.Issues...)
			if p.NextPageToken == "" || p.IsLast {
				return out, nil
			}
			// A server that hands out the same token twice would page forever.
			if seen[p.NextPageToken] {
				return nil, fmt.Errorf("search on %s: Jira returned the same page token twice; the result may be changing too fast, try again", c.BaseURL)
			}
			seen[p.NextPageToken] = true
			token = p.NextPageToken
		}
	}
	for startAt := 0; ; {
		q := url.Values{"jql": {jql}, "fields": {fields}, "maxResults": {strconv.Itoa(size)}, "startAt": {strconv.Itoa(startAt)}}
		data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/search", query: q,
			hint: "check [jira] project and that the account can browse it"})
		if err != nil {
			return nil, err
		}
		p, err := DecodeJiraSearchPage(data, c.sprintField())
		if err != nil {
			return nil, fmt.Errorf("search from %s at %d: %w", c.BaseURL, startAt, err)
		}
		out = append(out, p.Issues...)
		startAt += len(p.Issues)
		if len(p.Issues) == 0 || startAt >= p.Total {
			return out, nil
		}
	}
}

// BoardIssues returns the project's issues in the board's statuses, in rank
// order, as the board shows them.
func (c *JiraClient) BoardIssues(ctx context.Context, project string, bc JiraBoardConfig) ([]JiraIssue, error) {
	return c.Search(ctx, BoardJQL(project, bc))
}

// BoardJQL selects the project's issues in any status the board has a
// column for. Status ids, not names, so a renamed status keeps working.
func BoardJQL(project string, bc JiraBoardConfig) string {
	var ids []string
	for _, col := range bc.Columns {
		for _, id := range col.StatusIDs {
			ids = append(ids, jqlQuote(id))
		}
	}
	jql := "project = " + jqlQuote(project)
	if len(ids) > 0 {
		jql += " AND status in (" + strings.Join(ids, ", ") + ")"
	}
	return jql + " ORDER BY Rank ASC"
}

func jqlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// JiraSearchPage is one page of either search flavour.
type JiraSearchPage struct {
	Issues        []JiraIssue
	NextPageToken string // enhanced search
	IsLast        bool   // enhanced search
	StartAt       int    // offset search
	Total         int    // offset search
}

// DecodeJiraSearchPage decodes a page of /search/jql (Cloud) or /search
// (Data Center); sprintField names the sprint custom field.
func DecodeJiraSearchPage(data []byte, sprintField string) (JiraSearchPage, error) {
	var raw struct {
		Issues []struct {
			Key    string                     `json:"key"`
			Fields map[string]json.RawMessage `json:"fields"`
		} `json:"issues"`
		NextPageToken string `json:"nextPageToken"`
		IsLast        bool   `json:"isLast"`
		StartAt       int    `json:"startAt"`
		Total         int    `json:"total"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return JiraSearchPage{}, fmt.Errorf("unexpected answer (not a search result): %w", err)
	}
	p := JiraSearchPage{NextPageToken: raw.NextPageToken, IsLast: raw.IsLast, StartAt: raw.StartAt, Total: raw.Total}
	p.Issues = make([]JiraIssue, 0, len(raw.Issues))
	for _, ri := range raw.Issues {
		if ri.Key == "" {
			return p, errors.New("unexpected answer: an issue without a key")
		}
		is, err := decodeJiraFields(ri.Key, ri.Fields, sprintField)
		if err != nil {
			return p, err
		}
		p.Issues = append(p.Issues, is)
	}
	return p, nil
}

func decodeJiraFields(key string, f map[string]json.RawMessage, sprintField string) (JiraIssue, error) {
	is := JiraIssue{Key: key}
	field := func(name string, into any) error {
		raw, ok := f[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("unexpected answer: field %s of %s: %w", name, key, err)
		}
		return nil
	}
	var status struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	var named struct {
		Name string `json:"name"`
	}
	var user struct {
		DisplayName string `json:"displayName"`
		Name        string `json:"name"`
	}
	var versions []struct {
		Name string `json:"name"`
	}
	errs := []error{
		field("summary", &is.Summary),
		field("status", &status),
		field("labels", &is.Labels),
		field("priority", &named),
		field("assignee", &user),
		field("fixVersions", &versions),
	}
	if err := errors.Join(errs...); err != nil {
		return is, err
	}
	is.StatusID, is.Status = status.ID, status.Name
	is.Priority = named.Name
	is.Assignee = user.DisplayName
	if is.Assignee == "" {
		is.Assignee = user.Name
	}
	for _, v := range versions {
		is.FixVersions = append(is.FixVersions, v.Name)
	}
	is.Sprints = DecodeJiraSprints(f[sprintField])
	return is, nil
}

// DecodeJiraSprints reads the sprint field in either of the shapes Jira
// serves: an array of objects (Cloud, recent Data Center) or an array of
// the legacy strings "com.atlassian.greenhopper.service.sprint.Sprint@1f
// [id=3,rapidViewId=1,state=ACTIVE,name=Sprint 3,...]". Anything else, as a
// site whose field id means something else would send, reads as no sprint
// rather than failing the board.
func DecodeJiraSprints(raw json.RawMessage) []JiraSprint {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var objs []struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		State string `json:"state"`
	}
	if json.Unmarshal(raw, &objs) == nil {
		out := make([]JiraSprint, 0, len(objs))
		for _, o := range objs {
			if o.Name != "" {
				out = append(out, JiraSprint{ID: o.ID, Name: o.Name, State: strings.ToLower(o.State)})
			}
		}
		return out
	}
	var strs []string
	if json.Unmarshal(raw, &strs) != nil {
		return nil
	}
	var out []JiraSprint
	for _, s := range strs {
		if sp, ok := parseLegacySprint(s); ok {
			out = append(out, sp)
		}
	}
	return out
}

// parseLegacySprint reads "…[id=3,rapidViewId=1,state=ACTIVE,name=Sprint
// 3,startDate=…]". A name may contain commas, so it runs up to the next
// ",key=" of a known key.
func parseLegacySprint(s string) (JiraSprint, bool) {
	open := strings.IndexByte(s, '[')
	if open < 0 || !strings.HasSuffix(s, "]") {
		return JiraSprint{}, false
	}
	body := s[open+1 : len(s)-1]
	var sp JiraSprint
	known := []string{"id", "rapidViewId", "state", "name", "goal", "startDate", "endDate", "completeDate", "activatedDate", "sequence", "synced", "autoStartStop", "incompleteIssuesDestinationId"}
	rest := body
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			break
		}
		k := rest[:eq]
		rest = rest[eq+1:]
		end := len(rest)
		for _, nk := range known {
			if i := strings.Index(rest, ","+nk+"="); i >= 0 && i < end {
				end = i
			}
		}
		v := rest[:end]
		rest = strings.TrimPrefix(rest[end:], ",")
		switch k {
		case "id":
			sp.ID, _ = strconv.Atoi(v)
		case "state":
			sp.State = strings.ToLower(v)
		case "name":
			sp.Name = v
		}
	}
	return sp, sp.Name != ""
}

// JiraTransition is a transition an issue can take now.
type JiraTransition struct {
	ID     string
	Name   string
	ToID   string
	ToName string
}

// Transitions lists the transitions issue key can take from its status.
func (c *JiraClient) Transitions(ctx context.Context, key string) ([]JiraTransition, error) {
	data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/issue/" + url.PathEscape(key) + "/transitions",
		hint: "the issue " + key + " is gone or not visible to this account"})
	if err != nil {
		return nil, err
	}
	ts, err := DecodeJiraTransitions(data)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s from %s: %w", key, c.BaseURL, err)
	}
	return ts, nil
}

// DecodeJiraTransitions decodes GET /rest/api/N/issue/{key}/transitions.
func DecodeJiraTransitions(data []byte) ([]JiraTransition, error) {
	var raw struct {
		Transitions *[]struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
			To   struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("unexpected answer (not a transition list): %w", err)
	}
	if raw.Transitions == nil {
		return nil, errors.New("unexpected answer: no transitions list")
	}
	out := make([]JiraTransition, 0, len(*raw.Transitions))
	for _, t := range *raw.Transitions {
		// Ids are strings in the documented shape; some servers send
		// numbers.
		id := strings.Trim(string(t.ID), `"`)
		if id == "" || id == "null" {
			return nil, fmt.Errorf("unexpected answer: transition %q has no id", t.Name)
		}
		out = append(out, JiraTransition{ID: id, Name: t.Name, ToID: t.To.ID, ToName: t.To.Name})
	}
	return out, nil
}

// Transition moves issue key through the transition with id.
func (c *JiraClient) Transition(ctx context.Context, key, id string) error {
	body, err := json.Marshal(map[string]any{"transition": map[string]string{"id": id}})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, jiraRequest{method: http.MethodPost, path: c.api() + "/issue/" + url.PathEscape(key) + "/transitions", body: body,
		hint: "the account may not transition " + key + " (the Transition Issues permission), or the workflow refuses it"})
	return err
}
