package report

import (
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// heading is the record's title: a rehearsal's says so before anything
// else, so no reader takes it for the day's deploy.
func (r *reader) heading() string {
	if r.rb.Rehearsal {
		return "Rehearsal record"
	}
	return "Deploy record"
}

// rehearsalRows say what the rehearsal was asked to do and how it went.
func (r *reader) rehearsalRows(row func(k, v string)) {
	if !r.rb.Rehearsal {
		return
	}
	row("Rehearsal", r.first(runbook.RecRehearsalStart).Summary+": not a real deploy; its journal is its own")
	fin := r.last(runbook.RecRehearsalFinish)
	switch {
	case fin.Type == "":
		row("Rehearsed", "did not finish: the rehearsal stopped before journaling its end")
	case fin.OK != nil && *fin.OK:
		row("Rehearsed", fin.Summary)
	default:
		row("Rehearsed", "**"+fin.Summary+"**")
	}
}
