package actions

import (
	"context"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// StepMark ticks a step off, skips it, reopens it, or records what the
// operator verified about an interrupted run. Its whole effect is the
// journal record; the runbook state follows from it.
type StepMark struct {
	Type   string // runbook.RecStepCheck, RecStepSkip, RecStepReopen or RecVerify
	StepID string
	Title  string
	Reason string
	Value  string // the gate value it passed on
	RunID  string // for RecVerify: the interrupted action
	OK     bool   // for RecVerify: what the operator found
}

// Kind implements Action.
func (m *StepMark) Kind() string { return m.Type }

// Step implements Action.
func (m *StepMark) Step() string { return m.StepID }

// Dangerous implements Action: ticking the checklist changes nothing outside.
func (m *StepMark) Dangerous() bool { return false }

// Preview implements Action.
func (m *StepMark) Preview(context.Context) (Preview, error) {
	verb := map[string]string{
		runbook.RecStepCheck: "Check off", runbook.RecStepSkip: "Skip",
		runbook.RecStepReopen: "Reopen", runbook.RecVerify: "Verify",
	}[m.Type]
	p := Preview{Title: verb + ": " + m.Title}
	if m.Reason != "" {
		p.Lines = append(p.Lines, "reason: "+m.Reason)
	}
	return p, nil
}

// Run implements Action; the runner writes Record instead.
func (m *StepMark) Run(context.Context) (Result, error) { return Result{OK: true}, nil }

// Record implements Recorded.
func (m *StepMark) Record() journal.Record {
	rec := journal.Record{Type: m.Type, Step: m.StepID, Reason: m.Reason, Summary: m.Value, Action: m.RunID}
	if m.Type == runbook.RecVerify {
		ok := m.OK
		rec.OK = &ok
	}
	return rec
}
