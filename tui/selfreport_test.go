package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/getsentry/sentry-go"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
)

// recordingTransport keeps every event as the JSON Sentry would receive.
type recordingTransport struct {
	mu     sync.Mutex
	events [][]byte
}

func (t *recordingTransport) Configure(sentry.ClientOptions)        {}
func (t *recordingTransport) Flush(time.Duration) bool              { return true }
func (t *recordingTransport) FlushWithContext(context.Context) bool { return true }
func (t *recordingTransport) Close()                                {}
func (t *recordingTransport) SendEvent(e *sentry.Event) {
	b, _ := json.Marshal(e)
	t.mu.Lock()
	t.events = append(t.events, b)
	t.mu.Unlock()
}

// screenOutput is a program's output that says when it has first written
// want. The program writes from its own goroutine.
type screenOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
}

func newScreenOutput(want string) *screenOutput {
	return &screenOutput{want: []byte(want), seen: make(chan struct{})}
}

func (o *screenOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	had := bytes.Contains(o.buf.Bytes(), o.want)
	o.buf.Write(b)
	if !had && bytes.Contains(o.buf.Bytes(), o.want) {
		close(o.seen)
	}
	return len(b), nil
}

func (o *screenOutput) bytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.buf.Bytes())
}

// panicPane panics on any key, carrying a secret in its panic value.
type panicPane struct {
	panes.Pane
	secret string
}

func (p panicPane) Update(tea.Msg) (panes.Pane, tea.Cmd) { panic("boom with token " + p.secret) }

// TestPanicRestoresTerminalAndReportsWithoutSecrets: a panic inside the
// cockpit ends the program with the terminal restored (alternate screen
// left), and the report that goes to Sentry carries the panic and the
// actions before it, with the config's secrets redacted everywhere.
func TestPanicRestoresTerminalAndReportsWithoutSecrets(t *testing.T) {
	const secret = "tok-5ecret-8d1f"
	t.Setenv("FD_TEST_JIRA_TOKEN", secret)
	cfg, err := config.Parse("selfreport.toml", []byte(`
[deploy]
name = "Selfreport"
environment = "production"
[window]
start = "09:00"
end = "12:30"
timezone = "Europe/London"
[jira]
url = "http://127.0.0.1:1"
email = "deployer@acme.test"
token = "env:FD_TEST_JIRA_TOKEN"
board = 1
project = "ACME"
[[jira.column]]
name = "Staging"
[[phase]]
name = "P"
[[phase.step]]
title = "A step"
estimate = "1m"
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &recordingTransport{}
	rep, err := selfreport.New(selfreport.Options{DSN: "http://public@127.0.0.1:1/1", Redact: cfg.Redactor().Redact,
		Transport: tr, Deploy: cfg.Deploy.Name, Operator: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: &recordingJournal{}, Day: now, Now: now,
		Theme: theme.New(true, true), Reporter: rep})
	// An action that failed with the secret in its message, before the panic.
	rep.Breadcrumb("command", "curl -u deployer:"+secret+" failed", true)
	m.panes[m.focus] = panicPane{Pane: m.panes[m.focus], secret: secret}

	out := newScreenOutput("\x1b[?1049h")
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(100, 30), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	// Only a program that has drawn a frame is on the alternate screen, with
	// something to restore; a panic before that would prove nothing.
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("the program ended before drawing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the program never entered the alternate screen")
	}
	p.Send(tea.KeyPressMsg{Code: 'x', Text: "x"})
	select {
	case err := <-done:
		if !errors.Is(err, tea.ErrProgramPanic) {
			t.Fatalf("Run = %v, want ErrProgramPanic", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not end after the panic")
	}
	if !bytes.Contains(out.bytes(), []byte("\x1b[?1049l")) {
		t.Error("the alternate screen was not left: the terminal is not restored")
	}
	rep.Flush(time.Second)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.events) == 0 {
		t.Fatal("no event was sent for the panic")
	}
	all := string(bytes.Join(tr.events, []byte("\n")))
	if strings.Contains(all, secret) {
		t.Fatalf("the secret reached the report:\n%s", all)
	}
	for _, want := range []string{"boom with token", "curl -u deployer:", `"level":"fatal"`, "Selfreport"} {
		if !strings.Contains(all, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
