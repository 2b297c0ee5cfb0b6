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
