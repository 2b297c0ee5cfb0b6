package tui

import (
	"context"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

type collector struct {
	mu   sync.Mutex
	msgs []tea.Msg
}

func (c *collector) send(m tea.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) snapshot() []tea.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]tea.Msg(nil), c.msgs...)
}

// TestRelayCoalescesBursts: a burst of snapshots is delivered as a few
// batches (at most one per frame), newest value per source, and every
// output line survives in order.
func TestRelayCoalescesBursts(t *testing.T) {
	r := NewRelay()
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx, c.send); close(done) }()

	start := time.Now()
	const n = 5000
	for i := 1; i <= n; i++ {
		r.Emit(snapshot.Update{Source: "postgres", Seq: uint64(i), Data: i})
		r.Emit(snapshot.Update{Source: "jira", Seq: uint64(i), Data: -i})
		r.Lines("run1", "line")
	}
	var last map[string]snapshot.Update
	lines := 0
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		last, lines = map[string]snapshot.Update{}, 0
		for _, m := range c.snapshot() {
			rm := m.(relayMsg)
			for _, u := range rm.updates {
				last[u.Source] = u
			}
			for _, e := range rm.events {
				if e.run == "run1" {
					lines += len(e.lines)
				}
			}
		}
		if last["postgres"].Seq == n && last["jira"].Seq == n && lines == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if last["postgres"].Data != n || last["jira"].Data != -n {
		t.Fatalf("newest values not delivered: %+v", last)
	}
	if lines != n {
		t.Fatalf("%d output lines delivered, want %d", lines, n)
	}
	batches := len(c.snapshot())
	if limit := int(elapsed/Frame) + 2; batches > limit {
		t.Fatalf("%d batches in %s: more than one per frame (limit %d)", batches, elapsed, limit)
	}
	cancel()
	<-done
}

func TestRelayKeepsRecordsUntilRunning(t *testing.T) {
	r := NewRelay()
	tee := teeJournal{j: nopJournal{}, relay: r}
	for i := 0; i < 3; i++ {
		if _, err := tee.Append(journal.Record{Type: "step.check", Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, c.send)
	var recs []journal.Record
	deadline := time.Now().Add(5 * time.Second)
	for len(recs) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		recs = nil
		for _, m := range c.snapshot() {
			for _, e := range m.(relayMsg).events {
				if e.rec != nil {
					recs = append(recs, *e.rec)
				}
			}
		}
	}
	if len(recs) != 3 {
		t.Fatalf("%d records delivered, want 3", len(recs))
	}
	for i, rec := range recs {
		if rec.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d, want them in order", i, rec.Seq)
		}
	}
}
