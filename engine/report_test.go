package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

// TestRecordWrittenWhenEveryStepIsClosed: closing the last step writes the
// deploy record beside the journal, and the record follows the journal
// after that: a step reopened and closed again is in it.
func TestRecordWrittenWhenEveryStepIsClosed(t *testing.T) {
	cfg, err := config.Parse("r.toml", []byte(`
[deploy]
name = "Record"
environment = "production"
[window]
start = "09:00"
end = "12:30"
timezone = "UTC"
[[phase]]
name = "P"
[[phase.step]]
id = "one"
title = "The only step"
estimate = "1m"
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rb := runbook.New(cfg)
	start := journal.Record{Type: runbook.RecDeployStart, At: now, By: "deployer", Summary: "Record · production"}
	rb.Apply(start)
	jpath := filepath.Join(t.TempDir(), "2026-11-23.jsonl")
	h := newHarness(t, Options{Config: cfg, Runbook: rb, Journal: &memJournal{}, Day: now, Now: now,
		History: []journal.Record{start}, JournalPath: jpath})
	h.ask(view.Request{Op: view.OpCheckStep, Step: "one"})
	h.until("the record written", func() bool { return h.notice("the deploy record is in") != "" })
	b, err := os.ReadFile(ReportPath(jpath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "The only step") {
		t.Errorf("the record does not list the step:\n%s", b)
	}
	if !strings.Contains(h.notice("the deploy record is in"), ReportPath(jpath)) {
		t.Errorf("the notice %q does not say where the record is", h.notice("record"))
	}
	// Reopened and closed again: the record is written again, and the
	// notice is not repeated.
	h.ask(view.Request{Op: view.OpReopenStep, Step: "one"})
	h.until("the record written again", func() bool {
		b, _ := os.ReadFile(ReportPath(jpath))
		return strings.Contains(string(b), "Reopened: The only step")
	})
	n := 0
	for _, e := range h.events {
		if e.Notice != nil && strings.Contains(e.Notice.Text, "the deploy record is in") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notices of the record, want 1", n)
	}
}
