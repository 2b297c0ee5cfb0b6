package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestStaleFactsMakeGatesUnknown: a source that stopped answering without
// an error (a hung connection) must not keep a gate passing on old data.
func TestStaleFactsMakeGatesUnknown(t *testing.T) {
	cfg, err := config.Parse("g.toml", []byte(`
[deploy]
name = "G"
environment = "production"
[window]
start = "09:00"
end = "12:30"
timezone = "UTC"
[postgres]
[[postgres.target]]
name = "production"
dsn = "host=db dbname=app"
[[phase]]
name = "P"
[[phase.step]]
id = "locks"
title = "Nothing waits"
estimate = "1m"
gate = "locks.max_wait < 30s"
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Config: cfg, Runbook: runbook.New(cfg), Journal: &memJournal{}, Day: now, Now: now})
	state := snapshot.DBState{Targets: []snapshot.TargetLocks{{Name: "production", At: now, GoodAt: now}}}
	h.e.in.Emit(snapshot.Update{Source: "postgres", Seq: 1, At: now, GoodAt: now, Data: state})
	h.until("the gate to pass on a fresh reading", func() bool { return h.status.Gates["locks"].State == gates.Pass })
	later := now.Add(5 * time.Minute)
	h.e.in.Emit(snapshot.Update{Source: "clock", Seq: 2, At: later, GoodAt: later, Data: later})
	h.until("the gate to go unknown", func() bool {
		got := h.status.Gates["locks"]
		return got.State == gates.Unknown && strings.Contains(got.Reason, "stale")
	})
}
