package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestSmokeUpdateRedrawsTheRollout: a reading of the smoke source alone
// draws the rollout pane again, with the checks in it.
func TestSmokeUpdateRedrawsTheRollout(t *testing.T) {
	m := sizedModel(t, 200, 60)
	m.rollout.Data.Source.Configured = true // as with a [kubernetes] section
	c := &countingRollout{Rollout: m.rollout}
	m.panes[paneRollout] = c
	now := time.Date(2026, 11, 23, 10, 0, 10, 0, time.UTC)
	b := tick(now)
	b.Updates = []snapshot.Update{rolloutAt(now, time.Hour)}
	m.applyBatch(b)
	m.Render()
	drawn := c.views

	smoke := snapshot.Smoke{Started: now.Add(-time.Minute), Checks: []snapshot.SmokeCheck{
		{Name: "api health", Want: 200, Runs: 4, Status: 200, Latency: 42 * time.Millisecond, Passing: true},
	}}
	b = tick(now)
	b.Updates = []snapshot.Update{{Source: smokeSource, Seq: 1, At: now, GoodAt: now, Data: smoke}}
	m.applyBatch(b)
	out := ansi.Strip(m.Render())
	if c.views != drawn+1 {
		t.Errorf("a smoke reading drew the rollout pane %d times, want once", c.views-drawn)
	}
	if !strings.Contains(out, "smoke ✓ api health 200 42ms") {
		t.Errorf("the rollout pane does not show the check:\n%s", out)
	}
}
