package engine

import (
	"context"
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

const lifecycleConfig = `
[deploy]
name = "Lifecycle"
environment = "production"
[window]
start = "09:00"
end = "12:30"
timezone = "UTC"
[[phase]]
name = "Deploy"
[[phase.step]]
id = "plan"
title = "A plan exists"
estimate = "5m"
[[phase.step]]
id = "push"
title = "Push production"
estimate = "5m"
command = "true"
starts_deploy = true
[[phase.step]]
id = "look"
title = "Look at it"
estimate = "5m"
[[phase]]
name = "Disaster Recovery"
contingency = true
[[phase.step]]
id = "rollback"
title = "Roll back"
estimate = "15m"
`

func lifecycleEngine(t *testing.T, now time.Time, history ...journal.Record) (*harness, string) {
	t.Helper()
	cfg, err := config.Parse("l.toml", []byte(lifecycleConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := runbook.New(cfg)
	for _, r := range history {
		rb.Apply(r)
	}
	path := filepath.Join(t.TempDir(), "lifecycle.jsonl")
	return newHarness(t, Options{Config: cfg, Runbook: rb, Journal: &memJournal{}, Operator: "tester",
		Day: now, Now: now, History: history, JournalPath: path}), path
}

func (h *harness) do(r view.Request) {
	h.t.Helper()
	p, err := h.e.Request(context.Background(), h.v, r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.Op, r.Step, err)
	}
	if !p.Started {
		if err := h.e.Confirm(context.Background(), h.v, p.ID); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) record(typ string) (journal.Record, bool) {
	for _, r := range h.history {
		if r.Type == typ {
			return r, true
		}
	}
	return journal.Record{}, false
}

func (h *harness) count(typ string) int {
	n := 0
	for _, r := range h.history {
		if r.Type == typ {
			n++
		}
	}
	return n
}

// The deploy starts when the step marked starts_deploy starts, not when
// the cockpit opens, and finishes when the last step of the normal flow
// closes; the record says how it ended and is written again when the
// journal grows.
func TestDeployStartsAtThePushAndFinishes(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h, path := lifecycleEngine(t, now)
	h.do(view.Request{Op: view.OpCheckStep, Step: "plan"})
	h.until("the plan ticked", func() bool { return h.stepStatus("plan") == runbook.Done })
	if _, ok := h.record(runbook.RecDeployStart); ok {
		t.Fatal("deploy.start before the step that starts the deploy")
	}
	h.do(view.Request{Op: view.OpRunStep, Step: "push"})
	h.until("deploy.start", func() bool { _, ok := h.record(runbook.RecDeployStart); return ok })
	start, _ := h.record(runbook.RecDeployStart)
	if start.Step != "push" || !strings.Contains(start.Summary, "Push production") {
		t.Errorf("deploy.start %+v: want it tied to the push", start)
	}
	h.until("the push done", func() bool { return h.stepStatus("push") == runbook.Done })
	if _, ok := h.record(runbook.RecDeployFinish); ok {
		t.Fatal("finished with a step open")
	}
	h.do(view.Request{Op: view.OpCheckStep, Step: "look"})
	h.until("deploy.finish", func() bool { _, ok := h.record(runbook.RecDeployFinish); return ok })
	fin, _ := h.record(runbook.RecDeployFinish)
	if fin.Summary != OutcomeFinished {
		t.Errorf("deploy.finish %q, want %q", fin.Summary, OutcomeFinished)
	}
	reportPath := ReportPath(path)
	var text string
	h.until("the deploy record", func() bool {
		b, err := os.ReadFile(reportPath)
		text = string(b)
		return err == nil && strings.Contains(text, "| Outcome | finished |")
	})
	if !strings.Contains(text, "Push production") {
		t.Errorf("the record does not say what started the deploy:\n%s", text)
	}
	// A step reopened after the finish is in the record too.
	h.do(view.Request{Op: view.OpReopenStep, Step: "look"})
	h.until("the record written again", func() bool {
		b, _ := os.ReadFile(reportPath)
		return strings.Contains(string(b), "Reopened: Look at it")
	})
	if n := h.count(runbook.RecDeployFinish); n != 1 {
		t.Errorf("%d deploy.finish records, want 1", n)
	}
}

// Past the rollback deadline (the window's end less the rollback steps'
// 15m and the 10m margin: 12:05) the clock says ROLL BACK and the journal
// says so once; F finishes early, naming what was left open.
func TestRollbackDueAndAnEarlyFinish(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)
	open := journal.Record{Type: runbook.RecDeployOpen, At: now.Add(-time.Hour), By: "tester"}
	h, _ := lifecycleEngine(t, now, open)
	cfg := h.e.cfg
	if by := runbook.RollbackBy(cfg, now); !by.Equal(time.Date(2026, 11, 23, 12, 5, 0, 0, time.UTC)) {
		t.Fatalf("rollback by %s, want 12:05", by)
	}
	h.do(view.Request{Op: view.OpCheckStep, Step: "plan"})
	h.until("the deadline journaled", func() bool { _, ok := h.record(RecRollbackDue); return ok })
	due, _ := h.record(RecRollbackDue)
	if !strings.Contains(due.Summary, "past 12:05") || !strings.Contains(due.Summary, "1 of 3 steps closed") {
		t.Errorf("rollback due: %q", due.Summary)
	}
	p, err := h.e.Request(context.Background(), h.v, view.Request{Op: view.OpFinish})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Join(p.Lines, "\n"); !strings.Contains(lines, "still open: Push production") || !strings.Contains(lines, "still open: Look at it") {
		t.Errorf("the finish preview does not say what is open:\n%s", lines)
	}
	if _, err := h.e.Request(context.Background(), view.Viewer{Name: "watcher", ReadOnly: true}, view.Request{Op: view.OpFinish}); err == nil {
		t.Error("a watcher finished the deploy")
	}
	if err := h.e.Confirm(context.Background(), h.v, p.ID); err != nil {
		t.Fatal(err)
	}
	h.until("deploy.finish", func() bool { _, ok := h.record(runbook.RecDeployFinish); return ok })
	fin, _ := h.record(runbook.RecDeployFinish)
	if fin.Summary != "finished, 2 steps left open" {
		t.Errorf("deploy.finish %q", fin.Summary)
	}
	h.do(view.Request{Op: view.OpCheckStep, Step: "look"})
	h.until("look ticked", func() bool { return h.stepStatus("look") == runbook.Done })
	if n := h.count(RecRollbackDue); n != 1 {
		t.Errorf("%d rollback-due records, want 1", n)
	}
	if _, err := h.e.Request(context.Background(), h.v, view.Request{Op: view.OpFinish}); err == nil || !strings.Contains(err.Error(), "already finished") {
		t.Errorf("finishing twice: %v", err)
	}
}

func TestRollbackByFromConfig(t *testing.T) {
	doc := strings.Replace(lifecycleConfig, `timezone = "UTC"`, "timezone = \"UTC\"\nrollback_by = \"11:45\"", 1)
	cfg, err := config.Parse("l.toml", []byte(doc), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	if by := runbook.RollbackBy(cfg, day); !by.Equal(time.Date(2026, 11, 23, 11, 45, 0, 0, time.UTC)) {
		t.Fatalf("rollback by %s, want 11:45", by)
	}
	start, end := cfg.Window.On(day)
	w := runbook.Window(time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC), start, end, runbook.RollbackBy(cfg, day), 10*time.Minute, false)
	if w.Phase != runbook.InWindow || !strings.Contains(w.Summary(), "roll back by 11:45") {
		t.Errorf("at 11:00: %s %q", w.Phase, w.Summary())
	}
	w = runbook.Window(time.Date(2026, 11, 23, 11, 45, 0, 0, time.UTC), start, end, runbook.RollbackBy(cfg, day), 10*time.Minute, false)
	if w.Phase != runbook.RollBack || !strings.Contains(w.Summary(), "past 11:45") {
		t.Errorf("at 11:45: %s %q", w.Phase, w.Summary())
	}
	bad := strings.Replace(doc, `rollback_by = "11:45"`, `rollback_by = "13:00"`, 1)
	if _, err := config.Parse("l.toml", []byte(bad), config.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "not inside the window 09:00–12:30") {
		t.Errorf("rollback_by outside the window: %v", err)
	}
}
