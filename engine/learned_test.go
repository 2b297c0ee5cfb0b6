package engine

import (
	"context"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

// TestLearnedTimesReachAViewAndATickKeepsItsNote: a view starting on the
// engine is told how long each step usually takes, and a tick asked with a
// note (as a rehearsal ticks a manual step) journals the note.
func TestLearnedTimesReachAViewAndATickKeepsItsNote(t *testing.T) {
	cfg, err := config.Parse("c.toml", []byte(commandsConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := runbook.New(cfg)
	rb.Learn(map[string]runbook.Usual{"hello": {Median: 3 * time.Second, Runs: 4}})
	now := time.Now()
	j := &memJournal{}
	h := newHarness(t, Options{Config: cfg, Runbook: rb, Journal: j, Operator: "tester", Day: now, Now: now})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := <-h.e.Subscribe(ctx, view.Viewer{Name: "late"})
	if !first.Initial || first.Learned["hello"] != (runbook.Usual{Median: 3 * time.Second, Runs: 4}) || len(first.Learned) != 1 {
		t.Errorf("the first batch's learned times: %+v", first.Learned)
	}

	h.ask(view.Request{Op: view.OpCheckStep, Step: "look", Reason: "ticked by the rehearsal"})
	h.until("the tick", func() bool { return h.stepStatus("look") == runbook.Done })
	var found bool
	for _, rec := range j.records() {
		if rec.Type == runbook.RecStepCheck && rec.Step == "look" {
			found = rec.Reason == "ticked by the rehearsal"
		}
	}
	if !found {
		t.Errorf("the tick's note is not in the journal: %+v", j.records())
	}
}
