// Package runbook is the checklist model: phases, steps, their states and the
// rules for moving between them. It is pure: state changes only by applying
// journal records, so the state after a restart is, by construction, the
// state the journal describes.
package runbook

import (
	"encoding/json"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
)

// Status is where a step stands.
type Status int

const (
	Pending Status = iota
	Running
	Done
	Failed
	Skipped
	// Unknown: a command or action was started and flightdeck stopped before
	// its result was recorded. The operator must verify what happened.
	Unknown
)

func (s Status) String() string {
	return [...]string{"pending", "running", "done", "failed", "skipped", "unknown"}[s]
}

// Closed reports whether the step needs no more work.
func (s Status) Closed() bool { return s == Done || s == Skipped }

// Journal record types the runbook understands.
const (
	RecDeployStart  = "deploy.start"
	RecDeployFinish = "deploy.finish"
	// RecDeployOpen is the cockpit's first launch for a deploy whose
	// runbook names the step that starts it: deploy.start waits for that
	// step.
	RecDeployOpen = "deploy.open"
	RecStepCheck  = "step.check"
	RecStepSkip   = "step.skip"
	RecStepReopen = "step.reopen"
	RecIntent     = "action.intent"
	RecResult     = "action.result"
	// RecProgress is written by an action while it runs: a command's
	// process group, a bulk move's card. It never closes the action.
	RecProgress = "action.progress"
	// RecVerify closes an action whose outcome was unknown after a restart:
	// the operator looked and says what happened.
	RecVerify = "action.verify"
)

// KindCommand is the action kind of a command step's run.
const KindCommand = "command"

// Step is one runbook step and its state.
type Step struct {
	config.Step
	Phase int // index into Runbook.Phases
	State StepState
	// Usual is how long the step took in the last runs, when history
	// has any: shown beside the estimate and counted instead of it.
	Usual Usual
}

// The kinds of step, for the views that show steps without reading config.
const (
	ManualStep  = config.Manual
	CommandStep = config.Command
	GateStep    = config.Gate
	ActionStep  = config.Action
)

// ShownCommand is the step's command as it will run with vars: templates
// expanded, values shell-quoted. A template that does not expand is shown
// as written.
func (s *Step) ShownCommand(vars map[string]string) string {
	line, err := config.Expand(s.Command, vars, true)
	if err != nil {
		return s.Command
	}
	return line
}

// ShownNotes are the step's notes with vars expanded, or as written when
// they do not expand.
func (s *Step) ShownNotes(vars map[string]string) string {
	notes, err := config.Expand(s.Notes, vars, false)
	if err != nil {
		return s.Notes
	}
	return notes
}

// StepState is what the journal says about a step.
type StepState struct {
	Status    Status
	StartedAt time.Time // of the last run, for command and action steps
	EndedAt   time.Time
	By        string
	Reason    string // why it was skipped, or what the operator verified
	Exit      *int   // exit code of the last command run
	Err       string // why the last run failed
	RunID     string // action id of the last run
	Value     string // the gate value it passed on
	Tail      []string
	// Pgid and Log are where a running command can be found again after a
	// restart: its process group and the file its output goes to.
	Pgid int
	Log  string
}

// CommandStarted is the progress record of a command once it started.
type CommandStarted struct {
	Pgid int    `json:"pgid"`
	Log  string `json:"log,omitempty"`
}

// Actual is how long the step took, or has taken so far.
func (s StepState) Actual(now time.Time) time.Duration {
	switch {
	case s.StartedAt.IsZero():
		return 0
	case s.Status == Running:
		return now.Sub(s.StartedAt)
	case !s.EndedAt.IsZero():
		return s.EndedAt.Sub(s.StartedAt)
	}
	return 0
}

// Phase groups steps.
type Phase struct {
	Name        string
	Contingency bool
	Steps       []*Step
}

// Intent is an action that was started and has no recorded result.
type Intent struct {
	journal.Record
}

// Runbook is the whole checklist with its state.
type Runbook struct {
	Phases   []*Phase
	Opened   time.Time // first deploy.open: the cockpit's first launch, when a step starts the deploy
	Started  time.Time // first deploy.start
	Finished time.Time // deploy.finish, if any
	// Rehearsal: the journal is a rehearsal's (rehearsal.start), not a
	// real deploy's.
	Rehearsal bool
	byID      map[string]*Step
	open      map[string]journal.Record // action id → intent without a result
	openSeq   []string
	// last keeps the newest record of each type the checklist itself does
	// not interpret (a rollback target, say), for the panes that do.
	last map[string]journal.Record
}

// New builds the runbook from a validated config, with every step pending.
func New(cfg *config.Config) *Runbook {
	r := &Runbook{byID: map[string]*Step{}, open: map[string]journal.Record{}, last: map[string]journal.Record{}}
	for pi, p := range cfg.Phases {
		ph := &Phase{Name: p.Name, Contingency: p.Contingency}
		for _, s := range p.Steps {
			st := &Step{Step: s, Phase: pi}
			ph.Steps = append(ph.Steps, st)
			r.byID[s.ID] = st
		}
		r.Phases = append(r.Phases, ph)
	}
	return r
}

// Last returns the newest record of a type, if the journal has one.
func (r *Runbook) Last(recType string) (journal.Record, bool) {
	rec, ok := r.last[recType]
	return rec, ok
}

// Step returns the step with that id, or nil.
func (r *Runbook) Step(id string) *Step { return r.byID[id] }

// Steps returns every step in runbook order.
func (r *Runbook) Steps() []*Step {
	var out []*Step
	for _, p := range r.Phases {
		out = append(out, p.Steps...)
	}
	return out
}

// Apply moves the runbook by one journal record. Records about steps the
// config no longer has are ignored rather than failing the replay: the
// journal is history, and a renamed step must not stop the cockpit.
func (r *Runbook) Apply(rec journal.Record) {
	st := r.byID[rec.Step]
	r.last[rec.Type] = rec
	switch rec.Type {
	case RecDeployStart:
		if r.Started.IsZero() {
			r.Started = rec.At
		}
	case RecDeployOpen:
		if r.Opened.IsZero() {
			r.Opened = rec.At
		}
	case RecDeployFinish:
		r.Finished = rec.At
	case RecRehearsalStart:
		r.Rehearsal = true

	case RecStepCheck:
		if st == nil {
			return
		}
		st.State.Status = Done
		st.State.By = rec.By
		st.State.Reason = rec.Reason
		st.State.Value = rec.Summary
		if st.State.StartedAt.IsZero() || st.Kind == config.Manual || st.Kind == config.Gate {
			st.State.StartedAt = r.stepClockStart(st, rec.At)
		}
		st.State.EndedAt = rec.At
	case RecStepSkip:
		if st == nil {
			return
		}
		st.State.Status = Skipped
		st.State.By = rec.By
		st.State.Reason = rec.Reason
		st.State.EndedAt = rec.At
	case RecStepReopen:
		if st == nil {
			return
		}
		st.State = StepState{}
	case RecIntent:
		r.open[rec.Action] = rec
		r.openSeq = append(r.openSeq, rec.Action)
		if st != nil && (rec.Kind == KindCommand || st.Kind == config.Action) {
			st.State = StepState{Status: Running, StartedAt: rec.At, By: rec.By, RunID: rec.Action}
		}
	case RecProgress:
		var started CommandStarted
		if st != nil && st.State.RunID == rec.Action && rec.Kind == KindCommand && json.Unmarshal(rec.Data, &started) == nil {
			st.State.Pgid, st.State.Log = started.Pgid, started.Log
		}
	case RecResult:
		delete(r.open, rec.Action)
		if st != nil && st.State.RunID == rec.Action {
			st.State.EndedAt = rec.At
			st.State.Exit = rec.Exit
			st.State.Tail = rec.Tail
			st.State.Err = rec.Error
			if rec.OK != nil && *rec.OK {
				st.State.Status = Done
			} else {
				st.State.Status = Failed
			}
		}
	case RecVerify:
		delete(r.open, rec.Action)
		if st != nil && st.State.RunID == rec.Action {
			st.State.EndedAt = rec.At
			st.State.By = rec.By
			st.State.Reason = rec.Reason
			if rec.OK != nil && *rec.OK {
				st.State.Status = Done
			} else {
				st.State.Status = Failed
				st.State.Err = "verified as failed: " + rec.Reason
			}
		}
	}
}

// stepClockStart picks when a manual step "started" for its actual time: the
// end of the previous closed step, so actuals add up to the elapsed deploy.
func (r *Runbook) stepClockStart(st *Step, at time.Time) time.Time {
	var prev time.Time
	for _, s := range r.Steps() {
		if s == st {
			break
		}
		if s.State.Status.Closed() && s.State.EndedAt.After(prev) && !s.State.EndedAt.After(at) {
			prev = s.State.EndedAt
		}
	}
	if prev.IsZero() {
		prev = r.Began()
	}
	if prev.IsZero() || prev.After(at) {
		return at
	}
	return prev
}

// Began is when the deploy's work began: deploy.start, or before it, the
// cockpit's first launch.
func (r *Runbook) Began() time.Time {
	if !r.Opened.IsZero() && (r.Started.IsZero() || r.Opened.Before(r.Started)) {
		return r.Opened
	}
	return r.Started
}

// StartsDeploy is the step that starts the deploy, nil when the runbook
// names none (deploy.start is then the cockpit's first launch).
func (r *Runbook) StartsDeploy() *Step {
	for _, s := range r.Steps() {
		if s.StartsDeploy {
			return s
		}
	}
	return nil
}

// Interrupted is called once after replaying a journal at start-up. Any action
// still open was cut off by the previous process's end: nothing runs it now,
// so its step's outcome is unknown until the operator verifies it. Such
// actions are never re-run automatically.
func (r *Runbook) Interrupted() []journal.Record { return r.InterruptedBut(nil) }

// InterruptedBut is Interrupted for a view that joins a deploy under way:
// the actions in running still run; every other open one was cut off.
func (r *Runbook) InterruptedBut(running map[string]bool) []journal.Record {
	var out []journal.Record
	for _, id := range r.openSeq {
		rec, ok := r.open[id]
		if !ok || running[id] {
			continue
		}
		out = append(out, rec)
		if st := r.byID[rec.Step]; st != nil && st.State.RunID == id && st.State.Status == Running {
			st.State.Status = Unknown
		}
	}
	return out
}

// Open returns the actions with an intent and no result, oldest first.
func (r *Runbook) Open() []journal.Record {
	var out []journal.Record
	for _, id := range r.openSeq {
		if rec, ok := r.open[id]; ok {
			out = append(out, rec)
		}
	}
	return out
}

// Remaining is the estimated work left in the normal flow at now: pending,
// failed and unknown steps count fully, a running step its estimate minus the
// time it has run. A step's learned time, where history has one, counts
// instead of its configured estimate. Contingency phases (disaster
// recovery) do not count.
func (r *Runbook) Remaining(now time.Time) time.Duration {
	var left time.Duration
	for _, p := range r.Phases {
		if p.Contingency {
			continue
		}
		for _, s := range p.Steps {
			switch s.State.Status {
			case Done, Skipped:
			case Running:
				if rest := s.Expected() - now.Sub(s.State.StartedAt); rest > 0 {
					left += rest
				}
			default:
				left += s.Expected()
			}
		}
	}
	return left
}

// Progress counts closed and total steps of the normal flow.
func (r *Runbook) Progress() (closed, total int) {
	for _, p := range r.Phases {
		if p.Contingency {
			continue
		}
		for _, s := range p.Steps {
			total++
			if s.State.Status.Closed() {
				closed++
			}
		}
	}
	return closed, total
}

// Gates evaluates every gate step against the facts.
func (r *Runbook) Gates(f gates.Facts) map[string]gates.Result {
	out := map[string]gates.Result{}
	for _, s := range r.Steps() {
		if s.Kind == config.Gate {
			out[s.ID] = s.GateExpr.Eval(f)
		}
	}
	return out
}
