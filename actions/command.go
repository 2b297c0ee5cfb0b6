package actions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	// Output receives the command's output line by line, as it comes, from
	// the goroutine reading it. It must not block for long.
	Output func(line string)
	// Redact hides secrets in output before it is shown or journaled.
	Redact func(string) string
}

// Kind implements Action.
func (c *Command) Kind() string { return runbook.KindCommand }

// Step implements Action.
func (c *Command) Step() string { return c.StepID }

// Dangerous implements Action: a runbook command can do anything.
func (c *Command) Dangerous() bool { return true }

// Preview implements Action.
func (c *Command) Preview(context.Context) (Preview, error) {
	lines := []string{c.Line, "", "in " + c.Dir + " with " + c.Shell}
	return Preview{Title: "Run: " + c.Title, Lines: lines}, nil
}

// Run implements Action. The command runs in its own process group so that
// cancelling it also stops whatever it started (a pipeline, a watch).
func (c *Command) Run(ctx context.Context) (Result, error) {
	shell := c.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", c.Line)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = nil
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return Result{Summary: "could not start"}, fmt.Errorf("starting %s: %w", shell, err)
	}
	pw.Close()

	tail := newTail(TailLines)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.readLines(pr, tail)
	}()

	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	var cancelled error
	var werr error
	select {
	case werr = <-waitDone:
	case <-ctx.Done():
		cancelled = ctx.Err()
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := time.NewTimer(KillGrace)
		select {
		case werr = <-waitDone:
			// The shell went, but a child may ignore SIGTERM: give the
			// group the rest of the grace period, then kill what is left.
		wait:
			for groupAlive(pgid) {
				select {
				case <-grace.C:
					_ = syscall.Kill(-pgid, syscall.SIGKILL)
					break wait
				case <-time.After(20 * time.Millisecond):
				}
			}
		case <-grace.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-waitDone
		}
		grace.Stop()
	}
	// Children that outlive the shell keep the pipe open; don't wait on them
	// forever once the command itself has finished.
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
		pr.Close()
		<-readDone
	}
	pr.Close()

	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	res := Result{Exit: &code, Tail: tail.lines(), OK: werr == nil && cancelled == nil}
	switch {
	case errors.Is(cancelled, context.DeadlineExceeded):
		res.Summary = "timed out"
		return res, fmt.Errorf("timed out; the command was stopped")
	case cancelled != nil:
		res.Summary = "cancelled"
		return res, errors.New("cancelled by the operator")
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

func (c *Command) readLines(r io.Reader, tail *tailBuf) {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
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
		if err != nil {
			return
		}
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
