package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// Record types of the deploy's lifecycle the engine journals itself.
const (
	// RecRollbackDue is journaled once, when the clock passes the last
	// moment a rollback fits in the window with work still open.
	RecRollbackDue = "deploy.rollback_due"
)

// Outcomes of a finished deploy, as deploy.finish records them.
const (
	OutcomeFinished   = "finished"
	OutcomeOverran    = "overran"
	OutcomeRolledBack = "rolled back"
)

// FinishDetail is what deploy.finish carries.
type FinishDetail struct {
	Outcome string   `json:"outcome"`
	Open    []string `json:"open,omitempty"` // steps of the normal flow left open by an early finish
}

// followLifecycle journals what a record implies for the deploy as a whole:
// the step that starts the deploy starting, the last step of the normal
// flow closing. Called with e.mu held, after the record was applied.
func (e *Engine) followLifecycle(rec journal.Record) {
	if rec.Type == runbook.RecDeployStart && e.sentry != nil {
		// The baseline and "new since the deploy" move to the push.
		e.sentry.SetDeploy(e.deployMarks())
		e.sentry.Refresh()
	}
	if e.opts.ReadOnly {
		return // the driver's engine journals them
	}
	if e.rb.Started.IsZero() && (rec.Type == runbook.RecIntent || rec.Type == runbook.RecStepCheck) {
		if st := e.rb.Step(rec.Step); st != nil && st.StartsDeploy {
			note := &actions.Note{Rec: journal.Record{Type: runbook.RecDeployStart, Step: st.ID,
				Summary: fmt.Sprintf("%s · %s: %s", e.cfg.Deploy.Name, e.cfg.Deploy.Environment, st.Title)}}
			e.execute(note, note.Rec.Summary, 0, nil, false)
		}
	}
	if closed, total := e.rb.Progress(); total > 0 && closed == total && e.rb.Finished.IsZero() && !e.finishing {
		e.finishing = true
		f := e.finish(nil)
		e.execute(f, f.Rec.Summary, 0, nil, false)
	}
}

// finish is the deploy.finish record as of now: how it ended, and what was
// left open if it ends early.
func (e *Engine) finish(open []string) *actions.Finish {
	d := FinishDetail{Outcome: OutcomeFinished, Open: open}
	_, end := e.cfg.Window.On(e.opts.Day)
	switch {
	case e.rolledBack():
		d.Outcome = OutcomeRolledBack
	case e.now.After(end):
		d.Outcome = OutcomeOverran
	}
	summary := d.Outcome
	if d.Outcome == OutcomeOverran {
		summary += " by " + runbook.Short(e.now.Sub(end))
	}
	switch len(open) {
	case 0:
	case 1:
		summary += ", 1 step left open"
	default:
		summary += fmt.Sprintf(", %d steps left open", len(open))
	}
	data, _ := json.Marshal(d)
	return &actions.Finish{Rec: journal.Record{Type: runbook.RecDeployFinish, Summary: summary, Data: data}, Open: open}
}

// rolledBack reports whether a rollback succeeded since the deploy began.
func (e *Engine) rolledBack() bool {
	began := e.rb.Began()
	for _, r := range e.history {
		if r.Type == runbook.RecResult && r.Kind == actions.KindKubeRollback && r.OK != nil && *r.OK && !r.At.Before(began) {
			return true
		}
	}
	return false
}

// finishPlan is the operator's explicit finish: previewed with what is
// still open, confirmed, journaled.
func (e *Engine) finishPlan() (plan, error) {
	if !e.rb.Finished.IsZero() {
		return plan{}, errors.New("the deploy is already finished: " + e.lastFinish())
	}
	var open []string
	for _, p := range e.rb.Phases {
		if p.Contingency {
			continue
		}
		for _, s := range p.Steps {
			if !s.State.Status.Closed() {
				open = append(open, s.Title)
			}
		}
	}
	f := e.finish(open)
	return plan{action: f, summary: "deploy.finish: " + f.Rec.Summary}, nil
}

func (e *Engine) lastFinish() string {
	if rec, ok := e.rb.Last(runbook.RecDeployFinish); ok {
		return rec.Summary + " at " + rec.At.In(e.cfg.Window.Location).Format("15:04")
	}
	return "finished"
}

// noteRollbackDue journals, once, that the window's rollback deadline has
// passed with the deploy unfinished: the record shows when the runbook
// said to roll back, whatever was done about it.
func (e *Engine) noteRollbackDue() {
	if e.opts.ReadOnly || e.rollbackDueNoted || e.rb.Began().IsZero() || !e.rb.Finished.IsZero() {
		return
	}
	start, end := e.cfg.Window.On(e.opts.Day)
	by := runbook.RollbackBy(e.cfg, e.opts.Day)
	closed, total := e.rb.Progress()
	w := runbook.Window(e.now, start, end, by, e.rb.Remaining(e.now), closed == total)
	if w.Phase != runbook.RollBack {
		return
	}
	e.rollbackDueNoted = true
	note := &actions.Note{Rec: journal.Record{Type: RecRollbackDue,
		Summary: fmt.Sprintf("ROLL BACK: past %s, the last time a rollback fits before %s, with %d of %d steps closed",
			by.In(e.cfg.Window.Location).Format("15:04"), end.Format("15:04"), closed, total)}}
	e.execute(note, note.Rec.Summary, 0, nil, false)
}

// replayLifecycle starts from what the journal already says, so a restart
// neither journals the deadline again nor finishes twice.
func (e *Engine) replayLifecycle() {
	for _, r := range e.history {
		switch r.Type {
		case RecRollbackDue:
			e.rollbackDueNoted = true
		case runbook.RecDeployFinish:
			e.finishing = true
		}
	}
}
