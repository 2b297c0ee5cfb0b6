//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package stderrlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCaptureLogsChildAndOwnStderr: a child given the process's stderr, as
// client-go gives a credential plugin, and the process's own writes both
// end in the log, and the terminal's stderr is back afterwards.
func TestCaptureLogsChildAndOwnStderr(t *testing.T) {
	var buf lockedBuffer
	restore, err := Capture(slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `echo "plugin: refreshing token" >&2; printf 'a second line\n' >&2`)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		restore()
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "Caught panic: from the process itself")
	restore()
	restore() // idempotent: a deferred restore after an explicit one
	got := buf.String()
	for _, want := range []string{`text="plugin: refreshing token"`, `text="a second line"`, `text="Caught panic: from the process itself"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "written to stderr"); n != 3 {
		t.Errorf("%d records, want 3:\n%s", n, got)
	}
	if _, err := fmt.Fprint(os.Stderr, ""); err != nil {
		t.Errorf("stderr unusable after restore: %v", err)
	}
}

// TestCaptureRestoreDoesNotHang: a child still running with the pipe
// (a plugin that hangs) does not hold the cockpit's exit.
func TestCaptureRestoreDoesNotHang(t *testing.T) {
	var buf lockedBuffer
	restore, err := Capture(slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		restore()
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	done := make(chan struct{})
	go func() { restore(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * drainWait):
		t.Fatal("restore waits for a child that still holds the pipe")
	}
}
