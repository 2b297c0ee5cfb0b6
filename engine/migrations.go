package engine

import (
	"encoding/json"
	"fmt"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/view"
)

// notePreflight journals the pre-flight's verdicts whenever they change, so
// the deploy record says what was known, and when, before the push.
func (e *Engine) notePreflight(p snapshot.Preflight) {
	if e.opts.ReadOnly {
		return // the driver's engine records them
	}
	rec := report.PreflightOf(p)
	key := rec.Key()
	if key == e.preflightKey {
		return
	}
	e.preflightKey = key
	note := &actions.Note{Rec: rec.Record()}
	e.execute(note, note.Rec.Summary, 0, nil, false)
}

// replayPreflight starts from the verdicts and the dry run the journal
// already has: a restart neither journals the same verdicts again nor
// forgets what the clone showed.
func (e *Engine) replayPreflight() {
	for _, r := range e.history {
		switch {
		case r.Type == report.RecPreflight:
			var p report.Preflight
			if json.Unmarshal(r.Data, &p) == nil {
				e.preflightKey = p.Key()
			}
		case r.Type == runbook.RecResult && r.Kind == actions.KindMigrationsDryRun && e.migrations != nil:
			var d actions.MigrationsDryRunDetail
			if json.Unmarshal(r.Data, &d) == nil {
				e.migrations.SetObserved(r.At, d.Observed)
			}
		}
	}
}

// dryRunPlan runs the pending migrations on the step's target: a clone.
func (e *Engine) dryRunPlan(st *runbook.Step) (plan, error) {
	if e.migrations == nil {
		return plan{}, fmt.Errorf("%s: there is no [migrations] section in %s", st.Title, e.cfg.Path)
	}
	t, ok := e.pgTarget(st.Args["target"])
	if !ok {
		return plan{}, fmt.Errorf("%s: no [[postgres.target]] named %q (config line %d)", st.Title, st.Args["target"], st.Line)
	}
	a := &actions.MigrationsDryRun{Target: t, Production: e.cfg.Migrations.Target, Vars: e.vars,
		Origin: sources.MigrationOrigin(e.cfg, e.opts.Day), LockTimeout: e.cfg.Migrations.LockTimeout.D(), StepID: st.ID}
	summary := fmt.Sprintf("%s: migrations.dry_run on %s", st.Title, t.Name)
	return plan{action: a, summary: summary, timeout: e.timeout(st.ID),
		run: &view.RunInfo{Title: st.Title, Command: "dry run on " + t.Name}}, nil
}

// afterDryRun shows what the clone held beside the predictions.
func (e *Engine) afterDryRun(out actions.Outcome) {
	var d actions.MigrationsDryRunDetail
	if e.migrations != nil && json.Unmarshal(out.Result.Detail, &d) == nil {
		e.migrations.SetObserved(e.now, d.Observed)
	}
}
