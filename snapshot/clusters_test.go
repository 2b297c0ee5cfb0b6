package snapshot

import (
	"strings"
	"testing"
)

func twoClusters() Rollout {
	dep := func(cluster, name, tag string) Deployment {
		return Deployment{Cluster: cluster, Namespace: "production", Name: name, Image: "registry.local/acme/app:" + tag,
			Desired: 6, Updated: 6, Ready: 6, Phase: Complete}
	}
	return Rollout{
		Deployments: []Deployment{dep("primary", "api", "r1"), dep("primary", "worker", "r1"), dep("standby", "api", "r1"), dep("standby", "worker", "r1")},
		Clusters:    []Cluster{{Name: "primary", Read: true}, {Name: "standby", Read: true}},
	}
}

func TestWhatRunsWhere(t *testing.T) {
	s := twoClusters()
	if got := s.WhatRunsWhere(); got != "r1 on primary, standby" {
		t.Errorf("the same release everywhere: %q", got)
	}
	s.Deployments[2].Image = "registry.local/acme/app:bad-1"
	if got := s.WhatRunsWhere(); got != "primary r1 · standby api bad-1 worker r1" {
		t.Errorf("the standby's api differs: %q", got)
	}
	s.Clusters[1].Err = "connection refused"
	if got := s.WhatRunsWhere(); got != "primary r1 · standby down" {
		t.Errorf("a cluster that is down: %q", got)
	}
	if got := (Rollout{Deployments: s.Deployments[:2]}).WhatRunsWhere(); got != "" {
		t.Errorf("one cluster says nothing here: %q", got)
	}
}

// TestGatesWaitForEveryCluster: a rollout gate must not pass on a cluster
// the cockpit cannot see, nor on one it has not read yet.
func TestGatesWaitForEveryCluster(t *testing.T) {
	s := twoClusters()
	if f := s.Facts()["rollout.complete"]; !f.Known || !f.Bool {
		t.Fatalf("both complete: %+v", f)
	}
	s.Clusters[1].Err = "dial tcp: connection refused"
	for name, f := range s.Facts() {
		if f.Known || !strings.Contains(f.Detail, "cluster standby: dial tcp: connection refused") {
			t.Errorf("%s with the standby down: %+v", name, f)
		}
	}
	s.Clusters[1] = Cluster{Name: "standby"}
	if f := s.Facts()["rollout.complete"]; f.Known || !strings.Contains(f.Detail, "standby: not read yet") {
		t.Errorf("a cluster not read yet: %+v", f)
	}
	s = twoClusters()
	s.Deployments[3].Phase, s.Deployments[3].Ready = Progressing, 2
	if f := s.Facts()["rollout.complete"]; f.Bool || f.Detail != "worker@standby 2/6 progressing" {
		t.Errorf("the detail names the cluster: %+v", f)
	}
}

func TestClusterKeys(t *testing.T) {
	s := twoClusters()
	keys := map[string]bool{}
	for _, l := range s.LastKnownGood() {
		keys[l.Key()] = true
	}
	for _, want := range []string{"production/api@primary", "production/api@standby", "production/worker@standby"} {
		if !keys[want] {
			t.Errorf("rollback targets %v lack %s", keys, want)
		}
	}
	if k := (Deployment{Namespace: "production", Name: "api"}).Key(); k != "production/api" {
		t.Errorf("one cluster keeps the plain key: %s", k)
	}
}
