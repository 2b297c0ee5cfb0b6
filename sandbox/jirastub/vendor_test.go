package jirastub

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Each test here pins down one awkward part of Atlassian's published API
// that the stand-in copies, and names the document it follows:
//
//   - Jira Cloud platform REST API v3 (the OpenAPI document
//     swagger-v3.v3.json), called "platform" below;
//   - Jira Software Cloud REST API (the agile OpenAPI document, with its
//     "Jira Software field input formats" section), called "agile".

// agile, Get configuration (GET /rest/agile/1.0/board/{boardId}/configuration):
// the documented example maps "To Do" to statuses 1 and 4 and "Done" to
// status 5. Columns list statuses by id only; a column may hold several,
// and its name need not be any of theirs.
func TestVendorBoardColumnsHoldStatusesByID(t *testing.T) {
	_, c := start(t, Options{})
	var cfg struct {
		ColumnConfig struct {
			Columns []struct {
				Name     string
				Statuses []map[string]string
			}
		}
	}
	c.json("GET", "/rest/agile/1.0/board/12/configuration", nil, 200, &cfg)
	byName := map[string][]string{}
	for _, col := range cfg.ColumnConfig.Columns {
		for _, st := range col.Statuses {
			if _, named := st["name"]; named {
				t.Errorf("column %q names its status: %v; the document gives only id and self", col.Name, st)
			}
			byName[col.Name] = append(byName[col.Name], st["id"])
		}
	}
	if got := byName[ColumnInProgress]; !slices.Equal(got, []string{"3", "4"}) {
		t.Errorf("In Progress holds %v, want In Progress (3) and Reopened (4)", got)
	}
	if got := byName[ColumnQAHold]; !slices.Equal(got, []string{"10004", "10007"}) {
		t.Errorf("QA Hold holds %v, want QA Hold and Waiting for QA", got)
	}
	// A column named unlike its status.
	var page searchPage
	c.json("GET", "/rest/api/3/search/jql"+q("jql", "status = "+byName[ColumnProduction][0], "fields", "status", "maxResults", "1"), nil, 200, &page)
	var st struct{ Name string }
	json.Unmarshal(page.Issues[0].Fields["status"], &st)
	if st.Name == ColumnProduction || st.Name != StatusProduction {
		t.Errorf("the Production column's status is named %q, want %q", st.Name, StatusProduction)
	}
}

// platform, Get transitions (GET /rest/api/3/issue/{issueIdOrKey}/transitions):
// the documented example offers "Close Issue" to a status named "In
// Progress" with id 10000, which the agile example's board has on no
// column (its "In progress" holds 3). The stand-in offers, first, a
// transition to a status named Production that no column holds.
func TestVendorTransitionToStatusOnNoColumn(t *testing.T) {
	_, c := start(t, Options{})
	var cfg struct {
		ColumnConfig struct {
			Columns []struct {
				Name     string
				Statuses []struct{ ID string }
			}
		}
	}
	c.json("GET", "/rest/agile/1.0/board/12/configuration", nil, 200, &cfg)
	onBoard := map[string]bool{}
	for _, col := range cfg.ColumnConfig.Columns {
		for _, st := range col.Statuses {
			onBoard[st.ID] = true
		}
	}
	var tr transitionsResp
	c.json("GET", "/rest/api/3/issue/ACME-5/transitions", nil, 200, &tr)
	first := tr.Transitions[0]
	if first.To.Name != ColumnProduction || onBoard[first.To.ID] {
		t.Fatalf("first transition %+v, want one to a status named Production on no column", first)
	}
	var release string
	for _, x := range tr.Transitions {
		if x.To.ID == workflowStatusIDs[StatusProduction] {
			release = x.ID
		}
	}
	if release != "71" || !onBoard[workflowStatusIDs[StatusProduction]] {
		t.Errorf("no transition into the Production column's status: %+v", tr.Transitions)
	}
}

// platform, Search for issues using JQL enhanced search (GET
// /rest/api/3/search/jql): the nextPageToken parameter's description says
// the token is "not included in the response for the last page"; the
// SearchAndReconcileResults schema says it "will be null" when "this result
// represents the last or the only page". The only page carries null; the
// last of several leaves it out. Both say isLast.
func TestVendorEnhancedSearchLastPageToken(t *testing.T) {
	_, c := start(t, Options{Issues: manyIssues(30)})
	get := func(extra ...string) map[string]json.RawMessage {
		t.Helper()
		resp, b := c.do("GET", "/rest/api/3/search/jql"+q(append([]string{"jql", "project = ACME", "fields", "summary"}, extra...)...), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	only := get("maxResults", "50")
	if tok, ok := only["nextPageToken"]; !ok || string(tok) != "null" || string(only["isLast"]) != "true" {
		t.Errorf("only page: nextPageToken %s (present %v), isLast %s; want null", tok, ok, only["isLast"])
	}
	first := get("maxResults", "20")
	var tok string
	if err := json.Unmarshal(first["nextPageToken"], &tok); err != nil || tok == "" || string(first["isLast"]) != "false" {
		t.Fatalf("first of two pages: token %s, isLast %s", first["nextPageToken"], first["isLast"])
	}
	last := get("maxResults", "20", "nextPageToken", tok)
	if _, ok := last["nextPageToken"]; ok || string(last["isLast"]) != "true" {
		t.Errorf("last of two pages: token present %v, isLast %s; want it left out", ok, last["isLast"])
	}
}

// platform, Search for issues using JQL (GET /rest/api/2/search, the offset
// search Data Center serves): the SearchResults schema requires none of its
// properties, "total" included. With OmitTotal the stand-in leaves it out
// and a client must page to a short or empty page.
func TestVendorOffsetSearchWithoutTotal(t *testing.T) {
	_, c := start(t, Options{Issues: manyIssues(45), PageSize: 20, OmitTotal: true})
	seen := 0
	for startAt, pages := 0, 0; ; pages++ {
		resp, b := c.do("GET", "/rest/api/2/search"+q("jql", "project = ACME", "startAt", strconv.Itoa(startAt), "fields", "status"), nil)
		if resp.StatusCode != 200 || strings.Contains(string(b), `"total"`) {
			t.Fatalf("page at %d: %d %s", startAt, resp.StatusCode, b)
		}
		var page searchPage
		json.Unmarshal(b, &page)
		seen += len(page.Issues)
		startAt += len(page.Issues)
		if len(page.Issues) < page.MaxResults {
			if pages != 2 || seen != 45 {
				t.Errorf("ended after %d pages with %d issues", pages+1, seen)
			}
			return
		}
	}
}

// agile, "Jira Software field input formats": the sprint field's id is
// per site ("e.g. id: customfield_10007") and is found in the platform's
// Get fields (GET /rest/api/3/field) by schema.custom
// com.pyxis.greenhopper.jira:gh-sprint. The stand-in's is not
// customfield_10020, which is its rank field, as rankCustomFieldId 10020 is
// in the agile board configuration example.
func TestVendorSprintFieldFoundByItsSchema(t *testing.T) {
	_, c := start(t, Options{})
	type fieldEntry struct {
		ID     string
		Schema struct{ Custom string }
	}
	var fields []fieldEntry
	c.json("GET", "/rest/api/3/field", nil, 200, &fields)
	var sprint string
	for _, f := range fields {
		if f.Schema.Custom == JiraSprintSchema {
			sprint = f.ID
		}
	}
	if sprint == "" || sprint == "customfield_10020" || sprint != SprintField {
		t.Fatalf("sprint field %q", sprint)
	}
	var page searchPage
	c.json("GET", "/rest/api/3/search/jql"+q("jql", "key = ACME-16", "fields", sprint+",customfield_10020"), nil, 200, &page)
	var sprints []struct{ Name string }
	if err := json.Unmarshal(page.Issues[0].Fields[sprint], &sprints); err != nil || len(sprints) != 1 || sprints[0].Name != CurrentSprint("ACME") {
		t.Errorf("sprints %s: %v", page.Issues[0].Fields[sprint], err)
	}
	var rank string
	if err := json.Unmarshal(page.Issues[0].Fields["customfield_10020"], &rank); err != nil || !strings.HasPrefix(rank, "0|") {
		t.Errorf("customfield_10020 = %s, want a rank", page.Issues[0].Fields["customfield_10020"])
	}
	var cfg struct {
		Ranking struct{ RankCustomFieldID int }
	}
	c.json("GET", "/rest/agile/1.0/board/12/configuration", nil, 200, &cfg)
	if cfg.Ranking.RankCustomFieldID != 10020 {
		t.Errorf("rankCustomFieldId %d", cfg.Ranking.RankCustomFieldID)
	}

	// Another site, another id.
	_, c = start(t, Options{SprintField: "customfield_10021"})
	c.json("GET", "/rest/api/2/field", nil, 200, &fields)
	if !slices.ContainsFunc(fields, func(f fieldEntry) bool { return f.ID == "customfield_10021" && f.Schema.Custom == JiraSprintSchema }) {
		t.Errorf("fields %+v lack customfield_10021 as the sprint field", fields)
	}
}
