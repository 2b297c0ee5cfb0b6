package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/share/sharetest"
)

// sharedConfig copies the sandbox's config beside it with [share] naming
// keys of the test's own.
func sharedConfig(t testing.TB, config, keysFile string) string {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	// The sandbox's own [share] table goes; the tables after it stay.
	if i := strings.Index(text, "\n[share]\n"); i >= 0 {
		rest := text[i+len("\n[share]\n"):]
		end := strings.Index(rest, "\n[")
		if end < 0 {
			end = len(rest)
		}
		text = text[:i] + rest[end:]
	}
	text += fmt.Sprintf("\n[share]\nauthorized_keys = %q\nmax_viewers = 5\n", keysFile)
	path := filepath.Join(filepath.Dir(config), fmt.Sprintf("shared-%d-%s.toml", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// changes are the journal's records a person caused: the peaks the driver
// records on its own as the workload runs are left out.
func changes(t *testing.T, state string) []string {
	t.Helper()
	rep, err := journal.Read(journalPathIn(t, state))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rep.Records {
		if r.Type != report.RecLockPeak && r.Type != report.RecErrorPeak {
			out = append(out, r.Type+" "+r.Step+" "+r.Summary)
		}
	}
	return out
}

// TestHuddleOnSandbox is the huddle: the driver on the sandbox shares its
// cockpit; two teammates at 80×24 and 200×60 watch over SSH and see a step
// the driver ticks; none of their keys changes anything; strangers and
// passwords are refused; the driver sees who watches; and --read-only on
// the same machine shows the live deploy, then, with the driver gone, the
// journal's.
func TestHuddleOnSandbox(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	state := t.TempDir()
	dir := t.TempDir()
	alice, aliceLine := sharetest.NewKey(t, "alice@laptop")
	bob, bobLine := sharetest.NewKey(t, "bob@desk")
	keys := filepath.Join(dir, "viewers")
	if err := os.WriteFile(keys, []byte(aliceLine+"\n"+bobLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sharedConfig(t, info.Config, keys)
	addr := freePort(t)

	s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-huddle-%d", os.Getpid()), name: "driver"}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	env := fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color ", state)
	s.run("new-session", "-d", "-s", "driver", "-x", "200", "-y", "50", env+fmt.Sprintf("%s --config %s --share %s", bin, cfg, addr))
	s.waitFor("1 Checklist")

	small, err := sharetest.Dial("tcp", addr, "alice", gossh.PublicKeys(alice), 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	big, err := sharetest.Dial("tcp", addr, "bob", gossh.PublicKeys(bob), 200, 60)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	for _, v := range []*sharetest.Viewer{small, big} {
		if _, err := v.WaitFor(20*time.Second, "Checklist"); err != nil {
			t.Fatal(err)
		}
	}
	s.waitFor("alice@laptop")
	s.waitFor("bob@desk")

	// The driver ticks the first step; both teammates see it.
	s.run("send-keys", "-t", "driver", "Space")
	s.waitFor("[x] A deployment plan exists")
	for _, v := range []*sharetest.Viewer{small, big} {
		if _, err := v.WaitFor(5*time.Second, "[x] A deployment"); err != nil {
			t.Fatal(err)
		}
	}

	// Every key that changes the world, from a viewer, changes nothing.
	before := changes(t, state)
	small.Type("j", "space", "enter", "y", "c", "R", "y", "K", "y", "m", "y")
	big.Type("3", "c", "y", "K", "y", "2", "R", "y", "4", "m", "y")
	if _, err := small.WaitFor(5*time.Second, "read-only mode"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if after := changes(t, state); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("a viewer's keys changed the journal:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	// A viewer zooms on its own; the driver's screen does not follow.
	big.Type("esc", "1", "z")
	zoomed := time.Now().Add(5 * time.Second)
	for strings.Contains(big.Screen(), "DB locks") {
		if time.Now().After(zoomed) {
			t.Fatalf("the viewer did not zoom:\n%s", big.Screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.waitFor("DB locks")

	// Strangers and passwords are refused.
	stranger, _ := sharetest.NewKey(t, "mallory")
	for name, auth := range map[string]gossh.AuthMethod{"unknown key": gossh.PublicKeys(stranger), "password": gossh.Password("hunter2")} {
		if v, err := sharetest.Dial("tcp", addr, "mallory", auth, 80, 24); err == nil {
			v.Close()
			t.Fatalf("%s logged in", name)
		}
	}

	// --read-only on this machine attaches to the driver.
	s.run("new-session", "-d", "-s", "observer", "-x", "100", "-y", "30", env+fmt.Sprintf("%s --config %s --read-only", bin, cfg))
	obs := &tmuxSession{t: t, socket: s.socket, name: "observer"}
	obs.waitFor("[x] A deployment")
	s.waitFor("(local)")
	obs.run("send-keys", "-t", "observer", "q")

	// With the driver gone, --read-only follows the journal.
	s.run("send-keys", "-t", "driver", "q")
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", "driver").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the driver did not quit:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-small.Ended():
	case <-time.After(10 * time.Second):
		t.Fatal("a viewer's session outlived the driver")
	}
	// A tmux server of its own: the driver's may still be exiting, its
	// last session gone, and would refuse a new one.
	follower := &tmuxSession{t: t, socket: s.socket + "-follower", name: "follower"}
	t.Cleanup(func() { exec.Command("tmux", "-L", follower.socket, "kill-server").Run() })
	follower.run("new-session", "-d", "-s", "follower", "-x", "120", "-y", "40", env+fmt.Sprintf("%s --config %s --read-only", bin, cfg))
	follower.waitFor("following its journal")
	follower.waitFor("following the journal of Acme")
	follower.waitFor("[x] A deployment plan exists")
}
