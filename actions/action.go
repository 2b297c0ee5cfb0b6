// Package actions holds everything the cockpit changes in the world. Every
// action goes through the Runner, which refuses dangerous actions in
// read-only mode and writes the intent to the journal before running and the
// result after, so a crash in between is visible as "outcome unknown".
//
// Nothing here imports Bubble Tea.
package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// Preview says what an action will do, before the operator confirms it.
type Preview struct {
	Title string   // one line, e.g. "Run: git checkout production && git pull"
	Lines []string // detail: what changes, where, from what to what
}

// Result is what an action did.
type Result struct {
	OK      bool
	Summary string   // one line for the status bar and the journal
	Exit    *int     // for commands
	Tail    []string // last lines of output, for commands
	Detail  []byte   // kind-specific JSON for the journal
}

// Action is one change to the world.
type Action interface {
	Kind() string
	// Step is the runbook step this action belongs to, or "".
	Step() string
	// Preview says what will change; server-side dry-run where there is one.
	Preview(ctx context.Context) (Preview, error)
	// Dangerous actions are always confirmed and refused in read-only mode.
	Dangerous() bool
	Run(ctx context.Context) (Result, error)
}

// Outward is implemented by actions that need no confirmation but still
// reach outside the cockpit (a Slack post, a Sentry marker): read-only
// mode, which promises to change nothing, refuses them too.
type Outward interface {
	Outward() bool
}

func isOutward(a Action) bool {
	o, ok := a.(Outward)
	return ok && o.Outward()
}

// Recorded is implemented by actions whose whole effect is one journal
// record (ticking a step off, skipping it): there is nothing to run, so the
// runner writes that record instead of an intent and a result.
type Recorded interface {
	Record() journal.Record
}

// Progressing is implemented by actions that journal what they have done
// while they run (a command's process group once it started, each card of
// a bulk move as it moves), so a kill between intent and result still
// leaves a record of it. The runner sets the function before Run; an
// error means the record was not written, and the action should stop
// changing the world.
type Progressing interface {
	SetProgress(func(Progress) error)
}

// Progress is one record of an action under way.
type Progress struct {
	Summary string
	Data    any // kind-specific, marshalled to JSON
}

// Appender is the part of the journal the runner needs.
type Appender interface {
	Append(journal.Record) (journal.Record, error)
}

// ErrReadOnly is returned for a dangerous action in read-only mode.
var ErrReadOnly = errors.New("read-only mode: this would change the world, and flightdeck was started with --read-only")

// Runner executes actions through the journal.
type Runner struct {
	Journal  Appender
	ReadOnly bool
	By       string        // operator recorded on every entry
	Timeout  time.Duration // default when Execute is given none
	// NewID makes action ids; nil uses random hex.
	NewID func() string
}

// Outcome is one execution of an action.
type Outcome struct {
	ID     string
	Kind   string
	Step   string
	Result Result
	Err    error // the action failed, timed out or could not be journaled
	Took   time.Duration
}

// Allowed reports whether the runner may run the action at all.
func (r *Runner) Allowed(a Action) error {
	if r.ReadOnly && (a.Dangerous() || isOutward(a)) {
		return fmt.Errorf("%s: %w", a.Kind(), ErrReadOnly)
	}
	return nil
}

// NextID returns a fresh action id, so the caller can tie streamed output to
// the run before it starts.
func (r *Runner) NextID() string {
	if r.NewID != nil {
		return r.NewID()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Execute journals the intent, runs the action with a timeout, and journals
// the result. If the intent cannot be written the action does not run: an
// unrecorded change is exactly what the journal exists to prevent.
func (r *Runner) Execute(ctx context.Context, id string, a Action, summary string, timeout time.Duration) Outcome {
	out := Outcome{ID: id, Kind: a.Kind(), Step: a.Step()}
	if err := r.Allowed(a); err != nil {
		out.Err = err
		return out
	}
	if rec, ok := a.(Recorded); ok {
		e := rec.Record()
		e.By = r.By
		if _, err := r.Journal.Append(e); err != nil {
			out.Err = err
			return out
		}
		out.Result = Result{OK: true, Summary: summary}
		return out
	}
	if _, err := r.Journal.Append(journal.Record{
		Type: runbook.RecIntent, By: r.By, Step: a.Step(), Action: id, Kind: a.Kind(), Summary: summary,
	}); err != nil {
		out.Err = fmt.Errorf("not run, the intent could not be journaled: %w", err)
		return out
	}
	if p, ok := a.(Progressing); ok {
		p.SetProgress(func(pr Progress) error {
			rec := journal.Record{Type: runbook.RecProgress, By: r.By, Step: a.Step(), Action: id, Kind: a.Kind(), Summary: pr.Summary}
			if pr.Data != nil {
				data, err := json.Marshal(pr.Data)
				if err != nil {
					return err
				}
				rec.Data = data
			}
			_, err := r.Journal.Append(rec)
			return err
		})
	}
	if timeout <= 0 {
		timeout = r.Timeout
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	start := time.Now()
	res, err := a.Run(runCtx)
	cancel()
	out.Took = time.Since(start)
	if err == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) && !res.OK {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		res.OK = false
	}
	out.Result, out.Err = res, err
	ok := res.OK
	rec := journal.Record{
		Type: runbook.RecResult, By: r.By, Step: a.Step(), Action: id, Kind: a.Kind(),
		Summary: res.Summary, OK: &ok, Exit: res.Exit, Tail: res.Tail,
		Duration: journal.Millis(out.Took), Data: res.Detail,
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if _, jerr := r.Journal.Append(rec); jerr != nil {
		out.Err = errors.Join(out.Err, fmt.Errorf("the result could not be journaled: %w", jerr))
	}
	return out
}
