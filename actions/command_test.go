//go:build unix

package actions_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// safety bounds a wait that should end long before it; it is never an
// assertion about how fast something is.
const safety = 20 * time.Second

// lines collects what a Command streams. Output is called from the reading
// goroutine, so it is guarded.
type lines struct {
	mu  sync.Mutex
	got []string
	// seen is signalled (without blocking) whenever a line arrives.
	seen chan struct{}
}

func newLines() *lines { return &lines{seen: make(chan struct{}, 1)} }

func (l *lines) add(s string) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
	select {
	case l.seen <- struct{}{}:
	default:
	}
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func (l *lines) has(s string) bool {
	for _, x := range l.all() {
		if x == s {
			return true
		}
	}
	return false
}

// waitFor blocks until the line s has been streamed.
func (l *lines) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(safety)
	for !l.has(s) {
		select {
		case <-l.seen:
		case <-deadline:
			t.Fatalf("line %q never streamed; got %q", s, l.all())
		}
	}
}

type runResult struct {
	res actions.Result
	err error
}

// runAsync runs c and hands back its result, so a test can act on the
// command while it runs and still bound the wait for it.
func runAsync(ctx context.Context, c *actions.Command) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		res, err := c.Run(ctx)
		ch <- runResult{res, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(safety):
		t.Fatalf("Run did not return within %s", safety)
		return runResult{}
	}
}

func run(t *testing.T, c *actions.Command) (actions.Result, *lines, error) {
	t.Helper()
	out := newLines()
	if c.Output == nil {
		c.Output = out.add
	}
	r := await(t, runAsync(context.Background(), c))
	return r.res, out, r.err
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func exitOf(t *testing.T, r actions.Result) int {
	t.Helper()
	if r.Exit == nil {
		t.Fatalf("Result.Exit is nil; want the exit code recorded")
	}
	return *r.Exit
}

func TestCommandStreamsStdoutAndStderrInOrder(t *testing.T) {
	c := &actions.Command{Line: `echo one; echo two >&2; echo three; echo four >&2`}
	res, out, err := run(t, c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"one", "two", "three", "four"}
	if got := out.all(); !equal(got, want) {
		t.Errorf("Output got %q, want %q", got, want)
	}
	if !equal(res.Tail, want) {
		t.Errorf("Tail = %q, want %q", res.Tail, want)
	}
	if exitOf(t, res) != 0 || !res.OK || res.Summary != "exit 0" {
		t.Errorf("Result = exit %d ok %v summary %q, want exit 0 ok true summary \"exit 0\"", *res.Exit, res.OK, res.Summary)
	}
}

// The operator watches a long command as it runs, so a line must reach
// Output while the command is still going, not when it ends.
func TestCommandStreamsWhileRunning(t *testing.T) {
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, &actions.Command{Line: `echo started; sleep 30; echo never`, Output: out.add})
	out.waitFor(t, "started")
	cancel()
	r := await(t, done)
	if out.has("never") {
		t.Errorf("the command was not stopped: %q", out.all())
	}
	if r.err == nil {
		t.Errorf("cancelled Run returned no error")
	}
}

func TestCommandNonZeroExit(t *testing.T) {
	res, _, err := run(t, &actions.Command{Line: `echo failing; exit 3`})
	if err != nil {
		t.Fatalf("a command that exits non-zero ran fine, so Run should not error; got %v", err)
	}
	if got := exitOf(t, res); got != 3 {
		t.Errorf("Exit = %d, want 3", got)
	}
	if res.OK {
		t.Errorf("OK = true for exit 3")
	}
	if res.Summary != "exit 3" {
		t.Errorf("Summary = %q, want \"exit 3\"", res.Summary)
	}
	if !equal(res.Tail, []string{"failing"}) {
		t.Errorf("Tail = %q", res.Tail)
	}
}

func TestCommandTailKeepsLastLines(t *testing.T) {
	numbered := func(from, to int) []string {
		var s []string
		for i := from; i <= to; i++ {
			s = append(s, "line "+strconv.Itoa(i))
		}
		return s
	}
	for _, n := range []int{0, 1, actions.TailLines - 1, actions.TailLines, actions.TailLines + 1, 50} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			res, out, err := run(t, &actions.Command{
				Line: fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "line $i"; i=$((i+1)); done`, n),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := out.all(); !equal(got, numbered(1, n)) {
				t.Errorf("Output has %d lines, want all %d streamed", len(got), n)
			}
			want := numbered(max(1, n-actions.TailLines+1), n)
			if !equal(res.Tail, want) {
				t.Errorf("Tail = %q, want %q", res.Tail, want)
			}
		})
	}
}

func TestCommandLineEndings(t *testing.T) {
	// A progress bar redraws one line with \r; the journal should keep what
	// it said last, and CRLF output should not leave a stray \r.
	res, out, err := run(t, &actions.Command{
		Line: `printf 'upload 10%%\rupload 50%%\rupload 100%%\n'; printf 'dos line\r\n'; printf 'no newline at end'`,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"upload 100%", "dos line", "no newline at end"}
	if got := out.all(); !equal(got, want) {
		t.Errorf("Output = %q, want %q", got, want)
	}
	if !equal(res.Tail, want) {
		t.Errorf("Tail = %q, want %q", res.Tail, want)
	}
}

func TestCommandRedactsOutputAndTail(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	c := &actions.Command{
		Line:   `echo "login with password ` + secret + `"; echo "plain"; echo "` + secret + `" >&2`,
		Redact: func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") },
	}
	res, out, err := run(t, c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"login with password [redacted]", "plain", "[redacted]"}
	if got := out.all(); !equal(got, want) {
		t.Errorf("Output = %q, want %q", got, want)
	}
	if !equal(res.Tail, want) {
		t.Errorf("Tail = %q, want %q", res.Tail, want)
	}
}

// Redaction has to see the whole line: a secret split over two progress
// redraws would otherwise survive in the last segment only partly hidden.
func TestCommandRedactsAfterProgressSegments(t *testing.T) {
	const secret = "tok-abc123"
	res, _, err := run(t, &actions.Command{
		Line:   `printf 'working\rtoken=` + secret + `\n'`,
		Redact: func(s string) string { return strings.ReplaceAll(s, secret, "***") },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !equal(res.Tail, []string{"token=***"}) {
		t.Errorf("Tail = %q, want [token=***]", res.Tail)
	}
}

func TestCommandDirAndEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FLIGHTDECK_TEST_INHERITED", "from-cockpit")
	t.Setenv("FLIGHTDECK_TEST_OVERRIDE", "from-cockpit")
	res, _, err := run(t, &actions.Command{
		Line: `pwd; echo "$FLIGHTDECK_TEST_ADDED"; echo "$FLIGHTDECK_TEST_INHERITED"; echo "$FLIGHTDECK_TEST_OVERRIDE"`,
		Dir:  dir,
		Env:  []string{"FLIGHTDECK_TEST_ADDED=added", "FLIGHTDECK_TEST_OVERRIDE=from-step"},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Tail) != 4 {
		t.Fatalf("Tail = %q, want 4 lines", res.Tail)
	}
	wantDir, _ := filepath.EvalSymlinks(dir)
	if gotDir, _ := filepath.EvalSymlinks(res.Tail[0]); gotDir != wantDir {
		t.Errorf("ran in %q, want %q", res.Tail[0], dir)
	}
	if want := []string{"added", "from-cockpit", "from-step"}; !equal(res.Tail[1:], want) {
		t.Errorf("environment seen = %q, want %q", res.Tail[1:], want)
	}
}

func TestCommandShell(t *testing.T) {
	bash := "/bin/bash"
	if _, err := os.Stat(bash); err != nil {
		t.Skip("no /bin/bash here")
	}
	// [[ ]] is bash only, so this proves Shell was used instead of /bin/sh.
	res, _, err := run(t, &actions.Command{Shell: bash, Line: `[[ -n "$BASH_VERSION" ]] && echo bash`})
	if err != nil || !equal(res.Tail, []string{"bash"}) {
		t.Errorf("Run with Shell=%s: tail %q, err %v", bash, res.Tail, err)
	}
}

func TestCommandMissingShell(t *testing.T) {
	res, _, err := run(t, &actions.Command{Shell: filepath.Join(t.TempDir(), "no-such-shell"), Line: "true"})
	if err == nil {
		t.Fatalf("Run with a missing shell returned no error")
	}
	if res.OK {
		t.Errorf("OK = true for a command that never started")
	}
	if !strings.Contains(err.Error(), "no-such-shell") {
		t.Errorf("error %q does not name the shell", err)
	}
}

func TestCommandDescribesItself(t *testing.T) {
	c := &actions.Command{StepID: "deploy/push", Title: "Push staging", Line: "git push origin staging", Shell: "/bin/sh", Dir: "/srv/app"}
	if c.Kind() != runbook.KindCommand || c.Step() != "deploy/push" {
		t.Errorf("Kind/Step = %q/%q", c.Kind(), c.Step())
	}
	// Anything can happen in a shell, so read-only mode must refuse it.
	if !c.Dangerous() {
		t.Errorf("a command must be Dangerous")
	}
	p, err := c.Preview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Run: Push staging" {
		t.Errorf("Preview title = %q", p.Title)
	}
	joined := strings.Join(p.Lines, "\n")
	for _, want := range []string{"git push origin staging", "/srv/app", "/bin/sh"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Preview lines %q do not mention %q", p.Lines, want)
		}
	}
}

// readPid waits for the command under test to write a pid into path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(safety)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file %s: %v", path, err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the command never wrote %s", path)
	return 0
}

// procStat returns the state letter and process group of pid from /proc.
func procStat(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name is parenthesised and may hold spaces; fields after
	// it are "state ppid pgrp ...".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0][0], pgrp, err == nil
}

// dead reports whether pid no longer runs. A zombie counts as dead: once its
// shell is gone it is reparented, and whether anything reaps it is up to the
// init of the machine running the tests (some containers' init never does).
func dead(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	state, _, ok := procStat(pid)
	return ok && state == 'Z'
}

// groupMembers lists live (non-zombie) processes in process group pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		// No /proc: a group with no process at all is the best we can see.
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return nil
		}
		return []int{-pgid}
	}
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pg, ok := procStat(pid); ok && pg == pgid && state != 'Z' {
			live = append(live, pid)
		}
	}
	return live
}

func waitDead(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !dead(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still runs after the command was cancelled", what, pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		live := groupMembers(pgid)
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process group %d still has live members %v", pgid, live)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killLeftovers makes sure a failing test does not leave sleeps behind.
func killLeftovers(t *testing.T, pids ...*int) {
	t.Cleanup(func() {
		for _, p := range pids {
			if *p > 0 {
				_ = syscall.Kill(*p, syscall.SIGKILL)
			}
		}
	})
}

func TestCommandCancelKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	var shell, child int
	killLeftovers(t, &shell, &child)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The background sleep is what a kill of the shell alone would leave
	// behind; only signalling the whole group stops it.
	done := runAsync(ctx, &actions.Command{
		Dir:  dir,
		Line: `echo $$ > shell.pid; sleep 300 & echo $! > child.pid; wait`,
	})
	shell = readPid(t, filepath.Join(dir, "shell.pid"))
	child = readPid(t, filepath.Join(dir, "child.pid"))
	cancel()
	r := await(t, done)
	if r.err == nil || r.err.Error() != "cancelled by the operator" {
		t.Errorf("Run error = %v, want \"cancelled by the operator\"", r.err)
	}
	if r.res.OK || r.res.Summary != "cancelled" {
		t.Errorf("Result ok %v summary %q, want not ok, \"cancelled\"", r.res.OK, r.res.Summary)
	}
	waitDead(t, "the shell", shell)
	waitDead(t, "the background child", child)
	waitGroupGone(t, shell)
}

// setKillGrace changes the package-level grace for one test.
func setKillGrace(t *testing.T, d time.Duration) {
	old := actions.KillGrace
	actions.KillGrace = d
	t.Cleanup(func() { actions.KillGrace = old })
}

func TestCommandCancelSendsTermFirst(t *testing.T) {
	// With a grace far longer than the safety limit, the command can only
	// end in time if SIGTERM reached it and its trap ran.
	setKillGrace(t, time.Hour)
	dir := t.TempDir()
	var shell int
	killLeftovers(t, &shell)
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, &actions.Command{
		Dir:    dir,
		Line:   `trap 'echo cleaning up; exit 0' TERM; echo $$ > shell.pid; while :; do sleep 1; done`,
		Output: out.add,
	})
	shell = readPid(t, filepath.Join(dir, "shell.pid"))
	cancel()
	r := await(t, done)
	if !out.has("cleaning up") {
		t.Errorf("the TERM trap never ran; output %q", out.all())
	}
	if r.err == nil || r.err.Error() != "cancelled by the operator" {
		t.Errorf("Run error = %v, want \"cancelled by the operator\"", r.err)
	}
	// It exited 0 from its trap, but it was still cancelled.
	if r.res.OK {
		t.Errorf("a cancelled command reported OK")
	}
	waitGroupGone(t, shell)
}

func TestCommandCancelKillsWhatIgnoresTerm(t *testing.T) {
	setKillGrace(t, 100*time.Millisecond)
	dir := t.TempDir()
	var shell, child int
	killLeftovers(t, &shell, &child)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An ignored signal stays ignored across fork and exec, so both the
	// shell and its sleep can only be stopped by SIGKILL.
	done := runAsync(ctx, &actions.Command{
		Dir:  dir,
		Line: `trap '' TERM; echo $$ > shell.pid; sleep 300 & echo $! > child.pid; wait`,
	})
	shell = readPid(t, filepath.Join(dir, "shell.pid"))
	child = readPid(t, filepath.Join(dir, "child.pid"))
	cancel()
	r := await(t, done)
	if r.err == nil || r.err.Error() != "cancelled by the operator" {
		t.Errorf("Run error = %v, want \"cancelled by the operator\"", r.err)
	}
	if r.res.OK || r.res.Summary != "cancelled" {
		t.Errorf("Result ok %v summary %q, want not ok, \"cancelled\"", r.res.OK, r.res.Summary)
	}
	waitDead(t, "the shell", shell)
	waitDead(t, "the background child", child)
	waitGroupGone(t, shell)
}

// A command that leaves a daemon behind (holding the output pipe) must not
// hold the runner until the daemon exits.
func TestCommandDoesNotWaitForBackgroundChildren(t *testing.T) {
	dir := t.TempDir()
	var child int
	killLeftovers(t, &child)
	res, out, err := run(t, &actions.Command{
		Dir:  dir,
		Line: `sleep 300 & echo $! > child.pid; echo launched`,
	})
	child = readPid(t, filepath.Join(dir, "child.pid"))
	if err != nil || !res.OK || exitOf(t, res) != 0 {
		t.Errorf("Run = ok %v exit %v err %v, want a clean exit 0", res.OK, res.Exit, err)
	}
	if !out.has("launched") {
		t.Errorf("output %q lacks the line printed before the shell exited", out.all())
	}
}

// deadlineCtx lets a test decide when the deadline passes, so the timeout
// strikes only once the command is known to be running.
type deadlineCtx struct {
	context.Context
	done chan struct{}
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) expire() { close(c.done) }

func TestCommandTimeoutFromContext(t *testing.T) {
	dir := t.TempDir()
	var shell int
	killLeftovers(t, &shell)
	ctx := newDeadlineCtx()
	done := runAsync(ctx, &actions.Command{Dir: dir, Line: `echo $$ > shell.pid; sleep 30`})
	shell = readPid(t, filepath.Join(dir, "shell.pid"))
	ctx.expire()
	r := await(t, done)
	if r.err == nil || !strings.Contains(r.err.Error(), "timed out") {
		t.Errorf("Run error = %v, want it to say it timed out", r.err)
	}
	if r.res.OK || r.res.Summary != "timed out" {
		t.Errorf("Result ok %v summary %q, want not ok, \"timed out\"", r.res.OK, r.res.Summary)
	}
	waitGroupGone(t, shell)
}

// Cancelling must stop everything the command started. Here the shell dies
// of SIGTERM at once, but a child it started ignores SIGTERM; only the
// SIGKILL after KillGrace can stop it.
func TestCommandCancelKillsChildThatOutlivesShell(t *testing.T) {
	setKillGrace(t, 100*time.Millisecond)
	dir := t.TempDir()
	var child int
	killLeftovers(t, &child)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, &actions.Command{
		Dir:  dir,
		Line: `sh -c 'trap "" TERM; echo $$ > child.pid; exec sleep 300' & wait`,
	})
	child = readPid(t, filepath.Join(dir, "child.pid"))
	cancel()
	r := await(t, done)
	if r.err == nil || r.err.Error() != "cancelled by the operator" {
		t.Errorf("Run error = %v, want \"cancelled by the operator\"", r.err)
	}
	waitDead(t, "the child ignoring SIGTERM", child)
}

// TestCommandHasNoTerminal: a command runs as the leader of a session of
// its own (so it has no controlling terminal to write over the cockpit
// with) and reads /dev/null: a prompt gets end of input at once instead of
// waiting for a key the operator cannot send.
func TestCommandHasNoTerminal(t *testing.T) {
	res, out, err := run(t, &actions.Command{Line: `
echo "sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$"
if read -r answer; then echo "read a line"; else echo "stdin at end"; fi
if (exec 3</dev/tty) 2>/dev/null; then echo "has a terminal"; else echo "no terminal"; fi`})
	if err != nil || !res.OK {
		t.Fatalf("Run: %v %+v", err, res)
	}
	lines := out.all()
	if len(lines) != 3 {
		t.Fatalf("output %q", lines)
	}
	var sid, pid string
	if _, err := fmt.Sscanf(lines[0], "sid=%s pid=%s", &sid, &pid); err != nil || sid != pid {
		t.Errorf("%q: the command is not the leader of its own session", lines[0])
	}
	if lines[1] != "stdin at end" || lines[2] != "no terminal" {
		t.Errorf("stdin or terminal reachable: %q", lines[1:])
	}
}

// TestCommandOutputGoesToItsFile: the output goes to the run's file
// as the command writes it, so what a command prints after the cockpit
// is gone is still there to read.
func TestCommandOutputGoesToItsFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "runs", "abc.log")
	res, out, err := run(t, &actions.Command{Line: `echo one; echo two >&2`, Log: log})
	if err != nil || !res.OK {
		t.Fatalf("Run: %v", err)
	}
	lines, size, err := actions.ReadLog(log, 10)
	if err != nil || !equal(lines, []string{"one", "two"}) || size != int64(len("one\ntwo\n")) || !equal(out.all(), lines) {
		t.Fatalf("file has %q (%d bytes, %v), pane had %q", lines, size, err, out.all())
	}
}
