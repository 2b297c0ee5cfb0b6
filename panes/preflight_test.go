package panes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// fixturePreflight is the sandbox's pending migration as the pre-flight
// judged it after a dry run.
func fixturePreflight() *snapshot.Preflight {
	return &snapshot.Preflight{
		Origin: "migrations/20261203090000_appointment_reminders.sql", Target: "production",
		ProductionAt: fixtureNow, Took: 42e6, Measured: fixtureNow,
		Statements: []snapshot.PreflightStatement{
			{Where: "migrations/2026.sql:2", SQL: "SET lock_timeout = '2s'", Kind: "SET", Verdict: "ok", Observed: "no relation lock seen (1ms)"},
			{Where: "migrations/2026.sql:13", SQL: "CREATE INDEX IF NOT EXISTS appointments_status_idx\n  ON appointments (status)", Kind: "CREATE INDEX",
				Locks: "SHARE on appointments", Verdict: "block", Observed: "SHARE on public.appointments 3.1s",
				Findings: []snapshot.PreflightFinding{{Code: "blocking-index", Verdict: "block",
					Reason: "CREATE INDEX holds SHARE on appointments while it builds: every INSERT, UPDATE and DELETE waits",
					Fix:    "CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_status_idx ON appointments (status); outside a transaction block"}},
				Figures: "appointments: 1.0M rows, 187 MB"},
			{Where: "migrations/2026.sql:16", SQL: "DROP INDEX IF EXISTS appointments_patient_id_idx", Kind: "DROP INDEX",
				Locks: "ACCESS EXCLUSIVE on appointments_patient_id_idx", Verdict: "block",
				Findings: []snapshot.PreflightFinding{{Code: "drop-index-in-use", Verdict: "block",
					Reason: "appointments_patient_id_idx was used 1.2M times since 3 Nov: dropping it is the Stripe outage"}}},
		},
	}
}

func TestRenderPreflight(t *testing.T) {
	l := locksPane(t)
	l.Show(locksFeed(locksState(), snapshot.Health{Source: "postgres", State: snapshot.OK}), LocksContext{Pods: fixturePods.Pods, Preflight: fixturePreflight()})
	top := ansi.Strip(RenderLocks(l.Data, 160, 20, dark))
	if !strings.Contains(top, "pre-flight: 3 statements: 2 block, 1 ok · p shows it") {
		t.Errorf("the locks view has no pre-flight line:\n%s", top)
	}
	l.Update(press("p"))
	if !l.Data.ShowPreflight {
		t.Fatal("p does not show the pre-flight")
	}
	full := ansi.Strip(RenderLocks(l.Data, 200, 30, dark))
	for _, want := range []string{
		"3 DB locks · pre-flight",
		"BLOCK   migrations/2026.sql:13 CREATE INDEX IF NOT EXISTS appointments_status_idx ON appointments (status)",
		"predicted: SHARE on appointments · clone: SHARE on public.appointments 3.1s",
		"block: CREATE INDEX holds SHARE on appointments while it builds",
		"fix: CREATE INDEX CONCURRENTLY IF NOT EXISTS",
		"production: appointments: 1.0M rows, 187 MB",
		"OK      migrations/2026.sql:2 SET lock_timeout = '2s'",
		"predicted: no table lock",
	} {
		if !strings.Contains(full, want) {
			t.Errorf("missing %q in\n%s", want, full)
		}
	}
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderLocks(l.Data, w, 16, dark)
			assertBox(t, out, w, 16)
			golden.RequireEqual(t, out)
		})
	}
	l.Update(press("down"))
	if l.Data.PreflightOffset != 1 {
		t.Errorf("down scrolls the pre-flight: offset %d", l.Data.PreflightOffset)
	}
	l.Update(press("esc"))
	if l.Data.ShowPreflight {
		t.Error("esc goes back to the locks")
	}
}

func TestPreflightShowsProductionDown(t *testing.T) {
	p := fixturePreflight()
	p.ProductionErr = "dial tcp 10.0.0.5:5432: connect: connection refused"
	lines := ansi.Strip(strings.Join(PreflightLines(*p, 200, dark), "\n"))
	if !strings.Contains(lines, "✕ down: dial tcp 10.0.0.5:5432: connect: connection refused — verdicts that need it are unknown") {
		t.Errorf("production down is not said:\n%s", lines)
	}
	p.Err = "migrations/2026.sql:4: syntax error at or near \"TABL\""
	lines = ansi.Strip(strings.Join(PreflightLines(*p, 200, dark), "\n"))
	if !strings.Contains(lines, `migrations/2026.sql:4: syntax error at or near "TABL"`) || strings.Contains(lines, "BLOCK") {
		t.Errorf("a migration that does not parse shows its error alone:\n%s", lines)
	}
}
