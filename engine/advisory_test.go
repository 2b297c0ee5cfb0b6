package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

const advisoryConfig = `
[deploy]
name = "Advisory"
environment = "production"
[window]
start = "09:00"
end = "12:30"
timezone = "UTC"
[[phase]]
name = "Deploy"
[[phase.step]]
id = "push"
title = "Push production"
estimate = "5m"
starts_deploy = true
[[phase.step]]
id = "rolled-out"
title = "Production rollout complete"
estimate = "5m"
gate = "rollout.complete"
[kubernetes]
namespaces = ["production"]
deployments = ["api"]
`

func rolloutOf(ready, failing int, phase snapshot.RolloutPhase) snapshot.Rollout {
	d := snapshot.Deployment{Namespace: "production", Name: "api", Desired: 6, Ready: int32(ready), Updated: 6, Available: int32(ready), Phase: phase}
	for i := range 6 {
		status := "Running"
		if i < failing {
			status = "CrashLoopBackOff"
		}
		d.Pods = append(d.Pods, snapshot.Pod{Name: fmt.Sprintf("api-%d", i), Status: status})
	}
	return snapshot.Rollout{Deployments: []snapshot.Deployment{d}}
}

func advisoryEngine(t *testing.T, started bool) *harness {
	t.Helper()
	cfg, err := config.Parse("a.toml", []byte(advisoryConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rb := runbook.New(cfg)
	var history []journal.Record
	if started {
		history = []journal.Record{
			{Seq: 1, Type: runbook.RecDeployStart, At: now.Add(-10 * time.Minute), Step: "push"},
			{Seq: 2, Type: runbook.RecStepCheck, At: now.Add(-5 * time.Minute), Step: "rolled-out", Summary: "all complete"},
		}
	}
	for _, r := range history {
		rb.Apply(r)
	}
	return newHarness(t, Options{Config: cfg, Runbook: rb, Journal: &memJournal{}, Operator: "ana", Day: now, Now: now, History: history})
}

var rolloutSeq uint64

func (h *harness) rollout(s snapshot.Rollout) {
	rolloutSeq++
	now := time.Now()
	h.e.in.Emit(snapshot.Update{Source: "kubernetes", Seq: rolloutSeq, At: now, GoodAt: now, Data: s})
}

// A rollout that breaks after its gate was ticked raises the advisory,
// with every reason, once; it clears, and says so, when the pods recover.
func TestAdvisoryRaisesAndClears(t *testing.T) {
	h := advisoryEngine(t, true)
	h.rollout(rolloutOf(6, 0, snapshot.Complete))
	h.take(300 * time.Millisecond)
	if h.status.Advisory != nil {
		t.Fatalf("a healthy rollout raised %+v", h.status.Advisory)
	}
	h.rollout(rolloutOf(2, 4, snapshot.Stalled))
	h.until("the advisory", func() bool { return h.status.Advisory != nil })
	got := strings.Join(h.status.Advisory.Signals, "; ")
	for _, want := range []string{"api rollout stalled at 2/6 ready", "api 4/6 pods failing to start", `"Production rollout complete" no longer passes`} {
		if !strings.Contains(got, want) {
			t.Errorf("signals %q lack %q", got, want)
		}
	}
	h.until("advisory.raise journaled", func() bool { _, ok := h.record(RecAdvisoryRaise); return ok })
	raise, _ := h.record(RecAdvisoryRaise)
	if !strings.HasPrefix(raise.Summary, "ROLLBACK RECOMMENDED: ") {
		t.Errorf("raise: %q", raise.Summary)
	}
	// The same trouble with other figures is not a new advisory.
	h.rollout(rolloutOf(1, 5, snapshot.Stalled))
	h.take(300 * time.Millisecond)
	if n := h.count(RecAdvisoryRaise); n != 1 {
		t.Errorf("%d raises for one trouble whose figures moved", n)
	}
	h.rollout(rolloutOf(6, 0, snapshot.Complete))
	h.until("the advisory cleared", func() bool { return h.status.Advisory == nil })
	h.until("advisory.clear journaled", func() bool { _, ok := h.record(RecAdvisoryClear); return ok })
	clear, _ := h.record(RecAdvisoryClear)
	if !strings.Contains(clear.Summary, "recovered") || !strings.Contains(clear.Summary, "failing to start") {
		t.Errorf("clear: %q", clear.Summary)
	}
}

// Before the deploy starts, a broken rollout is not a reason to roll back:
// nothing of this deploy has gone out.
func TestNoAdvisoryBeforeTheDeployStarts(t *testing.T) {
	h := advisoryEngine(t, false)
	h.rollout(rolloutOf(2, 4, snapshot.Stalled))
	h.until("the reading judged", func() bool { return h.status.Gates["rolled-out"].State == gates.Fail })
	if h.status.Advisory != nil || h.count(RecAdvisoryRaise) != 0 {
		t.Fatalf("advisory before deploy.start: %+v", h.status.Advisory)
	}
}

// TestNewIssuesThreshold: under [sentry] advisory_new_issues a new issue
// or two are shown but recommend nothing, not even through the ticked
// "no new errors" gate; at the threshold they do.
func TestNewIssuesThreshold(t *testing.T) {
	doc := strings.Replace(advisoryConfig, "[kubernetes]", `[[phase.step]]
id = "no-new"
title = "Sentry: no new errors"
estimate = "2m"
gate = "sentry.no_new_issues"
[sentry]
org = "acme"
projects = ["app"]
token = "env:FLIGHTDECK_TEST_UNSET"
advisory_new_issues = 3
[kubernetes]`, 1)
	cfg, err := config.Parse("a.toml", []byte(doc), config.LoadOptions{Getenv: func(string) string { return "token" }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rb := runbook.New(cfg)
	rb.Apply(journal.Record{Seq: 1, Type: runbook.RecDeployStart, At: now.Add(-10 * time.Minute), Step: "push"})
	rb.Apply(journal.Record{Seq: 2, Type: runbook.RecStepCheck, At: now.Add(-5 * time.Minute), Step: "no-new"})
	e := &Engine{cfg: cfg, rb: rb, facts: gates.Facts{}}
	judge := func(n int) []signal {
		e.facts["sentry.no_new_issues"] = gates.Fact{Known: true, Bool: n == 0, Number: float64(n), Detail: fmt.Sprintf("%d new: APP-1", n)}
		e.gates = e.rb.Gates(e.facts)
		return e.signals()
	}
	if s := judge(2); len(s) != 0 {
		t.Errorf("2 new issues under a threshold of 3: %+v", s)
	}
	s := judge(3)
	keys := []string{}
	for _, x := range s {
		keys = append(keys, x.Key)
	}
	if strings.Join(keys, ",") != "sentry.no_new_issues,gate/no-new" {
		t.Errorf("3 new issues: %v", keys)
	}
}
