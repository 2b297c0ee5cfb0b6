package engine

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestSmokeRunsFromTheDeployStart: the smoke checks idle until the journal
// records deploy.start, then feed smoke.passing.
func TestSmokeRunsFromTheDeployStart(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	cfg, err := config.Parse("s.toml", []byte(`
[deploy]
name = "S"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[[smoke]]
name = "api health"
url = "`+srv.URL+`/health"
body = '"status":\s*"ok"'
interval = "1s"
[[phase]]
name = "P"
[[phase.step]]
id = "smoke"
title = "Smoke checks pass"
estimate = "1m"
gate = "smoke.passing"
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := startHarness(t, Options{Config: cfg, Runbook: runbook.New(cfg), Journal: &memJournal{}, Day: now, Now: now})
	h.until("the gate to wait for the deploy", func() bool {
		g := h.status.Gates["smoke"]
		return g.State == gates.Unknown && strings.Contains(g.Reason, "waits for the deploy to start")
	})
	time.Sleep(300 * time.Millisecond)
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d smoke requests before the deploy started", n)
	}
	if _, err := h.e.Runner().Journal.Append(journal.Record{Type: runbook.RecDeployStart, By: "tester", Summary: "S · production"}); err != nil {
		t.Fatal(err)
	}
	h.until("the gate to pass", func() bool { return h.status.Gates["smoke"].State == gates.Pass })
	h.e.mu.Lock()
	u := h.e.updates["smoke"]
	h.e.mu.Unlock()
	if s, ok := u.Data.(snapshot.Smoke); !ok || s.Started.IsZero() || s.Checks[0].Runs == 0 {
		t.Fatalf("the engine's smoke reading: %+v", u.Data)
	}
}

// TestSmokeStaleAfterItsInterval: checks read every minute are not stale
// between runs; every other source keeps the engine's limit.
func TestSmokeStaleAfterItsInterval(t *testing.T) {
	e := &Engine{cfg: &config.Config{Smoke: []config.Smoke{{Interval: config.Duration(10 * time.Second)}, {Interval: config.Duration(time.Minute)}}},
		opts: Options{StaleAfter: 45 * time.Second}}
	if got := e.staleAfter("smoke"); got != 2*time.Minute {
		t.Errorf("smoke stale after %s, want two of its longest intervals", got)
	}
	if got := e.staleAfter("kubernetes"); got != 45*time.Second {
		t.Errorf("kubernetes stale after %s", got)
	}
	e.cfg.Smoke = e.cfg.Smoke[:1]
	if got := e.staleAfter("smoke"); got != 45*time.Second {
		t.Errorf("a 10s check keeps the engine's limit, got %s", got)
	}
}
