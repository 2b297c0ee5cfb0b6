package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

const commandsConfig = `
[deploy]
name = "Flows"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[[phase]]
name = "P"
[[phase.step]]
id = "hello"
title = "Say hello"
estimate = "1m"
timeout = "30s"
command = "echo hello-from-{{env}}; echo second-line"
[[phase.step]]
id = "slow"
title = "Slow step"
estimate = "1m"
command = "echo slow-started; sleep 30"
[[phase.step]]
id = "look"
title = "Look at it"
estimate = "1m"
`

func commandsEngine(t *testing.T) (*harness, *memJournal) {
	t.Helper()
	cfg, err := config.Parse("c.toml", []byte(commandsConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	j := &memJournal{}
	return newHarness(t, Options{Config: cfg, Runbook: runbook.New(cfg), Journal: j, Operator: "tester", Day: now, Now: now}), j
}

// TestCommandStepByRequest: run, preview, confirm; the view sees the run
// start, its lines, then its end, in that order, and the notice; the
// journal has the intent, the process group and the result.
func TestCommandStepByRequest(t *testing.T) {
	h, j := commandsEngine(t)
	p, err := h.e.Request(context.Background(), h.v, view.Request{Op: view.OpRunStep, Step: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Started || p.Step != "hello" || !strings.Contains(strings.Join(p.Lines, "\n"), "timeout 30s") {
		t.Fatalf("preview %+v: want one to confirm, with the step's timeout", p)
	}
	if err := h.e.Confirm(context.Background(), h.v, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Confirm(context.Background(), h.v, p.ID); err == nil {
		t.Error("a proposal ran twice")
	}
	h.until("the run to end", func() bool {
		for _, e := range h.events {
			if e.Ended != nil && e.Ended.Command {
				return true
			}
		}
		return false
	})
	var order []string
	for _, e := range h.events {
		switch {
		case e.Started != nil:
			order = append(order, "start")
		case e.Lines != nil:
			order = append(order, e.Lines...)
		case e.Ended != nil:
			order = append(order, "end")
		}
	}
	if got := strings.Join(order, ","); got != "start,hello-from-production,second-line,end" {
		t.Fatalf("the view saw %s", got)
	}
	h.until("the notice", func() bool { return h.notice("done: exit 0") != "" })
	var types []string
	for _, r := range j.records() {
		types = append(types, r.Type)
	}
	if got := strings.Join(types, ","); got != "action.intent,action.progress,action.result" {
		t.Errorf("journal %s", got)
	}
	if s := h.stepStatus("hello"); s != runbook.Done {
		t.Errorf("step is %s", s)
	}
}

// TestReadOnlyViewerIsRefused: a read-only viewer may watch, never change:
// refused at the request, and at the confirmation of another's preview.
func TestReadOnlyViewerIsRefused(t *testing.T) {
	h, j := commandsEngine(t)
	watcher := view.Viewer{Name: "watcher", ReadOnly: true}
	for _, r := range []view.Request{
		{Op: view.OpRunStep, Step: "hello"}, {Op: view.OpCheckStep, Step: "look"},
		{Op: view.OpSkipStep, Step: "look", Reason: "x"}, {Op: view.OpRollback}, {Op: view.OpStopAll},
	} {
		if _, err := h.e.Request(context.Background(), watcher, r); !errors.Is(err, view.ErrReadOnly) {
			t.Errorf("%s by a read-only viewer: %v", r.Op, err)
		}
	}
	p, err := h.e.Request(context.Background(), h.v, view.Request{Op: view.OpRunStep, Step: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Confirm(context.Background(), watcher, p.ID); !errors.Is(err, view.ErrReadOnly) {
		t.Errorf("a read-only viewer confirmed: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(j.records()); n != 0 {
		t.Errorf("%d records written for a read-only viewer", n)
	}
}

// TestStepMarksAndCancelByRequest: a skip needs a reason; a running step
// is cancelled and journaled as such; a step ticked off is done.
func TestStepMarksAndCancelByRequest(t *testing.T) {
	h, j := commandsEngine(t)
	if _, err := h.e.Request(context.Background(), h.v, view.Request{Op: view.OpSkipStep, Step: "look"}); err == nil {
		t.Error("a skip without a reason was taken")
	}
	h.ask(view.Request{Op: view.OpRunStep, Step: "slow"})
	h.until("the slow step to print", func() bool {
		for _, e := range h.events {
			if len(e.Lines) > 0 && e.Lines[0] == "slow-started" {
				return true
			}
		}
		return false
	})
	if p := h.ask(view.Request{Op: view.OpCancelStep, Step: "slow"}); !p.Started || !strings.Contains(p.Note, "cancelling") {
		t.Errorf("cancel: %+v", p)
	}
	h.until("the slow step cancelled", func() bool { return h.stepStatus("slow") == runbook.Failed })
	h.ask(view.Request{Op: view.OpCheckStep, Step: "look"})
	h.until("the step ticked off", func() bool { return h.stepStatus("look") == runbook.Done })
	var result string
	for _, r := range j.records() {
		if r.Type == runbook.RecResult && r.Step == "slow" {
			result = r.Error
		}
	}
	if !strings.Contains(result, "cancelled") {
		t.Errorf("the cancelled run's result says %q", result)
	}
}
