package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// TestRecordWrittenWhenEveryStepIsClosed: closing the last step writes the
// deploy record beside the journal, once.
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
	m := New(Options{Config: cfg, Runbook: rb, Journal: &recordingJournal{}, Day: now, Now: now, Theme: theme.New(true, true),
		History: []journal.Record{start}, JournalPath: jpath})
	_, cmd := m.Update(recordRelay(journal.Record{Type: runbook.RecStepCheck, Step: "one", At: now.Add(time.Minute), By: "deployer"}))
	if cmd == nil {
		t.Fatal("closing the last step wrote no record")
	}
	m.Update(cmd())
	b, err := os.ReadFile(ReportPath(jpath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "The only step") {
		t.Errorf("the record does not list the step:\n%s", b)
	}
	if m.flash == nil || !strings.Contains(m.flash.text, ReportPath(jpath)) {
		t.Errorf("flash %+v does not say where the record is", m.flash)
	}
	if _, cmd := m.Update(recordRelay(journal.Record{Type: "note", At: now.Add(2 * time.Minute)})); cmd != nil {
		t.Error("the record was written a second time")
	}
}

// recordRelay is the relay's batch carrying one journal record.
func recordRelay(rec journal.Record) relayMsg {
	return relayMsg{events: []relayEvent{{rec: &rec}}}
}
