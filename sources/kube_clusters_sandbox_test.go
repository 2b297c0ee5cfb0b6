package sources_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// deadKubeconfig is a copy of kubeconfig whose server nothing answers.
func deadKubeconfig(t *testing.T, kubeconfig string) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		c.Server = "https://127.0.0.1:1"
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-gone")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubeWatchesSeveralClusters: the sandbox's primary and standby are
// watched side by side, and a third cluster that does not answer shows as
// down while the other two keep updating; no rollout gate passes then.
func TestKubeWatchesSeveralClusters(t *testing.T) {
	info := sandboxtest.Start(t)
	if info.StandbyKubeconfig == "" {
		t.Fatal("the sandbox has no standby cluster")
	}
	doc := fmt.Sprintf(`
[deploy]
name = "clusters"
environment = "production"

[window]
start = "00:00"
end = "23:59"
timezone = "UTC"

[[phase]]
name = "Main"

[[phase.step]]
title = "Do it"
estimate = "1m"

[kubernetes]
namespaces = ["production"]
deployments = ["api", "worker"]

[[kubernetes.cluster]]
name = "primary"
role = "primary"
kubeconfig = %q

[[kubernetes.cluster]]
name = "standby"
role = "standby"
kubeconfig = %q

[[kubernetes.cluster]]
name = "gone"
role = "standby"
kubeconfig = %q
`, info.Kubeconfig, info.StandbyKubeconfig, deadKubeconfig(t, info.Kubeconfig))
	cfg, err := config.Parse("clusters.toml", []byte(doc), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := &sources.Kube{Config: cfg.Kubernetes}
	byCluster := func(s snapshot.Rollout, cluster, name string) *snapshot.Deployment {
		for i, d := range s.Deployments {
			if d.Cluster == cluster && d.Name == name {
				return &s.Deployments[i]
			}
		}
		return nil
	}
	st := watchUntil(t, src, "two clusters read, one down", func(s snapshot.Rollout) bool {
		return len(s.Clusters) == 3 && s.Clusters[0].Read && s.Clusters[1].Read && s.Clusters[2].Err != "" &&
			byCluster(s, "primary", "worker") != nil && byCluster(s, "standby", "worker") != nil
	})
	if st.Clusters[0].Name != "primary" || st.Clusters[1].Name != "standby" || st.Clusters[2].Name != "gone" {
		t.Errorf("clusters in config order: %+v", st.Clusters)
	}
	for _, name := range []string{"rollout.complete", "rollout.no_crashloops"} {
		if f := st.Facts()[name]; f.Known || !strings.Contains(f.Detail, "cluster gone:") {
			t.Errorf("%s with a cluster down: %+v", name, f)
		}
	}
	if d := byCluster(st, "standby", "api"); d.Key() != "production/api@standby" {
		t.Errorf("key %s", d.Key())
	}

	// The standby alone gets a new image: only its api changes.
	ctx := context.Background()
	good := byCluster(st, "standby", "api").Image
	t.Cleanup(func() { _ = k8s.SetImage(context.Background(), info.StandbyKubeconfig, "production", "api", good) })
	img := k8s.Image("release-standby-only")
	if err := k8s.SetImage(ctx, info.StandbyKubeconfig, "production", "api", img); err != nil {
		t.Fatal(err)
	}
	st = watchUntil(t, src, "the standby's new image", func(s snapshot.Rollout) bool {
		d := byCluster(s, "standby", "api")
		return d != nil && d.Image == img
	})
	if p := byCluster(st, "primary", "api"); p == nil || p.Image == img {
		t.Errorf("the primary's api changed with the standby's: %+v", p)
	}
	if w := st.WhatRunsWhere(); !strings.Contains(w, "standby api release-standby-only") || !strings.Contains(w, "gone down") {
		t.Errorf("what runs where: %q", w)
	}
}
