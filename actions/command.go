package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// TailLines is how much of a command's output the journal keeps.
const TailLines = 20

// KillGrace is how long a cancelled command gets between SIGTERM and SIGKILL.
var KillGrace = 3 * time.Second

// Command runs one runbook command step as a subprocess.
type Command struct {
	StepID string
	Title  string
	Line   string // the command, templates already expanded
	Shell  string // e.g. /bin/sh
	Dir    string
	Env    []string // added to the cockpit's environment
	// Log is the file the command's output goes to. A file, not a pipe:
	// a command outlives a cockpit that is killed, and a pipe would kill
	// it at its next write (SIGPIPE) and lose what it printed. Empty: a
	// temporary file, removed after the run.
	Log string
	// Output receives the command's output line by line, as it comes, from
	// the goroutine reading it. It must not block for long.
	Output func(line string)
	// Redact hides secrets in output before it is shown or journaled.
	Redact func(string) string

	progress func(Progress) error
}

// Kind implements Action.
func (c *Command) Kind() string { return runbook.KindCommand }

// Step implements Action.
func (c *Command) Step() string { return c.StepID }

// Dangerous implements Action: a runbook command can do anything.
func (c *Command) Dangerous() bool { return true }

// SetProgress implements Progressing: the process group is journaled once
// the command started, so a restarted cockpit can find it.
func (c *Command) SetProgress(f func(Progress) error) { c.progress = f }

// Preview implements Action.
func (c *Command) Preview(context.Context) (Preview, error) {
	lines := []string{c.Line, "", "in " + c.Dir + " with " + c.Shell}
	return Preview{Title: "Run: " + c.Title, Lines: lines}, nil
}

// Run implements Action. The command runs in a session of its own, with no
// controlling terminal and stdin from /dev/null: nothing it starts can
// write over the cockpit or wait for keys (a password prompt fails at once
// instead), and cancelling it stops its whole process group.
func (c *Command) Run(ctx context.Context) (Result, error) {
	shell := c.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	logPath, temporary := c.Log, c.Log == ""
	var out *os.File
	var err error
	if temporary {
		out, err = os.CreateTemp("", "flightdeck-run-*.log")
	} else {
		if err = os.MkdirAll(filepath.Dir(logPath), 0o700); err == nil {
			out, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		}
	}
	if err != nil {
		return Result{Summary: "could not start"}, fmt.Errorf("output file: %w", err)
	}
	logPath = out.Name()
	if temporary {
		defer os.Remove(logPath)
	}
	in, err := os.Open(logPath)
	if err != nil {
		out.Close()
		return Result{Summary: "could not start"}, fmt.Errorf("output file: %w", err)
	}
	defer in.Close()

	cmd := exec.Command(shell, "-c", c.Line)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	out.Close()
	if err != nil {
		return Result{Summary: "could not start"}, fmt.Errorf("starting %s: %w", shell, err)
	}
	pgid := cmd.Process.Pid // a new session's id is its leader's pid
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	exited := make(chan struct{})
	tail := newTail(TailLines)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.follow(in, exited, tail)
	}()

	var cancelled, werr error
	if c.progress != nil {
		started := runbook.CommandStarted{Pgid: pgid}
		if !temporary {
			started.Log = logPath
		}
		if perr := c.progress(Progress{Summary: fmt.Sprintf("started, process group %d", pgid), Data: started}); perr != nil {
			// An unrecorded process is what the journal exists to prevent.
			cancelled = fmt.Errorf("stopped: its start could not be journaled: %w", perr)
			werr = stopGroup(pgid, waitDone)
		}
	}
	if cancelled == nil {
		select {
		case werr = <-waitDone:
		case <-ctx.Done():
			cancelled = ctx.Err()
			werr = stopGroup(pgid, waitDone)
		}
	}
	close(exited)
	<-readDone

	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	res := Result{Exit: &code, Tail: tail.lines(), OK: werr == nil && cancelled == nil}
	switch {
	case errors.Is(cancelled, context.DeadlineExceeded):
		res.Summary = "timed out"
		return res, fmt.Errorf("timed out; the command was stopped")
	case errors.Is(cancelled, context.Canceled):
		res.Summary = "cancelled"
		return res, errors.New("cancelled by the operator")
	case cancelled != nil:
		res.Summary = "stopped"
		return res, cancelled
	case werr != nil:
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res.Summary = "killed by " + ws.Signal().String()
				return res, errors.New(res.Summary)
			}
			res.Summary = fmt.Sprintf("exit %d", code)
			return res, nil
		}
		res.Summary = "failed"
		return res, werr
	}
	res.Summary = "exit 0"
	return res, nil
}

// stopGroup sends SIGTERM to the group, and SIGKILL to whatever is left
// after KillGrace; it returns the leader's wait error.
func stopGroup(pgid int, waitDone <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	grace := time.NewTimer(KillGrace)
	defer grace.Stop()
	select {
	case werr := <-waitDone:
		// The shell went, but a child may ignore SIGTERM: give the group
		// the rest of the grace period, then kill what is left.
		for groupAlive(pgid) {
			select {
			case <-grace.C:
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				return werr
			case <-time.After(20 * time.Millisecond):
			}
		}
		return werr
	case <-grace.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-waitDone
	}
}

// StopGroup stops a process group the cockpit did not start itself (one
// left by a cockpit that was killed): SIGTERM, then SIGKILL after grace.
func StopGroup(ctx context.Context, pgid int, grace time.Duration) error {
	if pgid <= 1 {
		return fmt.Errorf("no process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("process group %d: %w", pgid, err)
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for groupAlive(pgid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// GroupAlive reports whether any process of the group is still there.
func GroupAlive(pgid int) bool { return pgid > 1 && groupAlive(pgid) }

// followPoll is how often the output file is read while the command runs.
const followPoll = 15 * time.Millisecond

// follow reads the output file as it grows until exited is closed, then
// reads what is left. Children that outlive the shell may still write;
// what they write after that is in the file, not in the pane.
func (c *Command) follow(f *os.File, exited <-chan struct{}, tail *tailBuf) {
	buf := make([]byte, 64*1024)
	var partial []byte
	final := false
	for {
		n, err := f.Read(buf)
		if n > 0 {
			partial = c.emitLines(append(partial, buf[:n]...), tail)
			continue
		}
		if err != nil && err != io.EOF {
			break
		}
		if final {
			break
		}
		select {
		case <-exited:
			final = true // one more read for what came last
		case <-time.After(followPoll):
		}
	}
	if len(partial) > 0 {
		c.emit(string(partial), tail)
	}
}

// emitLines sends every whole line of b and returns the rest.
func (c *Command) emitLines(b []byte, tail *tailBuf) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return b
		}
		c.emit(string(b[:i]), tail)
		b = b[i+1:]
	}
}

func (c *Command) emit(line string, tail *tailBuf) {
	line = strings.TrimRight(line, "\r\n")
	// Progress bars redraw with \r: keep what the line says last.
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	if c.Redact != nil {
		line = c.Redact(line)
	}
	tail.add(line)
	if c.Output != nil {
		c.Output(line)
	}
}

type tailBuf struct {
	buf  []string
	next int
	full bool
}

func newTail(n int) *tailBuf { return &tailBuf{buf: make([]string, n)} }

func (t *tailBuf) add(s string) {
	t.buf[t.next] = s
	t.next = (t.next + 1) % len(t.buf)
	if t.next == 0 {
		t.full = true
	}
}

func (t *tailBuf) lines() []string {
	if !t.full {
		return append([]string(nil), t.buf[:t.next]...)
	}
	return append(append([]string(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}

// groupAlive reports whether any process of the group is still there.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
