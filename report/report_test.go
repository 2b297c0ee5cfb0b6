package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
)

const (
	fixtureToken   = "sntrys_report_fixture_token_7f3a"
	fixtureWebhook = "https://hooks.example/services/T0/B0/reportfixture"
)

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	path := filepath.Join("testdata", "flightdeck.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("/etc/flightdeck/vetspire.toml", data, config.LoadOptions{
		Getenv: func(name string) string {
			switch name {
			case "SENTRY_AUTH_TOKEN":
				return fixtureToken
			case "SLACK_WEBHOOK_URL":
				return fixtureWebhook
			}
			return ""
		},
		Now: func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReportGolden renders the record of a deploy that was rolled back: a
// merge conflict fixed on the second run, migrations with a lock wait, a
// spike after the rollout, a rollback from the contingency step with its
// incident alert and Sentry marker, and the remaining steps skipped.
func TestReportGolden(t *testing.T) {
	cfg := loadConfig(t)
	var out bytes.Buffer
	if err := report.FromFile(&out, cfg, filepath.Join("testdata", "deploy-with-rollback.jsonl")); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, out.Bytes())

	text := out.String()
	for _, want := range []string{
		"| Finished | 10:16:30 by tomasz, after 1h14m |",
		"| Create a clone of the production database | 10m | 8m45s | done | tomasz |",
		"| 09:26:00 | Merge staging into production | `git checkout production && git merge staging` | 1 |",
		"CONFLICT (content): Merge conflict in lib/app/billing/line_item.ex",
		"| Nothing locks the clone for more than 30 seconds | `locks.max_hold < 30s` | 4.2s < 30s",
		"### Rollback 1 at 10:09:20 by tomasz: succeeded",
		"- `production/api`: `vetspire/api:2026-11-23` → `vetspire/api:2026-11-09`, revision 42 → 41",
		"- Incident alert: posted to #dev-ops at 10:09:22",
		"- Error rate: 61 errors/min in the minute from 10:06:00, 14.9× the baseline of 4.1/min; flagged as a spike",
		"- Lock wait: 4.2s at 09:41:17 on clone (pid 4412 waiting, on appointments, blocked by pid 4398)",
		"### Disaster Recovery (contingency) — estimate 10m, actual 1s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func TestReportWithoutPeaksSaysNotRecorded(t *testing.T) {
	cfg := loadConfig(t)
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ok := true
	exit := 0
	recs := []journal.Record{
		{Seq: 1, At: start, Type: runbook.RecDeployStart, By: "chris"},
		{Seq: 2, At: start.Add(time.Minute), Type: runbook.RecIntent, By: "chris", Step: "pre/clone", Action: "a1", Kind: runbook.KindCommand,
			Summary: "gcloud sql instances clone vetspire-production vetspire-production-clone-2026-11-23"},
		// A secret that reached the journal before it was in the config.
		{Seq: 3, At: start.Add(9 * time.Minute), Type: runbook.RecResult, By: "chris", Step: "pre/clone", Action: "a1", Kind: runbook.KindCommand,
			Summary: "exit 0", OK: &ok, Exit: &exit, Tail: []string{"token " + fixtureToken}},
		{Seq: 4, At: start.Add(10 * time.Minute), Type: runbook.RecIntent, By: "chris", Step: "deploy/marker", Action: "a2", Kind: "sentry.deploy_marker",
			Summary: "mark the start with " + fixtureWebhook},
	}
	var out bytes.Buffer
	if err := report.Write(&out, cfg, recs, report.Options{Redact: cfg.Redactor().Redact}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"- Error rate: not recorded", "- Lock wait: not recorded", "## Rollbacks\n\nNone.",
		"| Finished | not finished: last record at 09:10:00 |",
		"**no result** (interrupted; outcome unknown)",
		"### Disaster Recovery (contingency, not used)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, fixtureToken) || strings.Contains(text, fixtureWebhook) {
		t.Errorf("a secret reached the report:\n%s", text)
	}
}

func TestPeakRecordsReachTheReport(t *testing.T) {
	cfg := loadConfig(t)
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	low := report.ErrorPeak{PerMinute: 20, At: start.Add(4 * time.Minute), BaselineMean: 4, Threshold: 12, Spike: false}.Record()
	high := report.ErrorPeak{PerMinute: 48, At: start.Add(6 * time.Minute), BaselineMean: 4, Threshold: 12, Spike: true}.Record()
	lock := report.LockPeak{WaitMS: 31500, At: start.Add(3 * time.Minute), Target: "production", PID: 812, Relation: "invoices"}.Record()
	recs := []journal.Record{{Seq: 1, At: start, Type: runbook.RecDeployStart, By: "chris"}}
	for i, r := range []journal.Record{lock, low, high} {
		r.Seq, r.At = uint64(i+2), start.Add(time.Duration(i+5)*time.Minute)
		recs = append(recs, r)
	}
	text := report.Markdown(cfg, recs, report.Options{})
	for _, want := range []string{
		"- Error rate: 48 errors/min in the minute from 09:06:00, 12.0× the baseline of 4.0/min; flagged as a spike (limit 12.0/min)",
		"- Lock wait: 31.5s at 09:03:00 on production (pid 812 waiting, on invoices)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "errors peaked") {
		t.Errorf("peaks belong in their section, not the timeline:\n%s", text)
	}
}
