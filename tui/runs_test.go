package tui

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
)

// TestRestartRebuildsTheOutputPane: after a restart the Output pane shows
// every run from the journal: a finished one with the tail its result
// kept, and one the killed cockpit left running, found by its process
// group and followed with w until it ends.
func TestRestartRebuildsTheOutputPane(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfgPath, []byte(flowConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The "previous cockpit's" command: still running in a session of its
	// own, writing to its run file.
	runLog := filepath.Join(dir, "journal.jsonl.runs", "slow1.log")
	if err := os.MkdirAll(filepath.Dir(runLog), 0o700); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(runLog)
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("/bin/sh", "-c", "echo slow-started; sleep 300")
	child.Stdout, child.Stderr = logFile, logFile
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	t.Cleanup(func() { syscall.Kill(-child.Process.Pid, syscall.SIGKILL); child.Wait() })
	waitFile(t, runLog, "slow-started")

	now := time.Now()
	ok, exit := true, 0
	started, _ := json.Marshal(runbook.CommandStarted{Pgid: child.Process.Pid, Log: runLog})
	history := []journal.Record{
		{Seq: 1, At: now, Type: runbook.RecDeployStart},
		{Seq: 2, At: now, Type: runbook.RecIntent, Step: "hello", Action: "hello1", Kind: runbook.KindCommand, Summary: "echo hello"},
		{Seq: 3, At: now, Type: runbook.RecProgress, Step: "hello", Action: "hello1", Kind: runbook.KindCommand, Data: json.RawMessage(`{"pgid":1}`)},
		{Seq: 4, At: now.Add(time.Second), Type: runbook.RecResult, Step: "hello", Action: "hello1", Kind: runbook.KindCommand, OK: &ok, Exit: &exit,
			Tail: []string{"hello-from-production", "second-line"}, Duration: journal.Millis(time.Second)},
		{Seq: 5, At: now, Type: runbook.RecIntent, Step: "slow", Action: "slow1", Kind: runbook.KindCommand, Summary: "sleep"},
		{Seq: 6, At: now, Type: runbook.RecProgress, Step: "slow", Action: "slow1", Kind: runbook.KindCommand, Data: started},
	}
	rb := runbook.New(cfg)
	for _, r := range history {
		rb.Apply(r)
	}
	rb.Interrupted()
	m := newTestModel(testOptions{Config: cfg, Runbook: rb, Journal: &lockedJournal{}, Operator: "tester", Day: now, Now: now,
		Theme: theme.New(true, true), History: history, JournalPath: filepath.Join(dir, "journal.jsonl")})
	l := newLoop(t, m)
	l.until(t, "the whole state", func() bool { return m.synced })

	hello := m.output.Run("hello1")
	if hello == nil || hello.Running || hello.Exit == nil || *hello.Exit != 0 || !hello.FromJournal || hello.Lines.Len() != 2 {
		t.Fatalf("the finished run is not back with its tail: %+v", hello)
	}
	slow := m.output.Run("slow1")
	if slow == nil || !slow.OrphanAlive || slow.Orphan != child.Process.Pid || slow.Lines.At(0) != "slow-started" {
		t.Fatalf("the running command is not found again: %+v", slow)
	}
	if m.checklist.Data.Orphans["slow"] != child.Process.Pid {
		t.Fatalf("the checklist does not say the step still runs: %v", m.checklist.Data.Orphans)
	}

	// w asks to follow it; x to stop it (previewed like any action).
	m.setFocus(paneOutput)
	cmd := m.key(tea.KeyPressMsg{Code: 'w', Text: "w"})
	if cmd == nil {
		t.Fatal("w does nothing on a left-over run")
	}
	if req, ok := cmd().(panes.OutputRequest); !ok || req.Op != panes.OpWaitOrphan || req.Pgid != child.Process.Pid {
		t.Fatalf("w asked %+v", req)
	}
	if actions.GroupAlive(child.Process.Pid) != true {
		t.Error("the group went away by itself")
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never had %q", path, want)
}
