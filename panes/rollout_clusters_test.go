package panes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// clustersFixture is the fixture's deploy in two clusters: the primary
// with the bad release stalled, the standby down since its last reading.
func clustersFixture(t testing.TB) RolloutView {
	v := rolloutFixture(t)
	primary := v.State.Deployments
	var standby []snapshot.Deployment
	for _, d := range primary {
		d.Cluster = "standby"
		d.Image, d.PrevImage, d.Phase, d.Why, d.Updated, d.OldPods = "registry.local/acme/app:release-4f2a9c1", "", snapshot.Complete, "", d.Desired, 0
		d.Pods = d.Pods[len(d.Pods)-1:]
		standby = append(standby, d)
	}
	for i := range primary {
		primary[i].Cluster = "primary"
	}
	v.State.Deployments = append(primary, standby...)
	v.State.Clusters = []snapshot.Cluster{
		{Name: "primary", Role: "primary", Context: "prod-eu", Read: true},
		{Name: "standby", Role: "standby", Context: "prod-us", Read: true, Err: "Get \"https://10.0.0.9/readyz\": dial tcp: connection refused"},
	}
	lkg := map[string]snapshot.LastKnownGood{}
	for _, d := range v.State.Deployments {
		lkg[d.Key()] = snapshot.LastKnownGood{Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name, Image: "registry.local/acme/app:release-4f2a9c1", Revision: 2}
	}
	v.LKG = lkg
	return v
}

func TestRenderRolloutClustersGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderRollout(clustersFixture(t), w, 40, dark)
			assertBox(t, out, w, 40)
			golden.RequireEqual(t, out)
		})
	}
}

// TestRolloutGroupsByCluster: each cluster heads its own deployments with
// what it runs, a cluster that is down says so over its last-seen
// deployments, and the rollback target is found per cluster.
func TestRolloutGroupsByCluster(t *testing.T) {
	out := ansi.Strip(RenderRollout(clustersFixture(t), 160, 40, dark))
	p := strings.Index(out, "cluster primary · prod-eu")
	s := strings.Index(out, "cluster standby · prod-us ✕ down: Get")
	if p < 0 || s < 0 || p > s {
		t.Fatalf("cluster headings in order, the standby down:\n%s", out)
	}
	if !strings.Contains(out[p:s], "api STALLED") || !strings.Contains(out[s:], "api complete") {
		t.Errorf("each cluster's deployments under it:\n%s", out)
	}
	if !strings.Contains(out[p:s], "R rolls back to release-4f2a9c1") {
		t.Errorf("the primary's rollback target is found by its key:\n%s", out)
	}
	if !strings.Contains(out[p:s], "· runs api release-bad1 worker release-4f2a9c1") {
		t.Errorf("the primary's heading names what each deployment runs, as they differ:\n%s", out)
	}
}
