package snapshot

import (
	"testing"
	"time"
)

// TestSmokeFacts: smoke.passing is unknown before the deploy starts and
// until every check has run; then it fails naming each failing check and
// why, or passes counting the checks.
func TestSmokeFacts(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 40, 0, 0, time.UTC)
	pass := SmokeCheck{Name: "api health", Want: 200, Runs: 3, Status: 200, Passing: true}
	web := SmokeCheck{Name: "web", Want: 200, Runs: 3, Status: 200, Passing: true}
	down := SmokeCheck{Name: "search", Want: 200, Runs: 3, Status: 503, Failures: 2,
		Last: SmokeFailure{At: start.Add(time.Minute), Why: "503, want 200"}}
	slow := SmokeCheck{Name: "login", Want: 200, Runs: 1, Failures: 1,
		Last: SmokeFailure{At: start.Add(time.Minute), Why: "timeout after 5s"}}
	for _, c := range []struct {
		name         string
		s            Smoke
		known, value bool
		detail       string
	}{
		{"no checks", Smoke{Started: start}, false, false, "no [[smoke]] checks"},
		{"before the start", Smoke{Checks: []SmokeCheck{{Name: "api health"}}}, false, false, "waits for the deploy to start"},
		{"one not run yet", Smoke{Started: start, Checks: []SmokeCheck{pass, {Name: "web"}, {Name: "login"}}}, false, false, "not run yet: web, login"},
		{"failing", Smoke{Started: start, Checks: []SmokeCheck{pass, down, slow}}, true, false, "failing: search (503, want 200), login (timeout after 5s)"},
		{"one passing", Smoke{Started: start, Checks: []SmokeCheck{pass}}, true, true, "1 check passing"},
		{"three passing", Smoke{Started: start, Checks: []SmokeCheck{pass, web, {Name: "login", Runs: 1, Passing: true, Last: slow.Last}}}, true, true, "3 checks passing"},
	} {
		f := c.s.Facts()["smoke.passing"]
		if f.Known != c.known || f.Bool != c.value || f.Detail != c.detail {
			t.Errorf("%s: %+v, want known %v, value %v, %q", c.name, f, c.known, c.value, c.detail)
		}
	}
}
