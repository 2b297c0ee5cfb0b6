package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

func quietConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse("q.toml", []byte(`
[deploy]
name = "Quiet"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[[phase]]
name = "P"
[[phase.step]]
id = "one"
title = "One"
estimate = "1m"
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietEngine(t testing.TB) *harness {
	cfg := quietConfig(t)
	now := time.Now()
	return newHarness(t, Options{Config: cfg, Runbook: runbook.New(cfg), Journal: &memJournal{}, Day: now, Now: now})
}

// TestFanOutCoalescesBursts: a burst of snapshots reaches a view as a few
// batches (at most one per frame), with the newest value per source, and
// every output line in order.
func TestFanOutCoalescesBursts(t *testing.T) {
	h := quietEngine(t)
	start := time.Now()
	const n = 5000
	for i := 1; i <= n; i++ {
		h.e.in.Emit(snapshot.Update{Source: "postgres", Seq: uint64(i), Data: i})
		h.e.in.Emit(snapshot.Update{Source: "jira", Seq: uint64(i), Data: -i})
		h.e.in.Lines("run1", fmt.Sprint(i))
	}
	last := map[string]snapshot.Update{}
	lines, batches := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for (last["postgres"].Seq != n || last["jira"].Seq != n || lines != n) && time.Now().Before(deadline) {
		select {
		case b := <-h.batches:
			batches++
			for _, u := range b.Updates {
				last[u.Source] = u
			}
			for _, e := range b.Events {
				for _, l := range e.Lines {
					lines++
					if l != fmt.Sprint(lines) {
						t.Fatalf("line %d is %q: out of order", lines, l)
					}
				}
			}
		case <-time.After(time.Second):
		}
	}
	elapsed := time.Since(start)
	if last["postgres"].Data != n || last["jira"].Data != -n {
		t.Fatalf("newest values not delivered: %+v", last)
	}
	if lines != n {
		t.Fatalf("%d output lines delivered, want %d", lines, n)
	}
	if limit := int(elapsed/Frame) + 2; batches > limit {
		t.Fatalf("%d batches in %s: more than one per frame (limit %d)", batches, elapsed, limit)
	}
}

// TestTwoViewsSeeTheSameRecordsInOrder, and a view that stops reading
// delays neither the engine nor the other view: it is sent the whole
// state once it reads again.
func TestTwoViewsSeeTheSameRecordsInOrder(t *testing.T) {
	h := quietEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := h.e.Subscribe(ctx, view.Viewer{Name: "second"})
	stalled := h.e.Subscribe(ctx, view.Viewer{Name: "stalled", ReadOnly: true})
	<-stalled // the whole state, then it reads nothing more for a while

	seqs := func(recs []journal.Record) []uint64 {
		var out []uint64
		for _, r := range recs {
			out = append(out, r.Seq)
		}
		return out
	}
	// One record first, which the stalled view's delivery takes and then
	// holds, blocked on a view that does not read; then the flood.
	h.e.in.push(item{rec: &journal.Record{Type: "note", Seq: 1, Summary: "n"}})
	time.Sleep(300 * time.Millisecond)
	var got2 []journal.Record
	const n = MaxQueued + 500
	go func() {
		for i := 1; i < n; i++ {
			h.e.in.push(item{rec: &journal.Record{Type: "note", Seq: uint64(i + 1), Summary: "n"}})
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(got2) < n && time.Now().Before(deadline) {
		select {
		case b := <-second:
			if b.Initial {
				got2 = append([]journal.Record(nil), b.History...)
			}
			for _, e := range b.Events {
				if e.Record != nil {
					got2 = append(got2, *e.Record)
				}
			}
		case <-time.After(time.Second):
		}
	}
	h.until("the first view to have every record", func() bool { return len(h.history) >= n })
	if len(got2) != n {
		t.Fatalf("the second view got %d records of %d while a third stalled", len(got2), n)
	}
	first := seqs(h.history)
	for i, s := range seqs(got2) {
		if first[i] != s || s != uint64(i+1) {
			t.Fatalf("record %d: first view has seq %d, second %d", i, first[i], s)
		}
	}
	// The stalled view fell more than MaxQueued behind: after the one batch
	// it had in hand when it stalled, it is sent the whole state, with every
	// record in it.
	b := <-stalled
	for range 3 {
		if b.Initial {
			break
		}
		b = <-stalled
	}
	if !b.Initial || len(b.History) != n {
		t.Fatalf("stalled view: initial %v with %d records, want the whole state with %d", b.Initial, len(b.History), n)
	}
}

// TestDriverSeesWhoWatches: a read-only view joining or leaving is in the
// next status every view is sent; the driver's own view is not a watcher.
func TestDriverSeesWhoWatches(t *testing.T) {
	h := quietEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	watching := h.e.Subscribe(ctx, view.Viewer{Name: "alice@laptop", ReadOnly: true})
	go func() {
		for range watching {
		}
	}()
	h.until("alice in the watchers", func() bool {
		return len(h.status.Watchers) == 1 && h.status.Watchers[0] == "alice@laptop"
	})
	cancel()
	h.until("alice gone from the watchers", func() bool { return len(h.status.Watchers) == 0 })
}
