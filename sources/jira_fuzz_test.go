package sources_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sources"
)

// stubAnswers collects real answers of the stand-in as seeds, so the fuzzer
// starts from the documented shapes and mutates outwards.
func stubAnswers(f *testing.F, paths ...string) [][]byte {
	f.Helper()
	srv := jirastub.New(jirastub.Options{Email: jiraStubEmail, Token: jiraStubToken, BoardID: jiraBoard, Project: jiraProject, PageSize: 3})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var out [][]byte
	for _, p := range paths {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+p, nil)
		req.SetBasicAuth(jiraStubEmail, jiraStubToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, b)
	}
	return out
}

const searchFields = "summary,status,fixVersions," + jirastub.SprintField + ",labels,priority,assignee"

var fuzzFields = sources.JiraFields{Sprint: jirastub.SprintField, FixVersions: "fixVersions"}

func FuzzDecodeJiraSearchPage(f *testing.F) {
	for _, b := range stubAnswers(f,
		"/rest/api/3/search/jql?jql=project%3DACME&fields="+searchFields,
		"/rest/api/2/search?jql=project%3DACME&startAt=3&fields="+searchFields,
		"/rest/api/3/search/jql?jql=project%3DACME",
	) {
		f.Add(b)
	}
	for _, name := range []string{"platform-search-jql.json", "platform-search.json", "derived-search-jql-first-page.json", "derived-search-offset-no-total-1.json"} {
		f.Add(vendorFile(f, name))
	}
	f.Add([]byte(`{"issues":[{"key":"ACME-1","fields":{"status":null,"priority":null,"assignee":null,"customfield_10007":null,"fixVersions":[]}}],"isLast":true}`))
	f.Add([]byte(`{"issues":[{"key":"ACME-2","fields":{"customfield_10007":["com.atlassian.greenhopper.service.sprint.Sprint@1f[id=3,rapidViewId=1,state=ACTIVE,name=Sprint, with comma,startDate=2026-11-09]"]}}],"total":1}`))
	f.Add([]byte(`{"issues":[{"key":"","fields":{}}]}`))
	f.Add([]byte(`{"issues":[{"key":"ACME-3","fields":{"summary":42}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := sources.DecodeJiraSearchPage(data, fuzzFields)
		if err != nil {
			return
		}
		for _, is := range p.Issues {
			if is.Key == "" {
				t.Fatalf("an issue without a key was accepted from %q", data)
			}
			for _, s := range is.Sprints {
				if s.Name == "" {
					t.Fatalf("a sprint without a name from %q", data)
				}
			}
		}
		// Decoding is a function of the input.
		again, err := sources.DecodeJiraSearchPage(data, fuzzFields)
		if err != nil || len(again.Issues) != len(p.Issues) || again.NextPageToken != p.NextPageToken {
			t.Fatalf("decoding %q twice differs", data)
		}
	})
}

func FuzzDecodeJiraBoardConfig(f *testing.F) {
	for _, b := range stubAnswers(f, "/rest/agile/1.0/board/12/configuration", "/rest/agile/1.0/board/13/configuration") {
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"columnConfig":{"columns":[{"name":"Done","statuses":[{"id":""},{"id":"5"}]}]}}`))
	f.Add([]byte(`{"id":1,"columnConfig":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bc, err := sources.DecodeJiraBoardConfig(data)
		if err != nil {
			return
		}
		for _, c := range bc.Columns {
			for _, id := range c.StatusIDs {
				if id == "" {
					t.Fatalf("an empty status id was kept from %q", data)
				}
			}
		}
		_ = sources.BoardJQL("ACME", bc)
	})
}

func FuzzDecodeJiraTransitions(f *testing.F) {
	for _, b := range stubAnswers(f, "/rest/api/3/issue/ACME-12/transitions", "/rest/api/2/issue/ACME-1/transitions?expand=transitions.fields") {
		f.Add(b)
	}
	f.Add([]byte(`{"transitions":[{"id":71,"name":"Ship","to":{"id":"10006","name":"Production"}}]}`))
	f.Add([]byte(`{"transitions":[{"id":null}]}`))
	f.Add([]byte(`{"transitions":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := sources.DecodeJiraTransitions(data)
		if err != nil {
			return
		}
		for _, tr := range ts {
			if tr.ID == "" || tr.ID == "null" {
				t.Fatalf("a transition without an id from %q", data)
			}
		}
	})
}

func FuzzDecodeJiraSprints(f *testing.F) {
	f.Add([]byte(`[{"id":147,"name":"ACME Sprint 47","state":"active"}]`))
	f.Add([]byte(`["com.atlassian.greenhopper.service.sprint.Sprint@7c[id=3,rapidViewId=1,state=CLOSED,name=Sprint 3,goal=,startDate=2026-01-01]"]`))
	f.Add([]byte(`["x[name=]","[id=1,name=a,name=b]","no brackets"]`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range sources.DecodeJiraSprints(json.RawMessage(data)) {
			if s.Name == "" || s.State != strings.ToLower(s.State) {
				t.Fatalf("sprint %+v from %q", s, data)
			}
		}
	})
}

func FuzzJiraErrorMessages(f *testing.F) {
	f.Add([]byte(`{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`))
	f.Add([]byte(`{"errorMessages":[],"errors":{"jql":"The value 'X' does not exist for the field 'status'.","b":"  "}}`))
	f.Add([]byte(`<html>502 Bad Gateway</html>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range sources.JiraErrorMessages(data) {
			if strings.TrimSpace(m) == "" || strings.ContainsAny(m, "\n\r") {
				t.Fatalf("message %q from %q", m, data)
			}
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "Mon, 23 Nov 2026 10:00:30 GMT", "-1", "", "1e9", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := sources.ParseRetryAfter(s, now)
		if d < 0 || !ok && d != 0 || d > 24*time.Hour && ok && !strings.Contains(s, ",") {
			t.Fatalf("ParseRetryAfter(%q) = %s, %v", s, d, ok)
		}
	})
}

func FuzzFindKeys(f *testing.F) {
	for _, s := range []string{
		"Merge pull request #101 from acme/feature/ACME-12-weight-chart",
		"ACME-1 ACME-2,ACME-30\nfixes acme-4", "XACME-5 ACME-", "ACME-123456789012345678901234567890",
	} {
		f.Add(s)
	}
	pat := sources.GitKeyPattern("ACME")
	valid := regexp.MustCompile(`^ACME-[0-9]+$`)
	// The reference: a regular expression, checked by hand for the word
	// boundary before the key.
	ref := regexp.MustCompile(`(?i)acme-[0-9]+`)
	f.Fuzz(func(t *testing.T, s string) {
		got := sources.FindKeys(nil, pat, []byte(s))
		var want []string
		for _, m := range ref.FindAllStringIndex(s, -1) {
			if c := s[max(m[0]-1, 0)]; m[0] > 0 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				continue
			}
			want = append(want, strings.ToUpper(s[m[0]:m[1]]))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("FindKeys(%q) = %q, want %q", s, got, want)
		}
		for _, k := range got {
			if !valid.MatchString(k) {
				t.Fatalf("key %q from %q", k, s)
			}
		}
	})
}
