package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/view"
)

// harness is an engine served with no source running and one view on it
// that reads every batch: the engine driven by requests, as a view would.
type harness struct {
	t       testing.TB
	e       *Engine
	batches <-chan view.Batch
	events  []view.Event
	history []journal.Record
	status  view.Status
	v       view.Viewer
}

func newHarness(t testing.TB, opts Options) *harness {
	return harnessOn(t, opts, false)
}

// startHarness is newHarness with the sources running, as in the cockpit.
func startHarness(t testing.TB, opts Options) *harness {
	return harnessOn(t, opts, true)
}

func harnessOn(t testing.TB, opts Options, withSources bool) *harness {
	t.Helper()
	e := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	g := sources.NewGroup(ctx)
	if withSources {
		e.Start(g)
	} else {
		e.Serve(g)
	}
	h := &harness{t: t, e: e, v: view.Viewer{Name: "tester"}}
	h.batches = e.Subscribe(ctx, h.v)
	t.Cleanup(func() {
		cancel()
		e.Shutdown(10 * time.Second)
		g.Stop()
	})
	// The whole state first, as a view starts.
	if !h.take(10 * time.Second) {
		t.Fatal("no first batch")
	}
	return h
}

// take reads one batch, keeping what it carries.
func (h *harness) take(timeout time.Duration) bool {
	select {
	case b, ok := <-h.batches:
		if !ok {
			return false
		}
		if b.Initial {
			h.history = append([]journal.Record(nil), b.History...)
		}
		if b.Status != nil {
			h.status = *b.Status
		}
		for _, ev := range b.Events {
			if ev.Record != nil {
				h.history = append(h.history, *ev.Record)
			}
		}
		h.events = append(h.events, b.Events...)
		return true
	case <-time.After(timeout):
		return false
	}
}

// until reads batches until cond holds, failing the test after 30 s.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	h.untilWithin(30*time.Second, what, cond)
}

func (h *harness) untilWithin(limit time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("waited %s for %s", limit, what)
		}
		h.take(time.Second)
	}
}

// stepStatus is a step's state in the engine's runbook.
func (h *harness) stepStatus(id string) runbook.Status {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.rb.Step(id).State.Status
}

// notice is the newest notice containing text, or "".
func (h *harness) notice(text string) string {
	for i := len(h.events) - 1; i >= 0; i-- {
		if n := h.events[i].Notice; n != nil && strings.Contains(n.Text, text) {
			return n.Text
		}
	}
	return ""
}

// ask sends a request and confirms its preview when it has one.
func (h *harness) ask(r view.Request) view.Proposal {
	h.t.Helper()
	p, err := h.e.Request(context.Background(), h.v, r)
	if err != nil {
		h.t.Fatalf("request %s: %v", r.Op, err)
	}
	if !p.Started {
		if err := h.e.Confirm(context.Background(), h.v, p.ID); err != nil {
			h.t.Fatalf("confirm %s: %v", r.Op, err)
		}
	}
	return p
}

// memJournal is a journal in memory, safe for the runner's goroutines.
type memJournal struct {
	mu   sync.Mutex
	recs []journal.Record
}

func (j *memJournal) Append(r journal.Record) (journal.Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r.At.IsZero() {
		r.At = time.Now()
	}
	j.recs = append(j.recs, r)
	return r, nil
}

func (j *memJournal) records() []journal.Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]journal.Record(nil), j.recs...)
}
