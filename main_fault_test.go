package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
)

const faultConfig = `
[deploy]
name = "Fault deploy"
environment = "production"

[window]
start = "00:00"
end = "23:59"
timezone = "UTC"

[[phase]]
name = "Main"

[[phase.step]]
id = "plan"
title = "Plan exists"
estimate = "1m"

[[phase.step]]
id = "quick"
title = "Quick command"
estimate = "1m"
command = "echo quick-done"

[[phase.step]]
id = "slow"
title = "Slow command"
estimate = "1m"
command = "echo slow-start; sleep 2; echo slow-end"

[[phase.step]]
id = "move"
title = "Move the cards"
estimate = "1m"
action = "jira.move"

[[phase.step]]
id = "check"
title = "Looked at it"
estimate = "1m"

[jira]
url = %q
flavor = "cloud"
email = %q
token = %q
board = 12
project = "ACME"
poll = "1h"

[[jira.column]]
name = "In Progress"
[[jira.column]]
name = "Code Review"
[[jira.column]]
name = "Merged to Master"
[[jira.column]]
name = "Staging"
[[jira.column]]
name = "QA Hold"
[[jira.column]]
name = "Testing For Production"
[[jira.column]]
name = "Production"

[[jira.move]]
from = ["Staging", "QA Hold", "Testing For Production"]
to = "Production"

[[jira.move]]
from = ["Merged to Master"]
to = "Staging"
`

// TestFaultInjection is a scripted deploy (ticks, two command steps, a
// bulk Jira move, reopening) with the cockpit SIGKILLed at 50 random
// moments and started again each time. After every restart: every record
// written before the kill is still there (none lost), the checklist on
// screen is what the journal says, nothing runs until a key asks for it
// (no action re-runs by itself), and the journal opens (none left locked).
func TestFaultInjection(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	kills := 50
	if testing.Short() {
		kills = 8
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLIGHTDECK_FAULT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (FLIGHTDECK_FAULT_SEED=%d reproduces it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	stub := jirastub.New(jirastub.Options{})
	srv := httptest.NewServer(stub.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "jira-token")
	if err := os.WriteFile(tokenFile, []byte(jirastub.DefaultToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, faultConfig, srv.URL, jirastub.DefaultEmail, "file:"+tokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	state := filepath.Join(dir, "state")

	var before []journal.Record
	lost, reruns, confirms := 0, 0, 0
	for round := 0; round <= kills; round++ {
		s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-fault-%d-%d", os.Getpid(), round), name: "cockpit"}
		s.run("new-session", "-d", "-s", s.name, "-x", "140", "-y", "40",
			fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", state, bin, cfgPath))
		s.waitFor("1 Checklist")

		recs := readJournal(t, state)
		if missing := missingRecords(before, recs); missing > 0 {
			lost += missing
			t.Errorf("round %d: %d records written before the kill are gone", round, missing)
		}
		// Nothing may start by itself: give it a moment, then look again.
		time.Sleep(time.Second)
		settled := readJournal(t, state)
		for _, r := range settled[len(recs):] {
			if r.Type == runbook.RecIntent {
				reruns++
				t.Errorf("round %d: %s %s started by itself after the restart", round, r.Kind, r.Step)
			}
		}
		rb := runbook.New(cfg)
		for _, r := range settled {
			rb.Apply(r)
		}
		rb.Interrupted()
		scr := s.screen()
		for _, st := range rb.Steps() {
			want := markFor(st.State.Status) + " " + st.Title
			if st.State.Status == runbook.Running || !strings.Contains(scr, want) {
				t.Fatalf("round %d: the journal says %q, the screen does not show it:\n%s", round, want, scr)
			}
		}
		if round == kills {
			s.run("send-keys", "-t", s.name, "q")
			// q asks only while a command runs; then y stops it and quits.
			exec.Command("tmux", "-L", s.socket, "send-keys", "-t", s.name, "y").Run()
			break
		}

		keys := nextMove(rb, rng)
		s.run(append([]string{"send-keys", "-t", s.name}, keys[0]...)...)
		if len(keys) > 1 {
			s.waitFor("Confirm")
			s.run(append([]string{"send-keys", "-t", s.name}, keys[1]...)...)
			confirms++
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		before = readJournal(t, state)
		pid, _ := strconv.Atoi(strings.TrimSpace(s.run("display-message", "-p", "-t", s.name, "#{pane_pid}")))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill %d: %v", round, pid, err)
		}
		exec.Command("tmux", "-L", s.socket, "kill-server").Run()
	}
	t.Logf("%d kills: %d records lost, %d actions re-run (%d confirmations sent, %d records in the journal)",
		kills, lost, reruns, confirms, len(readJournal(t, state)))
}

// nextMove is the operator's next keys: verify an interrupted step, tick
// or run the first open one, or, with everything closed, reopen one. A
// second key list is sent once the confirmation shows.
func nextMove(rb *runbook.Runbook, rng *rand.Rand) [][]string {
	steps := rb.Steps()
	goTo := func(i int) []string {
		keys := []string{"g"}
		for range i {
			keys = append(keys, "j")
		}
		return keys
	}
	for i, st := range steps {
		switch st.State.Status {
		case runbook.Unknown:
			return [][]string{append(goTo(i), "Space")}
		case runbook.Pending, runbook.Failed:
			if st.Kind == config.Manual {
				return [][]string{append(goTo(i), "Space")}
			}
			return [][]string{append(goTo(i), "Enter"), {"y"}}
		}
	}
	return [][]string{append(goTo(rng.IntN(len(steps))), "u")}
}

func markFor(s runbook.Status) string {
	switch s {
	case runbook.Done:
		return "[x]"
	case runbook.Skipped:
		return "[-]"
	case runbook.Failed:
		return "[!]"
	case runbook.Unknown:
		return "[?]"
	}
	return "[ ]"
}

// faultJournal reads the deploy's journal as written so far (whole lines).
func readJournal(t *testing.T, state string) []journal.Record {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(state, "flightdeck", "*", "*.jsonl"))
	var out []journal.Record
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec journal.Record
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				out = append(out, rec)
			}
		}
		f.Close()
	}
	return out
}

// missingRecords counts the records of before that after lacks.
func missingRecords(before, after []journal.Record) int {
	have := map[uint64]string{}
	for _, r := range after {
		have[r.Seq] = r.Type + r.Action + r.Step
	}
	n := 0
	for _, r := range before {
		if have[r.Seq] != r.Type+r.Action+r.Step {
			n++
		}
	}
	return n
}
