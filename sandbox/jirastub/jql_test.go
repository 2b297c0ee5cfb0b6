package jirastub

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func keysOf(ns ...int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("ACME-%d", n)
	}
	return out
}

func TestJQL(t *testing.T) {
	_, c := start(t, Options{})
	cases := []struct {
		jql     string
		want    []string
		ordered bool
	}{
		{jql: "project = ACME", want: keysOf(seq(1, 40)...)},
		{jql: `project = "ACME"`, want: keysOf(seq(1, 40)...)},
		{jql: "project in (acme)", want: keysOf(seq(1, 40)...)},
		{jql: `status = "QA Hold"`, want: keysOf(8, 13, 16)},
		{jql: `status = 'QA Hold'`, want: keysOf(8, 13, 16)},
		{jql: `status = 10004`, want: keysOf(8, 13, 16)},
		{jql: `status in ("QA Hold", "Waiting for QA")`, want: keysOf(8, 13, 16, 19)},
		{jql: `status = Reopened`, want: keysOf(39)},
		{jql: `status = Production OR status = 10008`, want: nil},
		{jql: `STATUS IN ("In Progress", "In Review", 4)`, want: keysOf(28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)},
		{jql: `key in (ACME-1, ACME-2)`, want: keysOf(1, 2)},
		{jql: `issuekey = acme-7`, want: keysOf(7)},
		{jql: `project = ACME and status = Staging and not key = ACME-22`, want: keysOf(11, 18, 20, 21, 24)},
		{jql: `project = ACME AND status NOT IN (Released, "In Progress", Reopened, "In Review", Merged, Staging, "Testing For Production")`, want: keysOf(8, 13, 16, 19)},
		{jql: `(status = Staging OR status = "QA Hold") AND priority = Blocker`, want: keysOf(16)},
		{jql: `status = Staging OR status = "QA Hold" AND priority = Blocker`, want: keysOf(11, 16, 18, 20, 21, 22, 24)},
		{jql: `project = ACME && (status = "Testing For Production" || labels = blocker)`, want: keysOf(5, 12, 14, 15, 16, 17)},
		{jql: `project = ACME AND fixVersion = "2026.11.08" AND status != Released`, want: keysOf(15)},
		{jql: `fixVersion in unreleasedVersions() AND status = "Testing For Production"`, want: keysOf(5, 12, 14, 17)},
		{jql: `sprint in openSprints() AND status = Released`, want: nil},
		{jql: `sprint in closedSprints()`, want: keysOf(1, 2, 3, 4, 6, 7, 9, 10)},
		{jql: `sprint = "ACME Sprint 47" AND status = "QA Hold"`, want: keysOf(8, 13, 16)},
		{jql: `fixVersion is EMPTY`, want: keysOf(28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)},
		{jql: `assignee is empty`, want: keysOf(6)},
		{jql: `assignee = EMPTY`, want: keysOf(6)},
		{jql: `assignee != "Jonas Weber" AND status = Released`, want: keysOf(1, 2, 4, 7, 9)},
		{jql: `summary ~ "reminder"`, want: keysOf(8, 12, 13, 25)},
		{jql: `statusCategory = Done`, want: keysOf(1, 2, 3, 4, 6, 7, 9, 10)},
		{jql: `project = ACME AND NOT (status != "QA Hold")`, want: keysOf(8, 13, 16)},
		{jql: `status = "Testing For Production" ORDER BY key DESC`, want: keysOf(17, 15, 14, 12, 5), ordered: true},
		{jql: `status = "Testing For Production" order by KEY asc`, want: keysOf(5, 12, 14, 15, 17), ordered: true},
		{jql: `project = ACME AND status = Merged ORDER BY Rank`, want: keysOf(23, 25, 26, 27, 29, 30), ordered: true},
		{jql: `status = "Testing For Production" ORDER BY priority, key`, want: keysOf(12, 17, 14, 15, 5), ordered: true},
		{jql: `status = "In Review" ORDER BY status, Rank DESC`, want: keysOf(36, 34, 32, 31, 28), ordered: true},
		{jql: "project =\n ACME AND\tkey = ACME-3", want: keysOf(3)},
	}
	for _, tc := range cases {
		t.Run(tc.jql, func(t *testing.T) {
			var page searchPage
			c.json("GET", "/rest/api/2/search"+q("jql", tc.jql, "fields", "status"), nil, 200, &page)
			got := page.keys()
			want := slices.Clone(tc.want)
			if !tc.ordered {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}

func seq(a, b int) []int {
	var out []int
	for i := a; i <= b; i++ {
		out = append(out, i)
	}
	return out
}

func TestJQLErrors(t *testing.T) {
	_, c := start(t, Options{})
	cases := []struct{ jql, want string }{
		{"project = ", "Expecting either a value, list or function before the end of the query"},
		{`status in ("In Progress"`, "Expecting ')' before the end of the query"},
		{`status in ("In Progress" "Code Review")`, "Expecting ')' but got 'Code Review'"},
		{`foo = bar`, "Field 'foo' does not exist or you do not have permission to view it."},
		{`status = "Nope"`, "The value 'Nope' does not exist for the field 'status'."},
		{`project = NOPE`, "The value 'NOPE' does not exist for the field 'project'."},
		{`key in (ACME-999)`, "An issue with key 'ACME-999' does not exist for field 'key'."},
		{`key = banana`, "The issue key 'banana' for field 'key' is invalid."},
		{`status ~ x`, "The operator '~' is not supported by the 'status' field."},
		{`summary = x`, "The operator '=' is not supported by the 'summary' field."},
		{`status > Staging`, "The operator '>' is not supported by the 'status' field."},
		{`project = ACME ORDER BY foo`, "Field 'foo' does not exist"},
		{`project = ACME ORDER BY labels`, "Field 'labels' does not support sorting."},
		{`project = ACME ORDER BY`, "Expecting a field name before the end of the query"},
		{`status = Staging AND`, "Expecting a field name before the end of the query"},
		{`summary ~ "unterminated`, "The quoted string 'unterminated' has not been completed."},
		{`status = Stag*ing`, "The character '*' is a reserved JQL character."},
		{`summary ~ "a\qb"`, `'\q' is an illegal JQL escape sequence.`},
		{`sprint in futureSprintz()`, "Unable to find JQL function 'futureSprintz()'."},
		{`status in openSprints()`, "Function 'openSprints' is not supported by the 'status' field."},
		{`project = ACME status = Staging`, "Expecting either 'OR' or 'AND' but got 'status'."},
		{`status = and`, "'and' is a reserved JQL word."},
		{`status is Staging`, "Expecting 'EMPTY' but got 'Staging'."},
		{`status == Staging`, "Expecting either a value, list or function but got '='."},
		{`project = ACME AND (status = Staging`, "Expecting ')' before the end of the query"},
		{`status = (Staging, "QA Hold")`, "The operator '=' does not support the list value for field 'status'."},
		{`project ACME`, "Expecting operator but got 'ACME'."},
		{`= ACME`, "Expecting a field name but got '='."},
		{`rank = 1`, "Field 'Rank' does not support searching"},
		{"project = ACME AND\n status = %", "(line 2, character 11)"},
	}
	for _, tc := range cases {
		t.Run(tc.jql, func(t *testing.T) {
			for _, path := range []string{"/rest/api/3/search/jql", "/rest/api/2/search"} {
				resp, b := c.do("GET", path+q("jql", tc.jql), nil)
				if resp.StatusCode != 400 {
					t.Fatalf("%s: status %d: %s", path, resp.StatusCode, b)
				}
				msgs := errorResponse(t, b)
				if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
					t.Errorf("%s: messages %q, want one containing %q", path, msgs, tc.want)
				}
			}
		})
	}

	// Semantic errors are all reported at once.
	resp, b := c.do("GET", "/rest/api/3/search/jql"+q("jql", "foo = 1 AND status = Nope"), nil)
	if msgs := errorResponse(t, b); resp.StatusCode != 400 || len(msgs) != 2 {
		t.Errorf("two errors: %d %q", resp.StatusCode, msgs)
	}

	// Enhanced search refuses an unbounded query; the offset search serves it.
	for _, jql := range []string{"", "ORDER BY key", "  "} {
		resp, b := c.do("GET", "/rest/api/3/search/jql"+q("jql", jql), nil)
		if msgs := errorResponse(t, b); resp.StatusCode != 400 || !strings.Contains(msgs[0], "Unbounded JQL") {
			t.Errorf("unbounded %q: %d %q", jql, resp.StatusCode, msgs)
		}
	}
	var page searchPage
	c.json("GET", "/rest/api/2/search?jql=", nil, 200, &page)
	if page.Total != 40 {
		t.Errorf("unbounded v2 search total %d", page.Total)
	}
}

func FuzzJQL(f *testing.F) {
	for _, s := range []string{
		`project = ACME`, `project = "ACME" AND status in ("In Progress", "Code Review")`,
		`status = "QA Hold" OR key in (ACME-1, ACME-2) ORDER BY key DESC`,
		`NOT (labels = blocker OR priority = Blocker) ORDER BY Rank`,
		`sprint in openSprints() AND fixVersion in unreleasedVersions("ACME")`,
		`summary ~ "a\"b\u0041" AND assignee = currentUser()`, `assignee is not EMPTY`,
		`(((`, `status in (`, `"`, `'\`, `a = b c`, `order by`, `!status = x`, `key != ACME-1 || key = ACME-2`,
		"project = ACME\nAND status = Staging", `status = é`, `x ~ "\u12"`,
	} {
		f.Add(s)
	}
	s := New(Options{})
	f.Fuzz(func(t *testing.T, jql string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, bounded := range []bool{true, false} {
			o, msgs := s.search(jql, bounded)
			for _, m := range msgs {
				if m == "" {
					t.Fatalf("%q: empty error message", jql)
				}
			}
			if msgs == nil {
				seen := map[int]bool{}
				for i, idx := range o.idx {
					if seen[idx] || idx < 0 || idx >= len(s.issues) {
						t.Fatalf("%q: bad result %v", jql, o.idx)
					}
					seen[idx] = true
					if i > 0 && !o.less(o.idx[i-1], idx) {
						t.Fatalf("%q: result not in order", jql)
					}
				}
			}
		}
	})
}
