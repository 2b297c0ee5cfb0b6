package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Origin says where a migration's statements come from: files, the output
// of a command, or both (files first).
type Origin struct {
	// Files are globs, already expanded from templates; relative ones are
	// taken from Dir.
	Files []string
	// Command prints the pending SQL. It runs like a command step: in Dir,
	// in a session of its own with no terminal and nothing on stdin, so it
	// can neither write over the screen nor wait for a password.
	Command string
	Dir     string
	Env     []string // added to the environment
	Timeout time.Duration
}

// CommandError is a migrations command that failed: its output says why.
type CommandError struct {
	Command string
	Err     error
	Output  string // what it printed on stdout and stderr
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		out = "(no output)"
	}
	return fmt.Sprintf("migrations command %q failed (%v): %s", e.Command, e.Err, out)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ErrNoMigrations says the globs matched nothing and the command printed
// nothing: no pending migration, which is a fine state to be in.
var ErrNoMigrations = errors.New("no pending migrations")

// Load reads every statement, in order: each glob's files sorted by name,
// then the command's output. A file or output the parser refuses is a
// *ParseError naming file and line.
func (o Origin) Load(ctx context.Context) ([]Statement, error) {
	var out []Statement
	for _, f := range o.files() {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("migration file: %w", err)
		}
		stmts, err := Parse(o.shown(f), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	if o.Command != "" {
		sql, err := o.run(ctx)
		if err != nil {
			return nil, err
		}
		stmts, err := Parse("command", sql)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// files lists the files the globs match now, in the order Load reads them.
func (o Origin) files() []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range o.Files {
		if !filepath.IsAbs(g) && o.Dir != "" {
			g = filepath.Join(o.Dir, g)
		}
		matches, _ := filepath.Glob(g)
		slices.Sort(matches)
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Stamp changes when a file is added, removed or written: the source reads
// the migrations again only then (and when production is asked again).
func (o Origin) Stamp() string {
	var b strings.Builder
	for _, f := range o.files() {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s:gone;", f)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

// shown is a file's name as the operator can find it from the config:
// relative to Dir when inside it, else to the directory its glob names.
func (o Origin) shown(f string) string {
	if o.Dir != "" {
		if rel, err := filepath.Rel(o.Dir, f); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	for _, g := range o.Files {
		dir := filepath.Dir(g)
		if strings.ContainsAny(dir, "*?[") {
			continue
		}
		if rel, err := filepath.Rel(dir, f); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return f
}

func (o Origin) run(ctx context.Context) (string, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout bytes.Buffer
	both := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.Command)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdout = &teeWriter{&stdout, both}
	cmd.Stderr = both
	// The whole session goes when the context ends, not just the shell.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("still running after %s", timeout)
		}
		return "", &CommandError{Command: o.Command, Err: err, Output: lastLines(both.String(), 20)}
	}
	return stdout.String(), nil
}

// teeWriter keeps stdout on its own (the SQL) and with stderr (what a
// failure shows; two pipes, so lines of the two may interleave out of
// order).
type teeWriter struct {
	a *bytes.Buffer
	b *lockedBuffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.a.Write(p)
	return t.b.Write(p)
}

// lockedBuffer takes stdout's and stderr's copies, which come from two
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
