package tui

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// countingRollout counts how often the rollout pane is drawn.
type countingRollout struct {
	*panes.Rollout
	views int
}

func (c *countingRollout) View(w, h int) string {
	c.views++
	return c.Rollout.View(w, h)
}

func rolloutAt(now time.Time, podAge time.Duration) snapshot.Update {
	var pods []snapshot.Pod
	for i := range 3 {
		pods = append(pods, snapshot.Pod{Name: fmt.Sprintf("api-%d", i), Ready: 1, Total: 1, Status: "Running", Created: now.Add(-podAge)})
	}
	return snapshot.Update{Source: "kubernetes", Seq: uint64(now.Unix()), At: now, GoodAt: now,
		Data: snapshot.Rollout{Deployments: []snapshot.Deployment{{Namespace: "production", Name: "api", Desired: 3, Updated: 3, Ready: 3, Pods: pods}}}}
}

func tick(now time.Time) view.Batch {
	return view.Batch{Status: &view.Status{Now: now, Health: map[string]snapshot.Health{"kubernetes": {Source: "kubernetes", State: snapshot.OK}}}}
}

// TestClockTickRedrawsOnlyWhatMoves: with pods an hour old, a clock tick
// redraws the status bar and reuses the rollout pane until the minute its
// ages read differently; young pods make it redraw every second. The
// screen is always what a full redraw gives.
func TestClockTickRedrawsOnlyWhatMoves(t *testing.T) {
	m := sizedModel(t, 200, 60)
	c := &countingRollout{Rollout: m.rollout}
	m.panes[paneRollout] = c
	now := time.Date(2026, 11, 23, 10, 0, 10, 0, time.UTC)
	b := tick(now)
	b.Updates = []snapshot.Update{rolloutAt(now, time.Hour)}
	m.applyBatch(b)
	full := func() string {
		cached := m.Render()
		m.drawn = [paneCount]drawn{}
		views := c.views
		fresh := m.Render()
		c.views = views
		if cached != fresh {
			t.Fatalf("the reused screen differs from a full redraw at %s", m.now.Format(time.TimeOnly))
		}
		return cached
	}
	full()
	drawn := c.views
	for s := 1; s <= 40; s++ {
		m.applyBatch(tick(now.Add(time.Duration(s) * time.Second)))
		full()
	}
	if c.views != drawn {
		t.Errorf("the rollout pane was drawn %d times in 40 clock ticks with nothing in it moving", c.views-drawn)
	}
	// The pods turn 1h01m: the pane's ages read differently, so it is drawn.
	m.applyBatch(tick(now.Add(60 * time.Second)))
	full()
	if c.views != drawn+1 {
		t.Errorf("drawn %d times when the ages turned a minute, want once", c.views-drawn)
	}
	// Young pods: their ages count seconds.
	later := now.Add(2 * time.Minute)
	b = tick(later)
	b.Updates = []snapshot.Update{rolloutAt(later, 30*time.Second)}
	m.applyBatch(b)
	full()
	drawn = c.views
	for s := 1; s <= 5; s++ {
		m.applyBatch(tick(later.Add(time.Duration(s) * time.Second)))
		full()
	}
	if c.views != drawn+5 {
		t.Errorf("young pods: drawn %d times in 5 ticks, want 5", c.views-drawn)
	}
}

// TestUnchangedFrameIsTheSameString: Bubble Tea compares each frame with
// the one before; a frame with nothing new must be the very same string,
// even when a pane was drawn again (a poll with the same answer).
func TestUnchangedFrameIsTheSameString(t *testing.T) {
	m := sizedModel(t, 200, 60)
	first := m.Render()
	if again := m.Render(); unsafe.StringData(again) != unsafe.StringData(first) {
		t.Fatal("a frame with nothing new was built again")
	}
	m.touch(paneJira) // drawn again, to the same lines
	if again := m.Render(); unsafe.StringData(again) != unsafe.StringData(first) {
		t.Fatal("a pane drawn again to the same lines made a new frame")
	}
	m.setFocus(paneJira)
	if again := m.Render(); again == first {
		t.Fatal("a change of focus left the frame as it was")
	}
}
