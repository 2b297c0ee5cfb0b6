package runbook

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Errors the transition checks return. Messages say what to do instead.
type TransitionError struct{ Msg string }

func (e *TransitionError) Error() string { return e.Msg }

func refuse(format string, args ...any) error {
	return &TransitionError{Msg: fmt.Sprintf(format, args...)}
}

// CanCheck says whether the operator may tick the step off. A gate step needs
// its gate passing; a command or action step completes by running, or is
// skipped with a reason, so that the record says what really happened.
func (r *Runbook) CanCheck(id string, gate gates.Result) error {
	st := r.byID[id]
	if st == nil {
		return refuse("no step %q", id)
	}
	switch st.State.Status {
	case Done:
		return refuse("%q is already done (u reopens it)", st.Title)
	case Skipped:
		return refuse("%q was skipped (u reopens it)", st.Title)
	case Running:
		return refuse("%q is running: wait for it, or cancel it with c", st.Title)
	case Unknown:
		return nil // verifying an interrupted run
	}
	switch st.Kind {
	case config.Command:
		return refuse("%q is a command: run it with enter, or skip it with s and a reason", st.Title)
	case config.Action:
		return refuse("%q is an action: run it with enter, or skip it with s and a reason", st.Title)
	}
	if err := r.waitsFor(st); err != nil {
		return err
	}
	if st.Kind == config.Gate && gate.State != gates.Pass {
		why := gate.Value
		if gate.State == gates.Unknown {
			why = gate.Reason
		}
		return refuse("gate %s is %s (%s): wait for it to pass, or skip with s and a reason", st.Gate, gate.State, why)
	}
	return nil
}

// CanSkip says whether the step may be skipped.
func (r *Runbook) CanSkip(id string) error {
	st := r.byID[id]
	if st == nil {
		return refuse("no step %q", id)
	}
	switch st.State.Status {
	case Done, Skipped:
		return refuse("%q is already %s (u reopens it)", st.Title, st.State.Status)
	case Running:
		return refuse("%q is running: cancel it with c first", st.Title)
	}
	return nil
}

// CanRun says whether a command or action step may be started now.
func (r *Runbook) CanRun(id string) error {
	st := r.byID[id]
	if st == nil {
		return refuse("no step %q", id)
	}
	if st.Kind != config.Command && st.Kind != config.Action {
		return refuse("%q is a %s step: nothing to run (space checks it off)", st.Title, st.Kind)
	}
	switch st.State.Status {
	case Running:
		return refuse("%q is already running", st.Title)
	case Done, Skipped:
		return refuse("%q is already %s (u reopens it to run again)", st.Title, st.State.Status)
	}
	return r.waitsFor(st)
}

// waitsFor refuses a step whose required steps are not closed yet: the push
// does not go out while the migrations' pre-flight blocks it. Skipping the
// required step with a reason is the journaled override.
func (r *Runbook) waitsFor(st *Step) error {
	var open []string
	for _, id := range st.Requires {
		if req := r.byID[id]; req != nil && !req.State.Status.Closed() {
			open = append(open, fmt.Sprintf("%q (%s)", req.Title, req.State.Status))
		}
	}
	if len(open) == 0 {
		return nil
	}
	return refuse("%q waits for %s: close it first, or skip it with s and a reason", st.Title, strings.Join(open, " and "))
}

// CanReopen says whether a closed step may be opened again.
func (r *Runbook) CanReopen(id string) error {
	st := r.byID[id]
	if st == nil {
		return refuse("no step %q", id)
	}
	if st.State.Status == Running {
		return refuse("%q is running", st.Title)
	}
	if st.State.Status == Pending {
		return refuse("%q is not done yet", st.Title)
	}
	return nil
}
