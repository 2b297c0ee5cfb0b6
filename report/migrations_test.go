package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// The record keeps the pre-flight's verdicts as they were before the push
// and, beside each prediction, what the clone showed.
func TestReportHasThePreflight(t *testing.T) {
	cfg := loadConfig(t)
	start := time.Date(2026, 11, 23, 9, 2, 0, 0, time.UTC)
	p := report.PreflightOf(snapshot.Preflight{Origin: "db/*.sql", Target: "production", Statements: []snapshot.PreflightStatement{
		{Where: "db/1.sql:2", SQL: "CREATE INDEX appointments_status_idx ON appointments (status)", Kind: "CREATE INDEX",
			Locks: "SHARE on appointments", Verdict: "block", Observed: "dropped from the record",
			Findings: []snapshot.PreflightFinding{{Code: "blocking-index", Verdict: "block", Reason: "blocks writes to appointments while it builds", Fix: "CREATE INDEX CONCURRENTLY …"}},
			Figures:  "appointments: 1.0M rows, 187 MB"},
		{Where: "db/1.sql:3", SQL: "SET lock_timeout = '2s'", Kind: "SET", Verdict: "ok"},
	}})
	if strings.Contains(string(p.Record().Data), "dropped from the record") {
		t.Fatal("the verdicts record carries the clone's observation; the dry run's result does")
	}
	pre := p.Record()
	pre.Seq, pre.At = 2, start.Add(time.Minute)
	detail, _ := json.Marshal(map[string]any{"target": "clone", "observed": []map[string]any{{
		"File": "db/1.sql", "Line": 2, "SQL": "CREATE INDEX …", "Took": int64(4100 * time.Millisecond),
		"Locks": []map[string]any{{"Relation": "public.appointments", "Lock": "SHARE", "Held": int64(4100 * time.Millisecond)}},
	}}})
	ok := true
	recs := []journal.Record{
		{Seq: 1, At: start, Type: runbook.RecDeployStart, By: "tomasz"},
		pre,
		{Seq: 3, At: start.Add(2 * time.Minute), Type: runbook.RecResult, Kind: "migrations.dry_run", Action: "a1", OK: &ok,
			Summary: "dry run on clone: 2 of 2 statements ran", Data: detail},
	}
	text := report.Markdown(cfg, recs, report.Options{})
	for _, want := range []string{
		"## Migrations",
		"Dry run on clone at 09:04:00: dry run on clone: 2 of 2 statements ran",
		"Pre-flight at 09:03:00: pre-flight: 2 statements: 1 block, 1 ok",
		"| db/1.sql:2 | `CREATE INDEX appointments_status_idx ON appointments (status)` | block | SHARE on appointments | SHARE on public.appointments 4.1s | blocks writes to appointments while it builds; appointments: 1.0M rows, 187 MB |",
		"| db/1.sql:3 | `SET lock_timeout = '2s'` | ok | — | — | — |",
		"Migrations pre-flight: 2 statements: 1 block, 1 ok",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the record lacks %q:\n%s", want, text)
		}
	}
}
