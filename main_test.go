package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/ci"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// needTool fails under CI (where the set-up must have installed it) and
// skips elsewhere, naming the install command.
func needTool(t testing.TB, name, install string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	ci.Unavailable(t, fmt.Sprintf("%s is missing: %s", name, install))
}

func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flightdeck")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const e2eConfig = `
[deploy]
name = "E2E deploy"
environment = "production"

[window]
start = "00:00"
end = "23:59"
timezone = "UTC"

[[phase]]
name = "Pre-Deployment"

[[phase.step]]
id = "plan"
title = "A deployment plan exists"
estimate = "2m"

[[phase.step]]
id = "hello"
title = "Say hello"
estimate = "1m"
command = "echo hello"
`

// tmuxSession drives the real binary in a real terminal.
type tmuxSession struct {
	t      testing.TB
	socket string
	name   string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", s.name) }

func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("the screen never showed %q; last screen:\n%s", want, scr)
	return ""
}

// TestCockpitResumesAfterSIGKILL is the crash story: a step is ticked off,
// the process is killed without any chance to clean up, and the next start
// shows the step still ticked, from the journal alone.
func TestCockpitResumesAfterSIGKILL(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfg, []byte(e2eConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, name: "cockpit"}
	env := fmt.Sprintf("XDG_STATE_HOME=%s XDG_CONFIG_HOME=%s TERM=xterm-256color", filepath.Join(dir, "state"), filepath.Join(dir, "config"))
	starts := 0
	start := func() {
		// A tmux server of its own each time: one whose last session just
		// ended may still be exiting, and would refuse a new session.
		starts++
		s.socket = fmt.Sprintf("fd-e2e-%d-%d", os.Getpid(), starts)
		socket := s.socket
		t.Cleanup(func() { exec.Command("tmux", "-L", socket, "kill-server").Run() })
		s.run("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
			fmt.Sprintf("exec env %s %s --config %s", env, bin, cfg))
		s.waitFor("1 Checklist")
	}
	start()
	s.run("send-keys", "-t", s.name, "Space")
	s.waitFor("[x] A deployment plan exists")

	pid, err := strconv.Atoi(strings.TrimSpace(s.run("display-message", "-p", "-t", s.name, "#{pane_pid}")))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The pane closes with its process; the session goes with it.
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the killed cockpit's session did not end")
		}
		time.Sleep(50 * time.Millisecond)
	}

	start()
	scr := s.waitFor("[x] A deployment plan exists")
	if !strings.Contains(scr, "[ ] Say hello") {
		t.Fatalf("only the checked step should be closed:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "q")
}

func TestCheckExitCodes(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(e2eConfig), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(strings.Replace(e2eConfig, `estimate = "1m"`, `estimat = "1m"`, 1)), 0o600)
	unreachable := filepath.Join(dir, "unreachable.toml")
	os.WriteFile(unreachable, []byte(e2eConfig+"\n[postgres]\n[[postgres.target]]\nname = \"production\"\ndsn = \"postgres://app@127.0.0.1:1/app\"\n"), 0o600)

	for _, c := range []struct {
		cfg  string
		code int
		want string
	}{
		{good, 0, "valid"},
		{bad, 2, `bad.toml:22:1: phase[0].step[1].estimat: unknown key (did you mean "estimate"?)`},
		{unreachable, 3, "✕ postgres  production (127.0.0.1:1/app)"},
	} {
		cmd := exec.Command(bin, "check", "--config", c.cfg)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+dir)
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", filepath.Base(c.cfg), got, c.code, out)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s: output lacks %q:\n%s", filepath.Base(c.cfg), c.want, out)
		}
	}
}

func TestExampleConfigChecks(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "check", "--config", "config.example.toml")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "HOME="+t.TempDir(), "KUBECONFIG=/nonexistent")
	out, _ := cmd.CombinedOutput()
	// Valid schema; the systems it names are not reachable from here.
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit %d, want 3 (valid, unreachable):\n%s", code, out)
	}
	for _, want := range []string{"valid", "4 phases", "09:00–12:30 Europe/London", "✕ jira", "checks fell short"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHelpNamesFilesAndExitCodes(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"log file", "flightdeck.log", "state directory", "Exit codes:", "3  check"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// cockpitOnSandbox starts the real binary on the test sandbox's config in a
// 160×48 tmux with a state directory of its own.
func cockpitOnSandbox(t *testing.T, socket string) (*tmuxSession, *sandbox.Info, string) {
	t.Helper()
	needTool(t, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	state := t.TempDir()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("%s-%d", socket, os.Getpid()), name: "cockpit"}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", s.name, "-x", "160", "-y", "48",
		fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", state, bin, info.Config))
	return s, info, state
}

// journalPathIn is the one journal the cockpit wrote under state.
func journalPathIn(t *testing.T, state string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(state, "flightdeck", "*", "*.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("journals: %v", matches)
	}
	return matches[0]
}

// journalIn returns the text of the one journal the cockpit wrote under
// state.
func journalIn(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(journalPathIn(t, state))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCockpitOnSandbox is the new user's first run: the cockpit on the
// sandbox's config in a 160×48 tmux, every pane connected to its system, a
// step checked off and a command step run for real, then a clean quit.
func TestCockpitOnSandbox(t *testing.T) {
	s, _, _ := cockpitOnSandbox(t, "fd-sandbox")
	s.waitFor("1 Checklist")
	// Live data from every system.
	s.waitFor("api complete")
	s.waitFor("worker complete")
	s.waitFor("[production] ●")
	s.waitFor("4 of 40 cards need attention")
	s.waitFor("baseline")
	// Sentry knows the environment only once the traffic simulator's first
	// event has named it: on a sandbox just started, give it that moment.
	for _, want := range []string{"k8s ●", "pg ●", "jira ●", "sentry ●"} {
		s.waitFor(want)
	}
	// Tick off the first step, then run the clone step for real.
	s.run("send-keys", "-t", s.name, "Space")
	s.waitFor("[x] A deployment plan exists")
	s.run("send-keys", "-t", s.name, "j", "Enter")
	s.waitFor("Confirm")
	s.run("send-keys", "-t", s.name, "y")
	s.waitFor("is a clone of acme")
	s.waitFor("[x] Clone the production database")
	s.run("send-keys", "-t", s.name, "q")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the cockpit did not quit:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRollbackOnSandbox is the incident: a bad release crash-loops, R then
// y returns every deployment to the last known good image, and the journal
// holds the intent and the result.
func TestRollbackOnSandbox(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(t)
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", info.Kubeconfig, "-n", "production"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	good := strings.TrimSpace(kubectl("get", "deployment", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}"))
	if strings.Contains(good, "bad") {
		t.Fatalf("the sandbox starts on a bad image: %s", good)
	}
	// Leave the shared sandbox as other tests expect it.
	t.Cleanup(func() {
		exec.Command("kubectl", "--kubeconfig", info.Kubeconfig, "-n", "production", "set", "image", "deployment/api", "deployment/worker", "app="+good).Run()
	})
	s, _, state := cockpitOnSandbox(t, "fd-rollback")
	t.Cleanup(func() { releaseSandboxLock(t, info) })
	s.waitFor("api complete")
	s.waitFor("worker complete")

	bad := "registry.local/acme/app:release-bad-e2e"
	kubectl("set", "image", "deployment/api", "deployment/worker", "app="+bad)
	s.waitFor("CrashLoopBackOff")
	s.waitFor("R rolls back to " + good[strings.LastIndex(good, ":")+1:])

	s.run("send-keys", "-t", s.name, "R")
	s.waitFor("Confirm")
	scr := s.waitFor("release-bad-e2e → ")
	if !strings.Contains(scr, "production/api") || !strings.Contains(scr, "production/worker") {
		t.Fatalf("the preview must list every deployment:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "y")
	s.waitFor("done: rolled back")
	deadline := time.Now().Add(90 * time.Second)
	for {
		api := kubectl("get", "deployment", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		worker := kubectl("get", "deployment", "worker", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if api == good && worker == good {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback api runs %s and worker %s, want %s", api, worker, good)
		}
		time.Sleep(500 * time.Millisecond)
	}
	kubectl("rollout", "status", "deployment/api", "--timeout=90s")
	s.run("send-keys", "-t", s.name, "q")

	j := journalIn(t, state)
	for _, want := range []string{`"type":"kube.last_known_good"`, `"type":"action.intent"`, `"kind":"kube.rollback"`, `"type":"action.result"`,
		`"kind":"slack.rollback_alert"`, `"kind":"sentry.deploy_marker"`} {
		if !strings.Contains(j, want) {
			t.Errorf("journal lacks %s:\n%s", want, j)
		}
	}
	// The incident channel heard about it, with from and to.
	u, _ := url.Parse(info.SlackWebhook)
	u.Path = "/messages"
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Rollback of") || !strings.Contains(string(body), "release-bad-e2e") {
		t.Errorf("no rollback alert with the bad image among the Slack messages:\n%s", body)
	}
}

// TestLocksOnSandbox is the seed's locked database: the migration runs
// against the database the workload uses; within seconds the locks pane
// shows the workload queued behind it; b tags the root blocker, c and y
// cancel it, the waits clear, and the journal has the cancel and its result.
func TestLocksOnSandbox(t *testing.T) {
	s, info, state := cockpitOnSandbox(t, "fd-locks")
	s.waitFor("1 Checklist")
	s.run("send-keys", "-t", s.name, "3", "z")
	s.waitFor("[production] ●")

	ctx, cancel := context.WithCancel(context.Background())
	migrated := make(chan error, 1)
	go func() { migrated <- pg.RunMigration(ctx, info.PostgresApp, 60) }()
	t.Cleanup(func() { cancel(); <-migrated })
	s.waitFor("AccessExclusive appointments")
	scr := s.waitFor("waiting (")
	if !strings.Contains(scr, "acme-migrate") || !strings.Contains(scr, "acme-") {
		t.Fatalf("the pane does not show the migration and the workload behind it:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "Home", "b", "c")
	scr = s.waitFor("Confirm")
	if !strings.Contains(scr, "pg_sleep(60)") || !strings.Contains(scr, "pg_cancel_backend") {
		t.Fatalf("the preview must show the blocker's query and what will run:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "y")
	select {
	case err := <-migrated:
		if err == nil || !strings.Contains(err.Error(), "canceling statement due to user request") {
			t.Fatalf("the migration ended with %v, want it cancelled", err)
		}
		migrated <- err
	case <-time.After(20 * time.Second):
		t.Fatalf("the migration was not cancelled:\n%s", s.screen())
	}
	s.waitFor("done: cancel on production")
	s.waitFor("nothing waits")
	s.run("send-keys", "-t", s.name, "q")

	j := journalIn(t, state)
	for _, want := range []string{`"kind":"postgres.cancel"`, `"type":"action.intent"`, `"type":"action.result"`, `"result":"true"`} {
		if !strings.Contains(j, want) {
			t.Errorf("journal lacks %s:\n%s", want, j)
		}
	}
}
