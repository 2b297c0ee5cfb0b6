package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// TestBadReleaseInBothClustersOnSandbox is the story on the
// sandbox's primary and standby: after the push a bad release reaches both
// clusters, the banner names the deployments failing in each within
// seconds, and R y rolls back every deployment in both, previewed a
// cluster at a time.
func TestBadReleaseInBothClustersOnSandbox(t *testing.T) {
	s, info, state := cockpitOnSandbox(t, "fd-clusters")
	if info.StandbyKubeconfig == "" {
		t.Fatal("the sandbox has no standby cluster")
	}
	kubectl := func(kubeconfig string, args ...string) string {
		t.Helper()
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig, "-n", "production"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	image := func(kubeconfig, name string) string {
		return kubectl(kubeconfig, "get", "deployment", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	}
	both := []string{info.Kubeconfig, info.StandbyKubeconfig}
	good := image(info.Kubeconfig, "api")
	t.Cleanup(func() {
		for _, kc := range both {
			exec.Command("kubectl", "--kubeconfig", kc, "-n", "production", "set", "image", "deployment/api", "deployment/worker", "app="+good).Run()
		}
		releaseSandboxLock(t, info)
	})
	s.waitFor("cluster standby")
	scr := s.waitFor(" on primary, standby")
	if !strings.Contains(scr, "cluster primary · runs") {
		t.Errorf("the pane heads each cluster with what it runs:\n%s", scr)
	}

	// The deploy starts at the push, run for real to both clusters (the
	// pre-flight it requires skipped with a reason); the bad release then
	// goes out by hand.
	cfg, err := config.Load(info.Config, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := runbook.New(cfg)
	index := map[string]int{}
	for i, st := range rb.Steps() {
		index[st.ID] = i
	}
	selectStep := func(id string) {
		keys := []string{"send-keys", "-t", s.name, "g"}
		for range index[id] {
			keys = append(keys, "j")
		}
		s.run(keys...)
	}
	selectStep("deploy/preflight-migrations")
	s.run("send-keys", "-t", s.name, "s")
	s.waitFor("Reason (journaled)")
	s.run("send-keys", "-t", s.name, "-l", "accepted for the test")
	s.run("send-keys", "-t", s.name, "Enter")
	waitRecord(t, s, state, runbook.RecStepSkip, "deploy/preflight-migrations", time.Minute)
	selectStep("deploy/push-production")
	s.run("send-keys", "-t", s.name, "Enter")
	s.waitFor("Confirm")
	s.run("send-keys", "-t", s.name, "y")
	if res := waitResult(t, s, state, "deploy/push-production", 3*time.Minute); res.OK == nil || !*res.OK {
		t.Fatalf("the push failed: %s %s\n%s", res.Summary, res.Error, strings.Join(res.Tail, "\n"))
	}
	waitJournal(t, state, `"type":"deploy.start"`)

	bad := "registry.local/acme/app:bad-clusters"
	pushed := time.Now()
	for _, kc := range both {
		kubectl(kc, "set", "image", "deployment/api", "deployment/worker", "app="+bad)
	}
	scr = s.waitFor("ROLLBACK RECOMMENDED")
	t.Logf("banner %s after the bad image reached both API servers", time.Since(pushed).Round(100*time.Millisecond))
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(scr, "@standby") || !strings.Contains(scr, "@primary") {
		if time.Now().After(deadline) {
			t.Fatalf("the banner does not name both clusters' deployments:\n%s", scr)
		}
		time.Sleep(200 * time.Millisecond)
		scr = s.screen()
	}
	s.waitFor("bad-clusters on primary, standby")

	s.run("send-keys", "-t", s.name, "R")
	scr = s.waitFor("cluster standby:")
	p, st := strings.Index(scr, "cluster primary:"), strings.Index(scr, "cluster standby:")
	if p < 0 || p > st || strings.Count(scr, "bad-clusters → ") != 4 {
		t.Fatalf("the preview lists each cluster's two deployments under it:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "y")
	// From the journal: on screen the banner may cover the result's line.
	waitJournal(t, state, "rolled back 4/4")
	deadline = time.Now().Add(90 * time.Second)
	for _, kc := range both {
		for _, d := range []string{"api", "worker"} {
			for image(kc, d) != good {
				if time.Now().After(deadline) {
					t.Fatalf("%s in %s runs %s after the rollback, want %s", d, kc, image(kc, d), good)
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	j := waitJournal(t, state, `"kind":"kube.rollback"`)
	for _, want := range []string{"api@primary", "worker@standby", `"cluster":"standby"`} {
		if !strings.Contains(j, want) {
			t.Errorf("the journal lacks %s", want)
		}
	}
	// The pods' part of the banner goes when both clusters recover. The
	// bad release's errors may keep it up (Sentry's new issues since the
	// deploy's start are a signal of their own), so only the pods are
	// waited out.
	deadline = time.Now().Add(30 * time.Second)
	for scr := s.screen(); strings.Contains(scr, "failing to start"); scr = s.screen() {
		if time.Now().After(deadline) {
			t.Fatalf("the banner still names failing pods after the rollback:\n%s", scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
