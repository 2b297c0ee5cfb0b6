package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

// The notes a rehearsal journals with the ticks it makes, so the record
// tells a machine's tick from a person's.
const (
	tickManual = "ticked by the rehearsal: nobody did this by hand"
	tickGate   = "ticked by the rehearsal once the gate passed"
)

// rehearsalPlan is what a rehearsal walks: the normal flow's steps in
// order, then the drills named, and the steps it skips with a reason.
type rehearsalPlan struct {
	steps       []string
	skips       map[string]string
	gateTimeout time.Duration
}

// planRehearsal resolves the flags against the config: the drills to run,
// the skips (the flags' over [rehearsal]'s), the gate timeout. Every
// error names what to write instead.
func planRehearsal(cfg *config.Config, f rehearseFlags) (rehearsalPlan, error) {
	r := cfg.RehearsalOrDefault()
	p := rehearsalPlan{skips: map[string]string{}, gateTimeout: r.GateTimeout.D()}
	if f.gateTimeout != 0 {
		if f.gateTimeout < 0 {
			return p, fmt.Errorf("--gate-timeout %s: a wait must be more than 0", f.gateTimeout)
		}
		p.gateTimeout = f.gateTimeout
	}
	var ids []string
	for _, ph := range cfg.Phases {
		for _, s := range ph.Steps {
			ids = append(ids, s.ID)
			if !ph.Contingency {
				p.steps = append(p.steps, s.ID)
			}
		}
	}
	for _, d := range f.drills {
		steps, err := drillSteps(cfg, d)
		if err != nil {
			return p, err
		}
		for _, id := range steps {
			if !slices.Contains(p.steps, id) {
				p.steps = append(p.steps, id)
			}
		}
	}
	for _, s := range r.Skip {
		p.skips[s.Step] = s.Reason
	}
	for _, s := range f.skips {
		id, reason, _ := strings.Cut(s, "=")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !slices.Contains(ids, id) {
			hint := "name a step by its id"
			if sug := gates.Suggest(id, ids); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			return p, fmt.Errorf("--skip %s: no step has the id %q: %s", s, id, hint)
		}
		if reason == "" {
			return p, fmt.Errorf("--skip %s: a skip needs a reason, journaled with it: --skip %s=\"why this step cannot pass here\"", s, id)
		}
		p.skips[id] = reason
	}
	return p, nil
}

// drillSteps are the steps --drill name means: a contingency step by its
// id, or a contingency phase, whole, by its name.
func drillSteps(cfg *config.Config, name string) ([]string, error) {
	var known []string
	for _, ph := range cfg.Phases {
		if ph.Contingency && (strings.EqualFold(ph.Name, name) || slugOf(ph.Name) == name) {
			var ids []string
			for _, s := range ph.Steps {
				ids = append(ids, s.ID)
			}
			return ids, nil
		}
		for _, s := range ph.Steps {
			if s.ID != name {
				if ph.Contingency {
					known = append(known, s.ID)
				}
				continue
			}
			if !ph.Contingency {
				return nil, fmt.Errorf("--drill %s: %q is in %q, part of the normal flow, which a rehearsal always runs", name, s.Title, ph.Name)
			}
			return []string{s.ID}, nil
		}
		if ph.Contingency {
			known = append(known, ph.Name)
		}
	}
	hint := "a contingency step's id or phase's name: " + strings.Join(known, ", ")
	if len(known) == 0 {
		hint = "the runbook has no contingency phase"
	} else if sug := gates.Suggest(name, known); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", sug)
	}
	return nil, fmt.Errorf("--drill %s: no contingency step or phase is called that: %s", name, hint)
}

// slugOf is a phase name as a step id's prefix: "Sandbox drills" is
// sandbox-drills.
func slugOf(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}), "-")
}

// walker drives the engine as a view would: it follows what the engine
// publishes and asks, through the same requests and confirmations as the
// cockpit's keys, so the journal cannot tell a rehearsal's moves from an
// operator's but by the notes they carry.
type walker struct {
	ctx    context.Context
	eng    view.Engine
	cfg    *config.Config
	v      view.Viewer
	redact func(string) string
	log    *slog.Logger
	done   chan struct{}

	outMu sync.Mutex
	out   io.Writer
	idW   int

	mu       sync.Mutex
	rb       *runbook.Runbook
	gates    map[string]gates.Result
	running  int // actions in flight, by the engine's last status
	advisory bool
	changed  chan struct{}
}

func newWalker(ctx context.Context, eng view.Engine, cfg *config.Config, v view.Viewer, out io.Writer, redact func(string) string, log *slog.Logger) *walker {
	w := &walker{ctx: ctx, eng: eng, cfg: cfg, v: v, out: out, redact: redact, log: log,
		done: make(chan struct{}), rb: runbook.New(cfg), gates: map[string]gates.Result{}, changed: make(chan struct{}, 1)}
	go w.follow(eng.Subscribe(ctx, v))
	return w
}

// follow keeps the walker's copy of the deploy as batches arrive, until
// the engine stops.
func (w *walker) follow(batches <-chan view.Batch) {
	defer close(w.done)
	for b := range batches {
		w.mu.Lock()
		if b.Initial {
			w.rb = runbook.New(w.cfg)
			w.rb.Learn(b.Learned)
			for _, rec := range b.History {
				w.rb.Apply(rec)
			}
		}
		if b.Status != nil {
			w.gates = b.Status.Gates
			w.running = len(b.Status.Running)
			w.noteAdvisory(b.Status.Advisory)
		}
		for _, ev := range b.Events {
			switch {
			case ev.Record != nil:
				w.rb.Apply(*ev.Record)
			case ev.Notice != nil:
				w.log.Info("rehearsal notice", "text", ev.Notice.Text, "err", ev.Notice.Err)
			}
		}
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

// noteAdvisory says when the engine recommends a rollback, and when it no
// longer does: a rehearsal's steps may all pass while a signal turns bad.
// Called with w.mu held.
func (w *walker) noteAdvisory(a *view.Advisory) {
	switch {
	case a != nil && !w.advisory:
		w.printf("  ! ROLLBACK RECOMMENDED: %s\n", w.redact(strings.Join(a.Signals, "; ")))
	case a == nil && w.advisory:
		w.printf("  ! the rollback recommendation cleared: the signals recovered\n")
	}
	w.advisory = a != nil
}

func (w *walker) printf(format string, args ...any) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	fmt.Fprintf(w.out, format, args...)
}

// close waits for the follower, which ends with the engine.
func (w *walker) close() {
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.log.Warn("the rehearsal's view of the engine did not end")
	}
}

// until waits for cond over the walker's copy of the deploy, up to
// deadline (zero: no limit but the rehearsal's own end). It reports
// whether cond held.
func (w *walker) until(deadline time.Time, cond func() bool) bool {
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return true
		}
		wait := time.Second
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false
			}
			wait = min(wait, left)
		}
		select {
		case <-w.ctx.Done():
			return false
		case <-w.changed:
		case <-time.After(wait):
		}
	}
}

// settle waits, up to limit, for what the engine does on its own after
// the last step to reach the journal (deploy.finish once the normal flow
// is closed, an action's follow-ups), so the rehearsal's end is the
// journal's last word.
func (w *walker) settle(limit time.Duration) {
	w.until(time.Now().Add(limit), func() bool {
		closed, total := w.rb.Progress()
		return w.running == 0 && (closed < total || !w.rb.Finished.IsZero())
	})
}

// step is a step as the walker's copy has it now. Called with w.mu held.
func (w *walker) step(id string) *runbook.Step { return w.rb.Step(id) }

// walkResult is how the rehearsal went.
type walkResult struct {
	passed, skipped int
	failed          *stepFailure
}

type stepFailure struct {
	step *runbook.Step
	why  string
}

func (r walkResult) counts() string {
	s := fmt.Sprintf("%d %s passed", r.passed, plural(r.passed, "step", "steps"))
	if r.skipped > 0 {
		s += fmt.Sprintf(", %d skipped with a reason", r.skipped)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// walk runs the plan's steps in order and stops at the first that fails:
// each later step builds on the ones before it.
func (w *walker) walk(p rehearsalPlan) walkResult {
	for _, id := range p.steps {
		w.idW = max(w.idW, len(id))
	}
	var res walkResult
	for _, id := range p.steps {
		w.mu.Lock()
		st := w.step(id)
		w.mu.Unlock()
		if st == nil {
			continue
		}
		began := time.Now()
		outcome, why := w.do(st, p)
		w.mu.Lock()
		state := w.step(id).State
		w.mu.Unlock()
		took := "—"
		switch {
		case outcome == "skipped":
		case !state.StartedAt.IsZero():
			took = runbook.Short(state.Actual(time.Now()))
		case outcome == "FAILED":
			// A gate that never passed was never started: its time is
			// the wait.
			took = runbook.Short(time.Since(began))
		}
		w.printf("  %-8s %6s  %-*s  %s\n", outcome, took, w.idW, id, st.Title)
		switch outcome {
		case "skipped":
			res.skipped++
			w.printf("  %17s%s\n", "", w.redact("reason: "+p.skips[id]))
		case "FAILED":
			w.printf("  %17s%s\n", "", w.redact(why))
			for _, l := range state.Tail {
				w.printf("  %17s│ %s\n", "", w.redact(l))
			}
			if st.Kind == runbook.GateStep {
				w.printf("  %17sif it cannot pass here, skip it with a reason: [rehearsal] skip, or --skip %s=REASON\n", "", id)
			}
			res.failed = &stepFailure{step: st, why: why}
			return res
		default:
			res.passed++
		}
	}
	return res
}

// do takes one step through the engine: skip, tick, wait and tick, or run
// and confirm; then waits for the journal to close it. It returns the
// outcome word, and why when it failed.
func (w *walker) do(st *runbook.Step, p rehearsalPlan) (outcome, why string) {
	id := st.ID
	if reason, ok := p.skips[id]; ok {
		if err := w.ask(view.Request{Op: view.OpSkipStep, Step: id, Reason: reason}); err != nil {
			return "FAILED", "not skipped: " + err.Error()
		}
		return w.closed(id, "skipped", time.Time{})
	}
	switch st.Kind {
	case runbook.ManualStep:
		if err := w.ask(view.Request{Op: view.OpCheckStep, Step: id, Reason: tickManual}); err != nil {
			return "FAILED", "not ticked: " + err.Error()
		}
		return w.closed(id, "ticked", time.Time{})
	case runbook.GateStep:
		return w.gate(st, p.gateTimeout)
	}
	if err := w.ask(view.Request{Op: view.OpRunStep, Step: id}); err != nil {
		return "FAILED", "not run: " + err.Error()
	}
	// The engine's own timeout ends the run; this only keeps a run whose
	// end never reaches the journal from holding the rehearsal for ever.
	limit := w.cfg.Deploy.CommandTimeout.D()
	if st.Timeout.D() > 0 {
		limit = st.Timeout.D()
	}
	return w.closed(id, "passed", time.Now().Add(limit+2*time.Minute))
}

// ask sends a request and confirms its preview, as the operator's y does.
func (w *walker) ask(r view.Request) error {
	p, err := w.eng.Request(w.ctx, w.v, r)
	if err != nil {
		return err
	}
	w.log.Info("rehearsal request", "op", r.Op, "step", r.Step, "preview", p.Title)
	if p.Started {
		return nil
	}
	return w.eng.Confirm(w.ctx, w.v, p.ID)
}

// closed waits for the journal to close step id, and says how.
func (w *walker) closed(id, ok string, deadline time.Time) (outcome, why string) {
	var st runbook.StepState
	ended := w.until(deadline, func() bool {
		st = w.step(id).State
		switch st.Status {
		case runbook.Done, runbook.Skipped, runbook.Failed, runbook.Unknown:
			return true
		}
		return false
	})
	switch {
	case !ended && w.ctx.Err() != nil:
		return "FAILED", "the rehearsal was interrupted"
	case !ended:
		return "FAILED", "its end never reached the journal (the log says more: " + logPath() + ")"
	case st.Status == runbook.Failed:
		why = "failed"
		if st.Exit != nil {
			why = fmt.Sprintf("exit %d", *st.Exit)
		}
		if st.Err != "" {
			why += ": " + st.Err
		}
		return "FAILED", why
	case st.Status == runbook.Unknown:
		return "FAILED", "its outcome is unknown"
	}
	return ok, ""
}

// gate waits for a gate step's gate to pass, then ticks it. A gate that
// passes and turns again before the tick is waited for again, within the
// same timeout.
func (w *walker) gate(st *runbook.Step, timeout time.Duration) (outcome, why string) {
	deadline := time.Now().Add(timeout)
	for {
		passing := w.until(deadline, func() bool { return w.gates[st.ID].State == gates.Pass })
		if !passing {
			if w.ctx.Err() != nil {
				return "FAILED", "the rehearsal was interrupted"
			}
			w.mu.Lock()
			g := w.gates[st.ID]
			w.mu.Unlock()
			detail := g.Value
			if detail == "" {
				detail = g.Reason
			}
			if detail == "" {
				detail = "no reading yet"
			}
			return "FAILED", fmt.Sprintf("gate %s is %s after %s: %s", st.Gate, g.State, runbook.Short(timeout), detail)
		}
		err := w.ask(view.Request{Op: view.OpCheckStep, Step: st.ID, Reason: tickGate})
		if err == nil {
			return w.closed(st.ID, "passed", time.Time{})
		}
		w.log.Info("rehearsal: gate tick refused, waiting again", "step", st.ID, "err", err)
		if time.Now().After(deadline) {
			return "FAILED", "not ticked: " + err.Error()
		}
		select {
		case <-w.ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}
