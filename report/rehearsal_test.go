package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
)

// TestRehearsalRecordSaysSo: a rehearsal's record is headed as one, with
// what it was asked and how it went; a failed one says where, in bold.
func TestRehearsalRecordSaysSo(t *testing.T) {
	cfg := loadConfig(t)
	start := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	no := false
	recs := []journal.Record{
		{Seq: 1, At: start, Type: runbook.RecRehearsalStart, By: "chris", Summary: "rehearsal of Vetspire production deploy · production: 14 steps, 1 skipped with a reason"},
		{Seq: 2, At: start, Type: runbook.RecDeployOpen, By: "chris"},
		{Seq: 3, At: start.Add(time.Minute), Type: runbook.RecStepCheck, By: "chris", Step: "pre/plan", Reason: "ticked by the rehearsal: nobody did this by hand"},
	}
	text := report.Markdown(cfg, recs, report.Options{})
	for _, want := range []string{
		"# Rehearsal record: ",
		"| Rehearsal | rehearsal of Vetspire production deploy · production: 14 steps, 1 skipped with a reason: not a real deploy; its journal is its own |",
		"| Rehearsed | did not finish",
		"Rehearsal started: rehearsal of Vetspire",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the record lacks %q:\n%s", want, text)
		}
	}

	recs = append(recs, journal.Record{Seq: 4, At: start.Add(3 * time.Minute), Type: runbook.RecRehearsalFinish, By: "chris", OK: &no, Step: "pre/jira",
		Summary: "rehearsal failed at pre/jira (Jira is up to date): gate jira.columns_clean is fail after 2m: 4 cards; 1 step passed before it, in 3m"})
	text = report.Markdown(cfg, recs, report.Options{})
	if !strings.Contains(text, "| Rehearsed | **rehearsal failed at pre/jira") {
		t.Errorf("a failed rehearsal's record:\n%s", text)
	}

	text = report.Markdown(cfg, recs[1:3], report.Options{})
	if strings.Contains(text, "Rehearsal") || !strings.HasPrefix(text, "# Deploy record: ") {
		t.Errorf("a real deploy's record speaks of a rehearsal:\n%s", text)
	}
}
