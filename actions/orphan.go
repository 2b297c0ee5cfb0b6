package actions

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// KindCommandStop stops a command the previous cockpit left running.
const KindCommandStop = "command.stop"

// StopOrphan stops the process group of a command that a killed cockpit
// started and never saw end. Its step stays "outcome unknown": stopping it
// says nothing about what it had done.
type StopOrphan struct {
	StepID  string
	Pgid    int
	Command string
}

// Kind implements Action.
func (s *StopOrphan) Kind() string { return KindCommandStop }

// Step implements Action.
func (s *StopOrphan) Step() string { return s.StepID }

// Dangerous implements Action.
func (s *StopOrphan) Dangerous() bool { return true }

// Preview lists the processes of the group as they are now.
func (s *StopOrphan) Preview(context.Context) (Preview, error) {
	if !GroupAlive(s.Pgid) {
		return Preview{}, fmt.Errorf("process group %d has already ended", s.Pgid)
	}
	pv := Preview{Title: fmt.Sprintf("Stop process group %d, left running by the previous cockpit", s.Pgid),
		Lines: []string{"$ " + s.Command, "", "SIGTERM now, SIGKILL to what is left after " + KillGrace.String() + ":"}}
	for _, p := range groupProcesses(s.Pgid) {
		pv.Lines = append(pv.Lines, "  "+p)
	}
	return pv, nil
}

// Run implements Action.
func (s *StopOrphan) Run(ctx context.Context) (Result, error) {
	if err := StopGroup(ctx, s.Pgid, KillGrace); err != nil {
		return Result{Summary: "not stopped"}, err
	}
	return Result{OK: true, Summary: fmt.Sprintf("stopped process group %d; verify what the command had done", s.Pgid)}, nil
}

// groupProcesses lists "pid command" of every process in the group, read
// from /proc (empty where there is none).
func groupProcesses(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: fields
		// after the last ')' are state, ppid, pgrp, …
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out = append(out, fmt.Sprintf("%d %s", pid, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))))
	}
	return out
}

// orphanPoll is how often a left-over process group is looked for.
const orphanPoll = 250 * time.Millisecond

// FollowOrphan follows a command a killed cockpit left running: it sends
// the lines its output file gains from offset on, and returns once the
// process group has ended (nil) or ctx ends.
func FollowOrphan(ctx context.Context, pgid int, log string, offset int64, output func(string), redact func(string) string) error {
	ended := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for GroupAlive(pgid) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(orphanPoll):
			}
		}
		close(ended)
	}()
	defer func() { <-watchDone }()
	if log == "" {
		select {
		case <-ended:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f, err := os.Open(log)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	c := &Command{Output: output, Redact: redact}
	stop := make(chan struct{})
	go func() {
		select {
		case <-ended:
		case <-ctx.Done():
		}
		close(stop)
	}()
	c.follow(f, stop, newTail(TailLines))
	return ctx.Err()
}

// ReadLog returns the last max lines of a run's output file and its size,
// for a cockpit rebuilding its Output pane after a restart.
func ReadLog(path string, max int) ([]string, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, int64(len(data)), nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return lines, int64(len(data)), nil
}
