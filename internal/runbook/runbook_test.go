package runbook_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

const testConfig = `
[deploy]
name = "Test"
environment = "production"

[window]
start = "09:00"
end = "12:30"
timezone = "Europe/London"

[[phase]]
name = "Pre"

[[phase.step]]
id = "clone"
title = "Create the clone"
estimate = "10m"
command = "echo clone"

[[phase.step]]
id = "board"
title = "Check the board"
estimate = "20m"

[[phase.step]]
id = "locks"
title = "Locks are short"
estimate = "5m"
gate = "locks.max_wait < 30s"

[[phase]]
name = "Disaster Recovery"
contingency = true

[[phase.step]]
id = "rollback"
title = "Roll back"
estimate = "15m"

[postgres]
[[postgres.target]]
name = "production"
dsn = "postgres://app@127.0.0.1:5432/app"
`

func newRunbook(t *testing.T) *runbook.Runbook {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(testConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return runbook.New(cfg)
}

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func TestCommandStepLifecycle(t *testing.T) {
	rb := newRunbook(t)
	rb.Apply(journal.Record{Type: runbook.RecDeployStart, At: at(0)})
	if err := rb.CanCheck("clone", gates.Result{}); err == nil {
		t.Fatal("a command step must not be ticked off without running")
	}
	if err := rb.CanRun("clone"); err != nil {
		t.Fatal(err)
	}
	rb.Apply(journal.Record{Type: runbook.RecIntent, At: at(1), Step: "clone", Action: "a1", Kind: runbook.KindCommand})
	st := rb.Step("clone").State
	if st.Status != runbook.Running || st.RunID != "a1" {
		t.Fatalf("after intent: %+v", st)
	}
	if err := rb.CanRun("clone"); err == nil {
		t.Fatal("a running step must not start twice")
	}
	rb.Apply(journal.Record{Type: runbook.RecResult, At: at(3), Step: "clone", Action: "a1", OK: ptr(false), Exit: ptr(2)})
	st = rb.Step("clone").State
	if st.Status != runbook.Failed || *st.Exit != 2 {
		t.Fatalf("after failure: %+v", st)
	}
	if err := rb.CanCheck("clone", gates.Result{}); err == nil {
		t.Fatal("a failed command blocks its step: it must not be ticked off")
	}
	if err := rb.CanRun("clone"); err != nil {
		t.Fatalf("a failed step can be retried: %v", err)
	}
	rb.Apply(journal.Record{Type: runbook.RecIntent, At: at(4), Step: "clone", Action: "a2", Kind: runbook.KindCommand})
	rb.Apply(journal.Record{Type: runbook.RecResult, At: at(6), Step: "clone", Action: "a2", OK: ptr(true), Exit: ptr(0)})
	st = rb.Step("clone").State
	if st.Status != runbook.Done || st.Actual(at(9)) != 2*time.Minute {
		t.Fatalf("after retry: %+v actual %s", st, st.Actual(at(9)))
	}
	if got := len(rb.Open()); got != 0 {
		t.Fatalf("open actions = %d", got)
	}
}

func TestGateStepNeedsPassingGate(t *testing.T) {
	rb := newRunbook(t)
	fail := gates.Result{State: gates.Fail, Value: "45s ≥ 30s"}
	err := rb.CanCheck("locks", fail)
	if err == nil || !strings.Contains(err.Error(), "45s") {
		t.Fatalf("CanCheck on a failing gate = %v, want a refusal naming the value", err)
	}
	if err := rb.CanCheck("locks", gates.Result{State: gates.Unknown, Reason: "no data from [postgres] yet"}); err == nil {
		t.Fatal("an unknown gate must not pass")
	}
	if err := rb.CanCheck("locks", gates.Result{State: gates.Pass}); err != nil {
		t.Fatal(err)
	}
	if err := rb.CanSkip("locks"); err != nil {
		t.Fatal(err)
	}
}

func TestGatesEvaluateFacts(t *testing.T) {
	rb := newRunbook(t)
	res := rb.Gates(gates.Facts{})
	if res["locks"].State != gates.Unknown {
		t.Fatalf("no facts: %+v", res["locks"])
	}
	res = rb.Gates(gates.Facts{"locks.max_wait": {Known: true, Duration: 5 * time.Second}})
	if res["locks"].State != gates.Pass {
		t.Fatalf("5s wait: %+v", res["locks"])
	}
	res = rb.Gates(gates.Facts{"locks.max_wait": {Known: true, Duration: 31 * time.Second}})
	if res["locks"].State != gates.Fail {
		t.Fatalf("31s wait: %+v", res["locks"])
	}
}

func TestSkipReopenAndProgress(t *testing.T) {
	rb := newRunbook(t)
	rb.Apply(journal.Record{Type: runbook.RecStepSkip, At: at(1), Step: "board", By: "tomasz", Reason: "board checked yesterday"})
	st := rb.Step("board").State
	if st.Status != runbook.Skipped || st.Reason != "board checked yesterday" || st.By != "tomasz" {
		t.Fatalf("skip: %+v", st)
	}
	if closed, total := rb.Progress(); closed != 1 || total != 3 {
		t.Fatalf("progress %d/%d, want 1/3 (contingency excluded)", closed, total)
	}
	if err := rb.CanSkip("board"); err == nil {
		t.Fatal("skipping twice must be refused")
	}
	rb.Apply(journal.Record{Type: runbook.RecStepReopen, At: at(2), Step: "board"})
	if rb.Step("board").State.Status != runbook.Pending {
		t.Fatal("reopen must make the step pending")
	}
	if err := rb.CanReopen("board"); err == nil {
		t.Fatal("reopening a pending step must be refused")
	}
}

func TestRemainingCountsRunningStepsPartly(t *testing.T) {
	rb := newRunbook(t)
	if got := rb.Remaining(at(0)); got != 35*time.Minute {
		t.Fatalf("remaining = %s, want 35m (contingency excluded)", got)
	}
	rb.Apply(journal.Record{Type: runbook.RecIntent, At: at(0), Step: "clone", Action: "a", Kind: runbook.KindCommand})
	if got := rb.Remaining(at(4)); got != 31*time.Minute {
		t.Fatalf("remaining with clone running 4 of 10 min = %s, want 31m", got)
	}
	if got := rb.Remaining(at(20)); got != 25*time.Minute {
		t.Fatalf("an overrunning step counts zero, got %s", got)
	}
}

func TestUnknownRecordsAreIgnored(t *testing.T) {
	rb := newRunbook(t)
	rb.Apply(journal.Record{Type: runbook.RecStepCheck, Step: "renamed-step"})
	rb.Apply(journal.Record{Type: "something.new"})
	for _, s := range rb.Steps() {
		if s.State.Status != runbook.Pending {
			t.Fatalf("%s changed", s.ID)
		}
	}
}

func TestInterruptedActionIsUnknownUntilVerified(t *testing.T) {
	rb := newRunbook(t)
	rb.Apply(journal.Record{Type: runbook.RecIntent, At: at(1), Step: "clone", Action: "a1", Kind: runbook.KindCommand, Summary: "echo clone"})
	open := rb.Interrupted()
	if len(open) != 1 || open[0].Action != "a1" {
		t.Fatalf("interrupted = %+v", open)
	}
	if st := rb.Step("clone").State; st.Status != runbook.Unknown {
		t.Fatalf("status = %s, want unknown", st.Status)
	}
	if err := rb.CanRun("clone"); err != nil {
		t.Fatalf("the operator may re-run an unknown step explicitly: %v", err)
	}
	if err := rb.CanCheck("clone", gates.Result{}); err != nil {
		t.Fatalf("the operator may verify an unknown step: %v", err)
	}
	rb.Apply(journal.Record{Type: runbook.RecVerify, At: at(5), Step: "clone", Action: "a1", OK: ptr(true), Reason: "clone exists"})
	if st := rb.Step("clone").State; st.Status != runbook.Done {
		t.Fatalf("after verify: %s", st.Status)
	}
	if len(rb.Open()) != 0 {
		t.Fatal("verified action still open")
	}
}

// TestReplayEqualsLive drives a runbook with records as the cockpit would,
// writing them through a real journal, then rebuilds a second runbook from
// the file alone: the two must agree on every step.
func TestReplayEqualsLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deploy.jsonl")
	j, _, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := newRunbook(t)
	write := func(r journal.Record) {
		t.Helper()
		rec, err := j.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		live.Apply(rec)
	}
	write(journal.Record{Type: runbook.RecDeployStart, By: "chris"})
	write(journal.Record{Type: runbook.RecIntent, Step: "clone", Action: "a1", Kind: runbook.KindCommand, By: "chris"})
	write(journal.Record{Type: runbook.RecResult, Step: "clone", Action: "a1", Kind: runbook.KindCommand, OK: ptr(false), Exit: ptr(1), Tail: []string{"boom"}})
	write(journal.Record{Type: runbook.RecIntent, Step: "clone", Action: "a2", Kind: runbook.KindCommand})
	write(journal.Record{Type: runbook.RecResult, Step: "clone", Action: "a2", Kind: runbook.KindCommand, OK: ptr(true), Exit: ptr(0)})
	write(journal.Record{Type: runbook.RecStepCheck, Step: "board", By: "chris"})
	write(journal.Record{Type: runbook.RecStepSkip, Step: "locks", By: "chris", Reason: "no migrations this time"})
	write(journal.Record{Type: runbook.RecStepCheck, Step: "rollback", By: "chris"})
	write(journal.Record{Type: runbook.RecStepReopen, Step: "rollback", By: "chris"})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	replay, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	replayed := newRunbook(t)
	for _, r := range replay.Records {
		replayed.Apply(r)
	}
	if !live.Started.Equal(replayed.Started) {
		t.Fatalf("started: live %s, replayed %s", live.Started, replayed.Started)
	}
	for _, s := range live.Steps() {
		got := replayed.Step(s.ID).State
		want := s.State
		if !want.StartedAt.Equal(got.StartedAt) || !want.EndedAt.Equal(got.EndedAt) {
			t.Errorf("%s times: live %v–%v, replayed %v–%v", s.ID, want.StartedAt, want.EndedAt, got.StartedAt, got.EndedAt)
		}
		want.StartedAt, want.EndedAt, got.StartedAt, got.EndedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: live %+v, replayed %+v", s.ID, want, got)
		}
	}
	if got := replayed.Step("locks").State; got.Status != runbook.Skipped || got.Reason != "no migrations this time" {
		t.Errorf("skip reason lost: %+v", got)
	}
}

func TestShownCommandAndNotes(t *testing.T) {
	s := &runbook.Step{Step: config.Step{Command: "deploy {{release}}", Notes: "ship {{release}}"}}
	vars := map[string]string{"release": "r 1"}
	if got := s.ShownCommand(vars); got != "deploy 'r 1'" {
		t.Errorf("command: %q", got)
	}
	if got := s.ShownNotes(vars); got != "ship r 1" {
		t.Errorf("notes: %q", got)
	}
	// A template that does not expand is shown as written.
	if got := s.ShownCommand(nil); got != s.Command {
		t.Errorf("command without vars: %q", got)
	}
	if got := s.ShownNotes(nil); got != s.Notes {
		t.Errorf("notes without vars: %q", got)
	}
}

// A step with requires waits for the steps it names: the push does not go
// out while the pre-flight's gate is red, unless that step is skipped with
// a reason, which the journal keeps.
func TestRequiredStepsMustCloseFirst(t *testing.T) {
	doc := strings.Replace(testConfig, `[[phase]]
name = "Disaster Recovery"`, `[[phase.step]]
id = "push"
title = "Push production"
estimate = "1m"
command = "git push"
requires = ["locks"]

[[phase.step]]
id = "announce"
title = "Announce"
estimate = "1m"
requires = ["locks", "board"]

[[phase]]
name = "Disaster Recovery"`, 1)
	cfg, err := config.Parse("test.toml", []byte(doc), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := runbook.New(cfg)
	err = rb.CanRun("push")
	if err == nil || !strings.Contains(err.Error(), `"Push production" waits for "Locks are short" (pending)`) {
		t.Fatalf("CanRun before the gate step closed = %v", err)
	}
	err = rb.CanCheck("announce", gates.Result{})
	if err == nil || !strings.Contains(err.Error(), `"Locks are short" (pending) and "Check the board" (pending)`) {
		t.Fatalf("CanCheck of a manual step with two open requirements = %v", err)
	}
	rb.Apply(journal.Record{Type: runbook.RecStepSkip, At: at(1), Step: "locks", By: "ana", Reason: "the index build is accepted: 4 s on the clone"})
	if err := rb.CanRun("push"); err != nil {
		t.Fatalf("after the required step was skipped with a reason: %v", err)
	}
	if err := rb.CanCheck("announce", gates.Result{}); err == nil || strings.Contains(err.Error(), "Locks are short") {
		t.Fatalf("announce still waits for the board only, got %v", err)
	}
	rb.Apply(journal.Record{Type: runbook.RecStepReopen, At: at(2), Step: "locks"})
	if err := rb.CanRun("push"); err == nil {
		t.Fatal("reopening the required step must hold the push again")
	}
}
