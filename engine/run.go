package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/view"
)

// execute runs an action in a goroutine the engine owns. Its records reach
// the engine through the journal tee, its end through the intake, behind
// every line and record it emitted. Called with e.mu held.
func (e *Engine) execute(a actions.Action, summary string, timeout time.Duration, run *view.RunInfo, followUp bool) string {
	id := e.runner.NextID()
	ctx, cancel := context.WithCancel(e.ctx)
	if cmd, ok := a.(*actions.Command); ok {
		in := e.in
		cmd.Output = func(line string) { in.Lines(id, line) }
		cmd.Log = e.runLog(id)
	}
	if s, ok := a.(actions.Streaming); ok {
		in := e.in
		s.SetOutput(func(line string) { in.Lines(id, line) })
	}
	title := summary
	if st := e.rb.Step(a.Step()); st != nil {
		title = st.Title
	}
	e.running[id] = &running{action: a, cancel: cancel, title: title, followUp: followUp}
	if run != nil {
		r := *run
		r.ID, r.Step, r.Started, r.Running = id, a.Step(), e.now, true
		e.in.push(item{started: &r})
	}
	e.opts.Log.Info("action start", "id", id, "kind", a.Kind(), "step", a.Step())
	runner, reporter := e.runner, e.opts.Reporter
	e.goOwned(func() {
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				reporter.Panic(r)
				panic(r)
			}
		}()
		e.in.push(item{done: ptr(runner.Execute(ctx, id, a, summary, timeout))})
	})
	return id
}

func ptr[T any](v T) *T { return &v }

// runLog is where a command run's output goes: beside the journal, so a
// restarted cockpit finds the whole output of a run, even one still going.
func (e *Engine) runLog(id string) string {
	if e.opts.JournalPath == "" {
		return ""
	}
	return filepath.Join(e.opts.JournalPath+".runs", id+".log")
}

// actionDone takes an action's end: what to tell the views, the run's end
// in the output, and what must follow (the board read again after a move,
// the alert and the marker after a rollback).
func (e *Engine) actionDone(out actions.Outcome) []view.Event {
	r := e.running[out.ID]
	delete(e.running, out.ID)
	failed := out.Err != nil || !out.Result.OK
	e.opts.Reporter.Breadcrumb(out.Kind, e.opts.Redact(out.Result.Summary), failed)
	if failed {
		e.opts.Reporter.ActionFailed(out.Kind, e.opts.Redact(out.Result.Summary), out.Err)
	}
	e.opts.Log.Info("action end", "id", out.ID, "kind", out.Kind, "ok", out.Result.OK, "err", out.Err)
	var a actions.Action
	if r != nil {
		a = r.action
	}
	ended := view.Ended{ID: out.ID, Kind: out.Kind, Step: out.Step, OK: out.Result.OK && out.Err == nil,
		Summary: out.Result.Summary, Exit: out.Result.Exit, Took: out.Took}
	if out.Err != nil {
		ended.Err = out.Err.Error()
	}
	if _, ok := a.(*actions.Command); ok {
		ended.Command = true
	}
	if run := e.runs[out.ID]; run != nil {
		run.end(ended)
	}
	events := []view.Event{{Ended: &ended}}
	if n := e.wording(a, r != nil && r.followUp, out); n != nil {
		events = append(events, view.Event{Notice: n})
	}
	switch a.(type) {
	case *actions.StopOrphan:
		events = append(events, e.noteStopped(out)...)
	case *actions.JiraMove, *actions.GitFetch:
		// A partial move changed the board too: read it whatever the outcome.
		if e.board != nil {
			e.board.Refresh()
		}
	case *actions.Rollback:
		e.afterRollback(out)
	case *actions.MigrationsDryRun:
		e.afterDryRun(out)
	}
	return events
}

// wording is what the views say about an action's end, decided by what the
// action is: journal-only marks say nothing, what follows a rollback adds
// to its message, a failure says how to go on.
func (e *Engine) wording(a actions.Action, followUp bool, out actions.Outcome) *view.Notice {
	switch {
	case out.Err != nil:
		return &view.Notice{Text: e.opts.Redact(fmt.Sprintf("%s failed: %v", out.Kind, out.Err)), Err: true}
	case !out.Result.OK:
		return &view.Notice{Text: e.opts.Redact(fmt.Sprintf("%s: %s — the step stays blocked until retried (enter) or skipped (s)", out.Kind, out.Result.Summary)), Err: true}
	}
	// An action that is only a journal record (a step ticked off, a note)
	// has nothing to report beyond the checklist.
	if _, quiet := a.(actions.Recorded); quiet || a == nil {
		return nil
	}
	return &view.Notice{Text: e.opts.Redact("done: " + out.Result.Summary), FollowUp: followUp}
}

// afterRollback tells the incident channel and Sentry about a rollback,
// whatever its outcome, each through the journal like any action.
func (e *Engine) afterRollback(out actions.Outcome) {
	cfg := e.cfg
	if e.opts.AfterRollback != nil {
		e.opts.AfterRollback(e.now)
	}
	if cfg.Slack != nil && len(cfg.SecretErrors["slack"]) == 0 {
		alert := actions.RollbackAlert(cfg.Slack, actions.RollbackNotice{Deploy: cfg.Deploy.Name,
			Environment: cfg.Deploy.Environment, By: e.opts.Operator, Outcome: out})
		e.execute(alert, "rollback alert to "+alert.Channel, 30*time.Second, nil, true)
	}
	if e.sentry != nil {
		e.sentry.AddRollback(e.now)
		e.execute(e.deployMarker(actions.StageRollback, ""), "Sentry rollback marker", 30*time.Second, nil, true)
	}
}
