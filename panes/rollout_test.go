package panes

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// smokeFixture is two checks since a deploy that started at 10:40, one
// passing and one failing three times in a row.
func smokeFixture() *snapshot.Smoke {
	ago := func(d time.Duration) time.Time { return fixtureNow.Add(-d) }
	return &snapshot.Smoke{
		Started: ago(32 * time.Minute),
		Checks: []snapshot.SmokeCheck{
			{Name: "api health", URL: "https://api.acme.test/health", Want: 200, Runs: 180, At: ago(4 * time.Second),
				Status: 200, Latency: 42 * time.Millisecond, Passing: true},
			{Name: "search", URL: "https://api.acme.test/search?…", Want: 200, Runs: 12, At: ago(2 * time.Second),
				Status: 503, Latency: 8 * time.Millisecond, Failures: 3, Since: ago(22 * time.Second),
				Last: snapshot.SmokeFailure{At: ago(2 * time.Second), Why: "503, want 200"}},
		},
	}
}

func TestRenderRolloutSmokeGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			v := rolloutFixture(t)
			v.Smoke = smokeFixture()
			out := RenderRollout(v, w, 20, dark)
			assertBox(t, out, w, 20)
			golden.RequireEqual(t, out)
		})
	}
}

// TestRolloutShowsSmoke: a line per check at the top of the pane, the
// failing one with its reason, run of failures and the time it began in
// the window's zone; one line while the deploy has not started; none
// without checks.
func TestRolloutShowsSmoke(t *testing.T) {
	v := rolloutFixture(t)
	v.Smoke = smokeFixture()
	v.Loc = time.FixedZone("BST", 3600)
	lines := strings.Split(ansi.Strip(RenderRollout(v, 120, 20, dark)), "\n")
	for i, want := range []string{
		"smoke ✓ api health 200 42ms",
		"smoke ✕ search     503, want 200 (3 in a row, since 11:11:38)",
	} {
		if !strings.Contains(lines[1+i], want) {
			t.Errorf("line %d = %q, want %q", 1+i, lines[1+i], want)
		}
	}
	v.Smoke.Checks[1].Failures = 1
	if out := ansi.Strip(RenderRollout(v, 120, 20, dark)); !strings.Contains(out, "503, want 200 (since 11:11:38)") {
		t.Errorf("a first failure:\n%s", out)
	}

	v.Smoke = &snapshot.Smoke{Checks: []snapshot.SmokeCheck{{Name: "api health"}, {Name: "search"}}}
	out := ansi.Strip(RenderRollout(v, 120, 20, dark))
	if strings.Count(out, "smoke") != 1 || !strings.Contains(out, "smoke: waits for the deploy to start") {
		t.Errorf("before the deploy:\n%s", out)
	}
	v.Smoke.Started = fixtureNow
	if out := ansi.Strip(RenderRollout(v, 120, 20, dark)); !strings.Contains(out, "smoke … api health not run yet") {
		t.Errorf("started, not run yet:\n%s", out)
	}

	v.Smoke = &snapshot.Smoke{}
	if out := ansi.Strip(RenderRollout(v, 120, 20, dark)); strings.Contains(out, "smoke") {
		t.Errorf("no checks, yet smoke lines:\n%s", out)
	}
}

func TestRolloutSmokeAtEverySize(t *testing.T) {
	v := rolloutFixture(t)
	v.Smoke = smokeFixture()
	for w := 2; w <= 90; w += 7 {
		for h := 2; h <= 30; h += 4 {
			assertBox(t, RenderRollout(v, w, h, dark), w, h)
		}
	}
}
