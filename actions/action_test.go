//go:build unix

package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// openJournal opens a real journal in a fresh directory.
func openJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, _, err := journal.Open(filepath.Join(t.TempDir(), "deploy.jsonl"), journal.Options{})
	if err != nil {
		t.Fatalf("journal.Open: %v", err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func records(t *testing.T, j *journal.Journal) []journal.Record {
	t.Helper()
	rep, err := journal.Read(j.Path())
	if err != nil {
		t.Fatalf("journal.Read: %v", err)
	}
	if rep.Torn != nil {
		t.Fatalf("journal has a torn tail: %s", rep.Torn)
	}
	return rep.Records
}

// fakeAction records whether it ran and lets each test decide what Run does.
type fakeAction struct {
	kind      string
	step      string
	dangerous bool
	run       func(ctx context.Context) (actions.Result, error)

	mu    sync.Mutex
	calls int
}

func (f *fakeAction) Kind() string    { return f.kind }
func (f *fakeAction) Step() string    { return f.step }
func (f *fakeAction) Dangerous() bool { return f.dangerous }
func (f *fakeAction) Preview(context.Context) (actions.Preview, error) {
	return actions.Preview{Title: f.kind}, nil
}

func (f *fakeAction) Run(ctx context.Context) (actions.Result, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.run == nil {
		return actions.Result{OK: true, Summary: "done"}, nil
	}
	return f.run(ctx)
}

func (f *fakeAction) ran() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// failingAppender fails from the failAt'th append on (1-based), passing
// earlier ones to next (which may be nil).
type failingAppender struct {
	next   actions.Appender
	failAt int
	err    error

	mu  sync.Mutex
	n   int
	got []journal.Record
}

func (a *failingAppender) Append(r journal.Record) (journal.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	a.got = append(a.got, r)
	if a.n >= a.failAt {
		return journal.Record{}, a.err
	}
	if a.next == nil {
		return r, nil
	}
	return a.next.Append(r)
}

func TestRunnerReadOnlyRefusesDangerous(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, ReadOnly: true, By: "ana"}
	a := &fakeAction{kind: "kube.rollback", step: "deploy/rollback", dangerous: true}
	out := r.Execute(context.Background(), "id1", a, "roll back web", time.Minute)
	if !errors.Is(out.Err, actions.ErrReadOnly) {
		t.Errorf("Err = %v, want ErrReadOnly", out.Err)
	}
	if out.Err != nil && !strings.Contains(out.Err.Error(), "kube.rollback") {
		t.Errorf("Err %q does not say which action was refused", out.Err)
	}
	if a.ran() != 0 {
		t.Errorf("a dangerous action ran in read-only mode")
	}
	if recs := records(t, j); len(recs) != 0 {
		t.Errorf("read-only refusal wrote %d journal records: %+v", len(recs), recs)
	}
	if err := r.Allowed(a); !errors.Is(err, actions.ErrReadOnly) {
		t.Errorf("Allowed = %v, want ErrReadOnly", err)
	}
}

func TestRunnerReadOnlyRefusesRealCommand(t *testing.T) {
	j := openJournal(t)
	dir := t.TempDir()
	r := &actions.Runner{Journal: j, ReadOnly: true}
	out := r.Execute(context.Background(), "id1", &actions.Command{Dir: dir, Line: "touch ran"}, "touch", time.Minute)
	if !errors.Is(out.Err, actions.ErrReadOnly) {
		t.Errorf("Err = %v, want ErrReadOnly", out.Err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Errorf("the command ran in read-only mode")
	}
	if recs := records(t, j); len(recs) != 0 {
		t.Errorf("read-only refusal wrote %d journal records", len(recs))
	}
}

func TestRunnerAllowsDangerousWhenWritable(t *testing.T) {
	r := &actions.Runner{Journal: openJournal(t)}
	a := &fakeAction{kind: "kube.rollback", dangerous: true}
	if err := r.Allowed(a); err != nil {
		t.Fatalf("Allowed = %v", err)
	}
	if out := r.Execute(context.Background(), "id1", a, "", time.Minute); out.Err != nil || a.ran() != 1 {
		t.Errorf("Execute = %v, ran %d times; want it run once", out.Err, a.ran())
	}
}

func TestRunnerStepMarkInReadOnly(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, ReadOnly: true, By: "ana"}
	m := &actions.StepMark{Type: runbook.RecStepCheck, StepID: "pre/huddle", Title: "Huddle", Value: "3 locks"}
	out := r.Execute(context.Background(), "id1", m, "checked off", time.Minute)
	if out.Err != nil {
		t.Fatalf("Execute: %v", out.Err)
	}
	if !out.Result.OK || out.Result.Summary != "checked off" {
		t.Errorf("Result = %+v", out.Result)
	}
	recs := records(t, j)
	if len(recs) != 1 {
		t.Fatalf("journal has %d records, want exactly 1: %+v", len(recs), recs)
	}
	rec := recs[0]
	if rec.Type != runbook.RecStepCheck || rec.Step != "pre/huddle" || rec.By != "ana" || rec.Summary != "3 locks" {
		t.Errorf("record = %+v, want a step.check of pre/huddle by ana with the gate value", rec)
	}
}

func TestRunnerStepMarkVerify(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, By: "ana"}
	m := &actions.StepMark{Type: runbook.RecVerify, StepID: "deploy/push", RunID: "abc123", OK: false, Reason: "push never reached the remote"}
	if out := r.Execute(context.Background(), "id1", m, "", 0); out.Err != nil {
		t.Fatalf("Execute: %v", out.Err)
	}
	recs := records(t, j)
	if len(recs) != 1 {
		t.Fatalf("journal has %d records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Type != runbook.RecVerify || rec.Action != "abc123" || rec.Reason != "push never reached the remote" {
		t.Errorf("record = %+v", rec)
	}
	// A verification that found the run failed must say so, not be omitted.
	if rec.OK == nil || *rec.OK {
		t.Errorf("record OK = %v, want an explicit false", rec.OK)
	}
}

func TestRunnerRecordedAppendFails(t *testing.T) {
	boom := errors.New("disk full")
	r := &actions.Runner{Journal: &failingAppender{failAt: 1, err: boom}}
	out := r.Execute(context.Background(), "id1", &actions.StepMark{Type: runbook.RecStepSkip, StepID: "s"}, "", 0)
	if !errors.Is(out.Err, boom) {
		t.Errorf("Err = %v, want the journal's error", out.Err)
	}
	if out.Result.OK {
		t.Errorf("a mark that was not recorded reported OK")
	}
}

func TestStepMarkPreview(t *testing.T) {
	for typ, verb := range map[string]string{
		runbook.RecStepCheck: "Check off", runbook.RecStepSkip: "Skip",
		runbook.RecStepReopen: "Reopen", runbook.RecVerify: "Verify",
	} {
		m := &actions.StepMark{Type: typ, Title: "Push staging", Reason: "not needed today"}
		p, err := m.Preview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != verb+": Push staging" {
			t.Errorf("%s: title %q", typ, p.Title)
		}
		if len(p.Lines) != 1 || !strings.Contains(p.Lines[0], "not needed today") {
			t.Errorf("%s: lines %q lack the reason", typ, p.Lines)
		}
		if m.Dangerous() {
			t.Errorf("%s is Dangerous; it must stay usable in read-only mode", typ)
		}
	}
}

func TestRunnerJournalsIntentBeforeRun(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, By: "ana"}
	var seen []journal.Record
	var readErr error
	a := &fakeAction{kind: "command", step: "deploy/push", dangerous: true}
	a.run = func(context.Context) (actions.Result, error) {
		rep, err := journal.Read(j.Path())
		seen, readErr = rep.Records, err
		return actions.Result{OK: true, Summary: "exit 0"}, nil
	}
	out := r.Execute(context.Background(), "run-7", a, "git push origin staging", time.Minute)
	if out.Err != nil {
		t.Fatalf("Execute: %v", out.Err)
	}
	if readErr != nil {
		t.Fatalf("reading the journal from Run: %v", readErr)
	}
	if len(seen) != 1 {
		t.Fatalf("when Run started the journal held %d records, want just the intent: %+v", len(seen), seen)
	}
	in := seen[0]
	if in.Type != runbook.RecIntent || in.Action != "run-7" || in.Kind != "command" ||
		in.Step != "deploy/push" || in.By != "ana" || in.Summary != "git push origin staging" {
		t.Errorf("intent = %+v", in)
	}
}

func TestRunnerDoesNotRunUnjournaled(t *testing.T) {
	boom := errors.New("disk full")
	app := &failingAppender{failAt: 1, err: boom}
	r := &actions.Runner{Journal: app}
	a := &fakeAction{kind: "kube.rollback", dangerous: true}
	out := r.Execute(context.Background(), "id1", a, "roll back", time.Minute)
	if a.ran() != 0 {
		t.Fatalf("the action ran although its intent was not journaled")
	}
	if !errors.Is(out.Err, boom) || !strings.Contains(out.Err.Error(), "not run") {
		t.Errorf("Err = %v, want it to say the action was not run, wrapping the journal error", out.Err)
	}
	// Only the intent was attempted: no result for a run that never was.
	if len(app.got) != 1 || app.got[0].Type != runbook.RecIntent {
		t.Errorf("appends attempted: %+v", app.got)
	}
}

func TestRunnerResultJournalFails(t *testing.T) {
	boom := errors.New("disk full")
	j := openJournal(t)
	r := &actions.Runner{Journal: &failingAppender{next: j, failAt: 2, err: boom}}
	a := &fakeAction{kind: "command"}
	out := r.Execute(context.Background(), "id1", a, "", time.Minute)
	if a.ran() != 1 {
		t.Fatalf("ran %d times", a.ran())
	}
	if !errors.Is(out.Err, boom) || !strings.Contains(out.Err.Error(), "result") {
		t.Errorf("Err = %v, want it to say the result was not journaled", out.Err)
	}
	// The world changed, so what the action did is still reported.
	if !out.Result.OK || out.Result.Summary != "done" {
		t.Errorf("Result = %+v, want the action's own result", out.Result)
	}
	if recs := records(t, j); len(recs) != 1 || recs[0].Type != runbook.RecIntent {
		t.Errorf("journal = %+v, want the lone intent that marks the outcome unknown", recs)
	}
}

func TestRunnerResultRecord(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, By: "ana"}
	exit := 0
	detail := json.RawMessage(`{"deployment":"web","revision":41}`)
	const ran = 20 * time.Millisecond
	a := &fakeAction{kind: "kube.rollback", step: "deploy/rollback", dangerous: true}
	a.run = func(context.Context) (actions.Result, error) {
		time.Sleep(ran)
		return actions.Result{OK: true, Summary: "rolled back to 41", Exit: &exit, Tail: []string{"a", "b"}, Detail: detail}, nil
	}
	out := r.Execute(context.Background(), "run-9", a, "roll back web", time.Minute)
	if out.Err != nil {
		t.Fatalf("Execute: %v", out.Err)
	}
	if out.ID != "run-9" || out.Kind != "kube.rollback" || out.Step != "deploy/rollback" {
		t.Errorf("Outcome = %+v", out)
	}
	if out.Took < ran {
		t.Errorf("Took = %s, but Run alone slept %s", out.Took, ran)
	}
	recs := records(t, j)
	if len(recs) != 2 {
		t.Fatalf("journal has %d records, want intent and result: %+v", len(recs), recs)
	}
	in, res := recs[0], recs[1]
	if in.Type != runbook.RecIntent || res.Type != runbook.RecResult {
		t.Fatalf("record types = %q, %q", in.Type, res.Type)
	}
	if in.Action != "run-9" || res.Action != in.Action {
		t.Errorf("action ids %q / %q do not pair intent and result under run-9", in.Action, res.Action)
	}
	if res.Step != "deploy/rollback" || res.By != "ana" || res.Kind != "kube.rollback" || res.Summary != "rolled back to 41" {
		t.Errorf("result = %+v", res)
	}
	if res.OK == nil || !*res.OK {
		t.Errorf("result OK = %v, want true", res.OK)
	}
	if res.Exit == nil || *res.Exit != 0 {
		t.Errorf("result Exit = %v, want 0 recorded (not omitted)", res.Exit)
	}
	if !equal(res.Tail, []string{"a", "b"}) {
		t.Errorf("result Tail = %q", res.Tail)
	}
	if res.Duration.Duration() < ran {
		t.Errorf("result Duration = %s, want at least %s", res.Duration, ran)
	}
	if string(res.Data) != string(detail) {
		t.Errorf("result Data = %s, want %s", res.Data, detail)
	}
	if res.Error != "" {
		t.Errorf("result Error = %q for a clean run", res.Error)
	}
}

func TestRunnerCommandResultRecord(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, By: "ana"}
	c := &actions.Command{StepID: "deploy/migrate", Line: `echo migrating; echo "relation exists" >&2; exit 3`}
	out := r.Execute(context.Background(), "run-3", c, "mix ecto.migrate", time.Minute)
	// A non-zero exit is the command's answer, not a runner failure.
	if out.Err != nil {
		t.Errorf("Err = %v", out.Err)
	}
	if out.Result.OK {
		t.Errorf("exit 3 reported OK")
	}
	recs := records(t, j)
	if len(recs) != 3 {
		t.Fatalf("journal has %d records, want intent, started and result", len(recs))
	}
	assertStarted(t, recs[1], "run-3")
	res := recs[2]
	if res.Type != runbook.RecResult || res.Action != "run-3" || res.Kind != runbook.KindCommand || res.Step != "deploy/migrate" {
		t.Errorf("result = %+v", res)
	}
	if res.OK == nil || *res.OK {
		t.Errorf("result OK = %v, want false", res.OK)
	}
	if res.Exit == nil || *res.Exit != 3 {
		t.Errorf("result Exit = %v, want 3", res.Exit)
	}
	if res.Summary != "exit 3" {
		t.Errorf("result Summary = %q", res.Summary)
	}
	if !equal(res.Tail, []string{"migrating", "relation exists"}) {
		t.Errorf("result Tail = %q", res.Tail)
	}
}

func TestRunnerRunErrorMakesResultNotOK(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j}
	a := &fakeAction{kind: "jira.move", run: func(context.Context) (actions.Result, error) {
		return actions.Result{OK: true, Summary: "moved 3 of 5"}, errors.New("PROJ-7: transition not allowed")
	}}
	out := r.Execute(context.Background(), "id1", a, "", time.Minute)
	if out.Err == nil || out.Result.OK {
		t.Errorf("Outcome err %v ok %v, want the error and OK false", out.Err, out.Result.OK)
	}
	recs := records(t, j)
	if len(recs) != 2 {
		t.Fatalf("journal has %d records", len(recs))
	}
	if res := recs[1]; res.OK == nil || *res.OK || res.Error != "PROJ-7: transition not allowed" || res.Summary != "moved 3 of 5" {
		t.Errorf("result = %+v", res)
	}
}

func TestRunnerTimesOutCommand(t *testing.T) {
	j := openJournal(t)
	dir := t.TempDir()
	var shell int
	killLeftovers(t, &shell)
	r := &actions.Runner{Journal: j, By: "ana"}
	c := &actions.Command{StepID: "deploy/wait", Dir: dir, Line: `echo $$ > shell.pid; sleep 30`}
	done := make(chan actions.Outcome, 1)
	go func() { done <- r.Execute(context.Background(), "run-1", c, "sleep", 300*time.Millisecond) }()
	var out actions.Outcome
	select {
	case out = <-done:
	case <-time.After(safety):
		t.Fatalf("Execute did not return within %s of a 300ms timeout", safety)
	}
	if out.Err == nil || !strings.Contains(out.Err.Error(), "timed out") {
		t.Errorf("Err = %v, want it to say it timed out", out.Err)
	}
	if out.Result.OK {
		t.Errorf("a timed-out command reported OK")
	}
	recs := records(t, j)
	if len(recs) != 3 {
		t.Fatalf("journal has %d records, want intent, started and result", len(recs))
	}
	assertStarted(t, recs[1], "run-1")
	res := recs[2]
	if res.Type != runbook.RecResult || res.Action != "run-1" {
		t.Errorf("result = %+v", res)
	}
	if res.OK == nil || *res.OK {
		t.Errorf("result OK = %v, want false", res.OK)
	}
	if !strings.Contains(res.Error, "timed out") {
		t.Errorf("result Error = %q, want it to say it timed out", res.Error)
	}
	// The shell may not have got as far as writing its pid before the
	// timeout; when it did, nothing of it may be left.
	if b, err := os.ReadFile(filepath.Join(dir, "shell.pid")); err == nil && strings.HasSuffix(string(b), "\n") {
		shell = readPid(t, filepath.Join(dir, "shell.pid"))
		waitGroupGone(t, shell)
	}
}

// An action that just gives up when its context ends must still be
// journaled as a timeout, not as a silent failure.
func TestRunnerDefaultTimeout(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, Timeout: 50 * time.Millisecond}
	a := &fakeAction{kind: "pg.cancel", run: func(ctx context.Context) (actions.Result, error) {
		select {
		case <-ctx.Done():
		case <-time.After(safety):
		}
		return actions.Result{Summary: "gave up"}, nil
	}}
	out := r.Execute(context.Background(), "id1", a, "", 0)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "timed out after 50ms") {
		t.Errorf("Err = %v, want \"timed out after 50ms\" from the runner's default", out.Err)
	}
	recs := records(t, j)
	if len(recs) != 2 || !strings.Contains(recs[1].Error, "timed out") {
		t.Errorf("journal = %+v, want a result carrying the timeout", recs)
	}
}

// Without any timeout the action gets a context that never expires.
func TestRunnerNoTimeout(t *testing.T) {
	r := &actions.Runner{Journal: openJournal(t)}
	a := &fakeAction{kind: "k", run: func(ctx context.Context) (actions.Result, error) {
		if _, ok := ctx.Deadline(); ok {
			return actions.Result{}, errors.New("got a deadline")
		}
		return actions.Result{OK: true}, nil
	}}
	if out := r.Execute(context.Background(), "id1", a, "", 0); out.Err != nil {
		t.Errorf("Err = %v", out.Err)
	}
}

func TestRunnerNextID(t *testing.T) {
	r := &actions.Runner{}
	a, b := r.NextID(), r.NextID()
	if len(a) != 12 || a == b {
		t.Errorf("NextID = %q, %q; want distinct 12-hex-digit ids", a, b)
	}
	r.NewID = func() string { return "fixed" }
	if got := r.NextID(); got != "fixed" {
		t.Errorf("NextID with NewID = %q", got)
	}
}

// TestReadOnlyRefusesOutwardActions: a Slack post or a Sentry marker needs
// no confirmation, but read-only mode still refuses it.
func TestReadOnlyRefusesOutwardActions(t *testing.T) {
	r := &actions.Runner{Journal: openJournal(t), ReadOnly: true}
	for _, a := range []actions.Action{
		actions.NewSlackNotify(&config.Slack{Channel: "#general"}, "", "hello", ""),
		&actions.DeployMarker{Release: "r1", Stage: actions.StageStart},
	} {
		if err := r.Allowed(a); !errors.Is(err, actions.ErrReadOnly) {
			t.Errorf("%s allowed in read-only mode: %v", a.Kind(), err)
		}
	}
	if err := r.Allowed(&actions.GitFetch{}); err != nil {
		t.Errorf("git fetch refused in read-only mode: %v", err)
	}
}

// assertStarted checks the progress record a command writes once it has a
// process group, which a restarted cockpit looks for.
func assertStarted(t *testing.T, rec journal.Record, id string) {
	t.Helper()
	var started runbook.CommandStarted
	if rec.Type != runbook.RecProgress || rec.Action != id || json.Unmarshal(rec.Data, &started) != nil || started.Pgid <= 1 {
		t.Errorf("second record = %+v, want the command's process group", rec)
	}
}
