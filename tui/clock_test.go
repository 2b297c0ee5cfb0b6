package tui

import (
	"reflect"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// TestWatcherClockWaitsForRealChange: with ClockEvery, a status that only
// says the time moved is held until ClockEvery has passed, and a status
// that says anything else is taken at once.
func TestWatcherClockWaitsForRealChange(t *testing.T) {
	m := sizedModel(t, 120, 40)
	m.opts.ClockEvery = 5 * time.Second
	start := m.now
	tick := func(d time.Duration, st view.Status) {
		st.Now = start.Add(d)
		m.applyBatch(view.Batch{Status: &st})
	}
	base := m.status
	base.Health = map[string]snapshot.Health{"kubernetes": {Source: "kubernetes", State: snapshot.OK, Age: time.Second}}
	tick(0, base)
	// A source that is fine has read again: its age is not on screen.
	base.Health = map[string]snapshot.Health{"kubernetes": {Source: "kubernetes", State: snapshot.OK, Age: 2 * time.Second}}
	tick(time.Second, base)
	if !m.now.Equal(start) {
		t.Fatalf("a tick with nothing new on screen moved the clock to %s", m.now)
	}
	tick(5*time.Second, base)
	if !m.now.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("after ClockEvery the clock stays at %s", m.now)
	}
	changed := base
	changed.Gates = map[string]gates.Result{"rollout.complete": {State: gates.Pass, Value: "true"}}
	tick(6*time.Second, changed)
	if !m.now.Equal(start.Add(6*time.Second)) || m.status.Gates["rollout.complete"].State != gates.Pass {
		t.Fatal("a gate that changed waited for the clock")
	}
	m.opts.ClockEvery = 0
	tick(6500*time.Millisecond, changed)
	if !m.now.Equal(start.Add(6500 * time.Millisecond)) {
		t.Fatal("without ClockEvery every tick moves the clock")
	}
}

// TestEveryStatusFieldCountsAsChange: a field added to view.Status must
// be weighed by onlyTimePassed, or a watcher would miss its changes for up
// to ClockEvery.
func TestEveryStatusFieldCountsAsChange(t *testing.T) {
	differs := map[string]func(*view.Status){
		"Health":       func(s *view.Status) { s.Health = map[string]snapshot.Health{"postgres": {State: snapshot.Down}} },
		"Gates":        func(s *view.Status) { s.Gates = map[string]gates.Result{"g": {State: gates.Fail}} },
		"LKG":          func(s *view.Status) { s.LKG = map[string]snapshot.LastKnownGood{"p/api": {}} },
		"Orphans":      func(s *view.Status) { s.Orphans = map[string]int{"step": 42} },
		"Running":      func(s *view.Status) { s.Running = []view.Running{{ID: "1"}} },
		"PodsByClient": func(s *view.Status) { s.PodsByClient = map[string]string{"10.0.0.1": "api-1"} },
		"KubeDenied":   func(s *view.Status) { s.KubeDenied = "patch deployments" },
		"Watchers":     func(s *view.Status) { s.Watchers = []string{"alice"} },
		"Advisory":     func(s *view.Status) { s.Advisory = &view.Advisory{Signals: []string{"api 4/6 pods failing to start"}} },
	}
	st := reflect.TypeOf(view.Status{})
	for i := range st.NumField() {
		name := st.Field(i).Name
		if name == "Now" {
			continue
		}
		change, ok := differs[name]
		if !ok {
			t.Fatalf("view.Status.%s is new: make onlyTimePassed weigh it and add it here", name)
		}
		m := sizedModel(t, 120, 40)
		m.opts.ClockEvery = time.Minute
		next := m.status
		next.Now = m.now.Add(time.Second)
		change(&next)
		if m.onlyTimePassed(&next) {
			t.Errorf("a change of %s is taken for time passing", name)
		}
	}
}
