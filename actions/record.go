package actions

import (
	"context"

	"github.com/flightdeckhq/flightdeck/internal/journal"
)

// Note records a fact in the journal, such as the rollback target seen when
// the deploy began. It changes nothing outside, so read-only mode allows it.
type Note struct {
	Rec journal.Record
}

// Kind implements Action.
func (n *Note) Kind() string { return n.Rec.Type }

// Step implements Action.
func (n *Note) Step() string { return n.Rec.Step }

// Dangerous implements Action.
func (n *Note) Dangerous() bool { return false }

// Preview implements Action.
func (n *Note) Preview(context.Context) (Preview, error) { return Preview{Title: n.Rec.Summary}, nil }

// Run implements Action; the runner writes Record instead.
func (n *Note) Run(context.Context) (Result, error) { return Result{OK: true}, nil }

// Record implements Recorded.
func (n *Note) Record() journal.Record { return n.Rec }

// Finish closes the deploy: the record of deploy.finish, previewed with
// what is still open, since finishing early is a decision the record must
// show.
type Finish struct {
	Rec  journal.Record
	Open []string // titles of the normal flow's steps not closed
}

// Kind implements Action.
func (f *Finish) Kind() string { return f.Rec.Type }

// Step implements Action.
func (f *Finish) Step() string { return "" }

// Dangerous implements Action: it is the operator's word on the deploy.
func (f *Finish) Dangerous() bool { return true }

// Preview implements Action.
func (f *Finish) Preview(context.Context) (Preview, error) {
	pv := Preview{Title: "finish the deploy: " + f.Rec.Summary}
	if len(f.Open) == 0 {
		pv.Lines = append(pv.Lines, "every step of the normal flow is closed")
	}
	for _, t := range f.Open {
		pv.Lines = append(pv.Lines, "still open: "+t)
	}
	pv.Lines = append(pv.Lines, "the deploy record is written now and again whenever the journal grows")
	return pv, nil
}

// Run implements Action; the runner writes Record instead.
func (f *Finish) Run(context.Context) (Result, error) { return Result{OK: true}, nil }

// Record implements Recorded.
func (f *Finish) Record() journal.Record { return f.Rec }
