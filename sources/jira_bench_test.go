package sources_test

import (
	"testing"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// A board of 2,000 issues served 100 a page: 20 pages.
const (
	bigBoardIssues = 2000
	bigBoardPage   = 100
	bigBoardPages  = bigBoardIssues / bigBoardPage
)

var bigBoardCases = []struct {
	name      string
	flavor    string
	omitTotal bool
}{
	{"cloud", config.JiraCloud, false},
	{"datacenter", config.JiraDatacenter, false},
	{"datacenter-without-total", config.JiraDatacenter, true},
}

func bigBoardSource(tb testing.TB, flavor string, omitTotal bool) (*jirastub.Server, *sources.BoardSource) {
	srv, j := jiraStub(tb, jirastub.Options{Issues: manyIssues(bigBoardIssues), PageSize: bigBoardPage, OmitTotal: omitTotal}, flavor)
	c := sources.NewJiraClient(j)
	c.PageSize = bigBoardPage
	return srv, &sources.BoardSource{Jira: j, Client: c, Target: snapshot.ReleaseTarget{FixVersion: jirastub.CurrentRelease}}
}

// Reading the board costs its configuration and one request a page, and
// the field list once per client; never a request more than the pages and
// one, which only the search without total needs, to see the end after a
// full last page.
func TestJiraBigBoardRequestBudget(t *testing.T) {
	for _, tc := range bigBoardCases {
		t.Run(tc.name, func(t *testing.T) {
			srv, src := bigBoardSource(t, tc.flavor, tc.omitTotal)
			b, err := src.Read(jiraCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if b.Cards() != bigBoardIssues || len(b.Unplaced) != 0 {
				t.Fatalf("%d cards, %d unplaced", b.Cards(), len(b.Unplaced))
			}
			first := srv.Requests()
			bc, err := src.Client.BoardConfig(jiraCtx(t), src.Jira.Board)
			if err != nil {
				t.Fatal(err)
			}
			before := srv.Requests()
			issues, err := src.Client.BoardIssues(jiraCtx(t), src.Jira.Project, bc)
			if err != nil || len(issues) != bigBoardIssues {
				t.Fatalf("%d issues, %v", len(issues), err)
			}
			search := srv.Requests() - before
			if search > bigBoardPages+1 {
				t.Errorf("%d search requests for %d pages", search, bigBoardPages)
			}
			if !tc.omitTotal && search != bigBoardPages {
				t.Errorf("%d search requests for %d pages: the end is known from the answer", search, bigBoardPages)
			}
			// Configuration, field list, pages.
			if first != 1+1+search {
				t.Errorf("first read took %d requests, want %d", first, 2+search)
			}
		})
	}
}

// BenchmarkJiraBigBoardRead reads the 2,000-issue board as a poll does
// after the first: configuration and search pages.
func BenchmarkJiraBigBoardRead(b *testing.B) {
	for _, tc := range bigBoardCases {
		b.Run(tc.name, func(b *testing.B) {
			srv, src := bigBoardSource(b, tc.flavor, tc.omitTotal)
			if _, err := src.Read(jiraCtx(b)); err != nil {
				b.Fatal(err)
			}
			start := srv.Requests()
			b.ResetTimer()
			for b.Loop() {
				if board, err := src.Read(jiraCtx(b)); err != nil || board.Cards() != bigBoardIssues {
					b.Fatalf("%d cards, %v", board.Cards(), err)
				}
			}
			b.ReportMetric(float64(srv.Requests()-start)/float64(b.N), "requests/op")
			b.ReportMetric(bigBoardPages, "pages")
		})
	}
}
