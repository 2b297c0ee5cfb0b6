package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox"
)

// TestEveryCommandStepOnSandbox runs every command step of the sandbox's
// runbook, in order, from the cockpit in tmux, as the operator would
// (select, enter, y), and wants each to exit 0 with nothing written over
// the screen: no password prompt, no tool talking to the terminal. The
// contingency phases (disaster recovery, drills) are left alone.
func TestEveryCommandStepOnSandbox(t *testing.T) {
	s, info, state := cockpitOnSandbox(t, "fd-every-step")
	restoreSandboxAfter(t, info)
	cfg, err := config.Load(info.Config, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := runbook.New(cfg)
	s.waitFor("1 Checklist")
	s.waitFor("api complete")
	ran := 0
	index := map[string]int{}
	for i, st := range rb.Steps() {
		index[st.ID] = i
	}
	selectStep := func(i int) {
		keys := []string{"g"}
		for range i {
			keys = append(keys, "j")
		}
		s.run(append([]string{"send-keys", "-t", s.name}, keys...)...)
	}
	for i, st := range rb.Steps() {
		if st.Kind != config.Command || rb.Phases[st.Phase].Contingency {
			continue
		}
		// The push waits for the migrations' pre-flight, which the
		// sandbox's pending migration fails on purpose: skipped with a
		// reason, the override the journal keeps.
		for _, req := range st.Requires {
			selectStep(index[req])
			s.run("send-keys", "-t", s.name, "s")
			s.waitFor("Reason (journaled)")
			s.run("send-keys", "-t", s.name, "-l", "accepted for the test")
			s.run("send-keys", "-t", s.name, "Enter")
			waitRecord(t, s, state, runbook.RecStepSkip, req, time.Minute)
		}
		selectStep(i)
		s.run("send-keys", "-t", s.name, "Enter")
		s.waitFor("Confirm")
		s.run("send-keys", "-t", s.name, "y")
		res := waitResult(t, s, state, st.ID, 4*time.Minute)
		if res.OK == nil || !*res.OK || res.Exit == nil || *res.Exit != 0 {
			t.Fatalf("step %s (%s) did not exit 0: %s %s\n%s\nscreen:\n%s", st.ID, st.Title, res.Summary, res.Error, strings.Join(res.Tail, "\n"), s.screen())
		}
		if scr := s.screen(); strings.Contains(scr, "Password for user") || strings.Contains(scr, "password:") {
			t.Fatalf("a command wrote over the cockpit after %s:\n%s", st.ID, scr)
		}
		ran++
	}
	if ran < 6 {
		t.Fatalf("only %d command steps outside the contingency phases: the sandbox runbook changed?", ran)
	}
	s.run("send-keys", "-t", s.name, "q")
}

// waitResult reads the journal until the step's action has a result.
func waitResult(t *testing.T, s *tmuxSession, state, step string, limit time.Duration) journal.Record {
	t.Helper()
	return waitRecord(t, s, state, runbook.RecResult, step, limit)
}

// waitRecord reads the journal until it has a record of the type for the
// step.
func waitRecord(t *testing.T, s *tmuxSession, state, typ, step string, limit time.Duration) journal.Record {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, rec := range readJournal(t, state) {
			if rec.Type == typ && rec.Step == step {
				return rec
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("step %s has no %s record after %s; screen:\n%s", step, typ, limit, s.screen())
	return journal.Record{}
}

// restoreSandboxAfter puts the shared sandbox back as the other tests
// expect it once the runbook's merges, pushes and image changes are done:
// every branch of the work tree and of origin where it was, and the
// deployments on their images.
func restoreSandboxAfter(t *testing.T, info *sandbox.Info) {
	t.Helper()
	git := func(dir string, args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Logf("git %v in %s: %v\n%s", args, dir, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	refs := func(dir string) string { return git(dir, "for-each-ref", "--format=%(refname) %(objectname)") }
	work, origin := refs(info.GitRepo), refs(info.GitOrigin)
	branch := git(info.GitRepo, "rev-parse", "--abbrev-ref", "HEAD")
	kubectl := func(kubeconfig string, args ...string) string {
		out, _ := exec.Command(info.Kubectl, append([]string{"--kubeconfig", kubeconfig, "-n", "production"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	// The push goes to every cluster: each gets its images back.
	kubeconfigs := []string{info.Kubeconfig}
	if info.StandbyKubeconfig != "" {
		kubeconfigs = append(kubeconfigs, info.StandbyKubeconfig)
	}
	images := map[[2]string]string{}
	for _, kc := range kubeconfigs {
		for _, d := range []string{"api", "worker"} {
			images[[2]string{kc, d}] = kubectl(kc, "get", "deployment", d, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		}
	}
	t.Cleanup(func() {
		for dir, list := range map[string]string{info.GitRepo: work, info.GitOrigin: origin} {
			for _, line := range strings.Split(list, "\n") {
				if ref, sha, ok := strings.Cut(line, " "); ok {
					git(dir, "update-ref", ref, sha)
				}
			}
		}
		git(info.GitRepo, "checkout", "-f", branch)
		git(info.GitRepo, "reset", "--hard")
		for at, image := range images {
			kubectl(at[0], "set", "image", "deployment/"+at[1], "app="+image)
		}
		for at := range images {
			kubectl(at[0], "rollout", "status", "deployment/"+at[1], "--timeout=120s")
		}
	})
}
