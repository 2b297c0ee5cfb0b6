package sources

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// The fields every search asks for, under their fixed ids; the sprint and
// fix version fields are added under the site's own ids. Cloud's enhanced
// search returns no fields at all without an explicit list.
var jiraFixedFields = []string{"summary", "status", "labels", "priority", "assignee"}

func (f JiraFields) list() []string {
	out := slices.Clone(jiraFixedFields)
	out = append(out, cmp.Or(f.FixVersions, "fixVersions"))
	if f.Sprint != "" {
		out = append(out, f.Sprint)
	}
	return out
}

const searchHint = "check [jira] project and that the account can browse it"

// Search returns every issue matching jql, following the flavour's paging to
// the end.
func (c *JiraClient) Search(ctx context.Context, jql string) ([]snapshot.JiraIssue, error) {
	f, err := c.Fields(ctx)
	if err != nil {
		return nil, err
	}
	if c.cloud() {
		return c.searchByToken(ctx, jql, f)
	}
	return c.searchByOffset(ctx, jql, f)
}

func (c *JiraClient) pageSize() string {
	if c.PageSize <= 0 {
		return "100"
	}
	return strconv.Itoa(c.PageSize)
}

// searchByToken pages Cloud's enhanced search. The last page is told by
// isLast or by its token, which the document calls absent on the last page
// in one place and null on it in another: both read as no token.
func (c *JiraClient) searchByToken(ctx context.Context, jql string, f JiraFields) ([]snapshot.JiraIssue, error) {
	var out []snapshot.JiraIssue
	token := ""
	seen := map[string]bool{}
	for page := 1; ; page++ {
		q := url.Values{"jql": {jql}, "fields": {strings.Join(f.list(), ",")}, "maxResults": {c.pageSize()}}
		if token != "" {
			q.Set("nextPageToken", token)
		}
		data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/search/jql", query: q, hint: searchHint})
		if err != nil {
			return nil, err
		}
		p, err := DecodeJiraSearchPage(data, f)
		if err != nil {
			return nil, fmt.Errorf("search page %d from %s: %w", page, c.BaseURL, err)
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

// searchByOffset pages Data Center's search by startAt. "total" is optional
// in the documented result, and so is "maxResults": with total the end is
// known; without it a page shorter than the maxResults the server
// reports, or an empty page, is the last. A server may also answer with
// fewer issues than asked for, so a short page is never taken for the end
// without the server's own maxResults to compare with.
func (c *JiraClient) searchByOffset(ctx context.Context, jql string, f JiraFields) ([]snapshot.JiraIssue, error) {
	var out []snapshot.JiraIssue
	seen := map[string]bool{}
	for startAt := 0; ; {
		q := url.Values{"jql": {jql}, "fields": {strings.Join(f.list(), ",")}, "maxResults": {c.pageSize()}, "startAt": {strconv.Itoa(startAt)}}
		data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/search", query: q, hint: searchHint})
		if err != nil {
			return nil, err
		}
		p, err := DecodeJiraSearchPage(data, f)
		if err != nil {
			return nil, fmt.Errorf("search from %s at %d: %w", c.BaseURL, startAt, err)
		}
		fresh := 0
		for _, is := range p.Issues {
			// Offsets shift when an issue enters the result between pages;
			// the one pushed onto this page was already read.
			if !seen[is.Key] {
				seen[is.Key] = true
				out = append(out, is)
				fresh++
			}
		}
		startAt += len(p.Issues)
		switch {
		case len(p.Issues) == 0:
			return out, nil
		case fresh == 0:
			return nil, fmt.Errorf("search on %s: Jira answered startAt=%d with issues already read; it may not support paging this search, try again", c.BaseURL, startAt-len(p.Issues))
		case p.Total != nil:
			if startAt >= *p.Total {
				return out, nil
			}
		case p.MaxResults != nil && len(p.Issues) < *p.MaxResults:
			return out, nil
		}
	}
}

// BoardIssues returns the project's issues in the board's statuses, in rank
// order, as the board shows them.
func (c *JiraClient) BoardIssues(ctx context.Context, project string, bc snapshot.JiraBoardConfig) ([]snapshot.JiraIssue, error) {
	return c.Search(ctx, BoardJQL(project, bc))
}

// BoardJQL selects the project's issues in any status the board has a
// column for. Status ids, not names, so a renamed status keeps working.
func BoardJQL(project string, bc snapshot.JiraBoardConfig) string {
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
	Issues        []snapshot.JiraIssue
	NextPageToken string // enhanced search; "" when absent or null
	IsLast        bool   // enhanced search
	StartAt       int    // offset search
	// Total and MaxResults are nil when the answer leaves them out, as the
	// offset search may.
	Total, MaxResults *int
}

// DecodeJiraSearchPage decodes a page of /search/jql (Cloud) or /search
// (Data Center); f gives the site's ids of the sprint and fix version fields.
func DecodeJiraSearchPage(data []byte, f JiraFields) (JiraSearchPage, error) {
	var raw struct {
		Issues []struct {
			Key    string                     `json:"key"`
			Fields map[string]json.RawMessage `json:"fields"`
		} `json:"issues"`
		NextPageToken *string `json:"nextPageToken"`
		IsLast        bool    `json:"isLast"`
		StartAt       int     `json:"startAt"`
		Total         *int    `json:"total"`
		MaxResults    *int    `json:"maxResults"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return JiraSearchPage{}, fmt.Errorf("unexpected answer (not a search result): %w", err)
	}
	p := JiraSearchPage{IsLast: raw.IsLast, StartAt: raw.StartAt, Total: raw.Total, MaxResults: raw.MaxResults}
	if raw.NextPageToken != nil {
		p.NextPageToken = *raw.NextPageToken
	}
	p.Issues = make([]snapshot.JiraIssue, 0, len(raw.Issues))
	for _, ri := range raw.Issues {
		if ri.Key == "" {
			return p, errors.New("unexpected answer: an issue without a key")
		}
		is, err := decodeJiraFields(ri.Key, ri.Fields, f)
		if err != nil {
			return p, err
		}
		p.Issues = append(p.Issues, is)
	}
	return p, nil
}

func decodeJiraFields(key string, fm map[string]json.RawMessage, f JiraFields) (snapshot.JiraIssue, error) {
	is := snapshot.JiraIssue{Key: key}
	field := func(id, name string, into any) error {
		raw, ok := fm[id]
		if !ok {
			is.Missing = append(is.Missing, name)
			return nil
		}
		if string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("unexpected answer: field %s of %s: %w", id, key, err)
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
	fixVersions := cmp.Or(f.FixVersions, "fixVersions")
	errs := []error{
		field("summary", "summary", &is.Summary),
		field("status", "status", &status),
		field("labels", "labels", &is.Labels),
		field("priority", "priority", &named),
		field("assignee", "assignee", &user),
		field(fixVersions, "fixVersions", &versions),
	}
	if err := errors.Join(errs...); err != nil {
		return is, err
	}
	// Whatever anyone typed into a card reaches every watcher's terminal:
	// no escape sequence of theirs may move a cursor or clear a screen.
	clean := func(s string) string { return snapshot.OneLine(snapshot.Printable(s)) }
	is.Summary = clean(is.Summary)
	is.StatusID, is.Status = status.ID, clean(status.Name)
	is.Priority = clean(named.Name)
	is.Assignee = clean(cmp.Or(user.DisplayName, user.Name))
	for _, v := range versions {
		is.FixVersions = append(is.FixVersions, v.Name)
	}
	if raw, ok := fm[f.Sprint]; ok && f.Sprint != "" {
		is.Sprints = DecodeJiraSprints(raw)
	} else {
		is.Missing = append(is.Missing, "sprint")
	}
	return is, nil
}

// DecodeJiraSprints reads the sprint field in either of the shapes Jira
// serves: an array of objects (Cloud, recent Data Center) or an array of
// the legacy strings "com.atlassian.greenhopper.service.sprint.Sprint@1f
// [id=3,rapidViewId=1,state=ACTIVE,name=Sprint 3,...]". Anything else, as a
// site whose field id means something else would send, reads as no sprint
// rather than failing the board.
func DecodeJiraSprints(raw json.RawMessage) []snapshot.JiraSprint {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var objs []struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		State string `json:"state"`
	}
	if json.Unmarshal(raw, &objs) == nil {
		out := make([]snapshot.JiraSprint, 0, len(objs))
		for _, o := range objs {
			if o.Name != "" {
				out = append(out, snapshot.JiraSprint{ID: o.ID, Name: o.Name, State: strings.ToLower(o.State)})
			}
		}
		return out
	}
	var strs []string
	if json.Unmarshal(raw, &strs) != nil {
		return nil
	}
	var out []snapshot.JiraSprint
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
func parseLegacySprint(s string) (snapshot.JiraSprint, bool) {
	open := strings.IndexByte(s, '[')
	if open < 0 || !strings.HasSuffix(s, "]") {
		return snapshot.JiraSprint{}, false
	}
	body := s[open+1 : len(s)-1]
	var sp snapshot.JiraSprint
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
