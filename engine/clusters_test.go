package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

func clustersReading(standbyErr string, standbyRead bool) snapshot.Rollout {
	dep := func(cluster, name string) snapshot.Deployment {
		return snapshot.Deployment{Cluster: cluster, Namespace: "production", Name: name, Image: "app:r1", Revision: 1, Phase: snapshot.Complete}
	}
	s := snapshot.Rollout{
		Deployments: []snapshot.Deployment{dep("primary", "api")},
		Clusters:    []snapshot.Cluster{{Name: "primary", Read: true}, {Name: "standby", Read: standbyRead, Err: standbyErr}},
	}
	if standbyRead {
		s.Deployments = append(s.Deployments, dep("standby", "api"))
	}
	return s
}

// TestOneClusterDownShowsTheSourceDown: the source answers (the primary
// reads) but the standby does not: its health says down, naming it.
func TestOneClusterDownShowsTheSourceDown(t *testing.T) {
	e := &Engine{opts: Options{StaleAfter: 45 * time.Second}, now: time.Now()}
	u := snapshot.Update{Source: "kubernetes", Seq: 1, At: e.now, GoodAt: e.now, Data: clustersReading("dial tcp: connection refused", true)}
	if h := e.judge(u); h.State != snapshot.Down || !strings.Contains(h.Reason, "cluster standby: dial tcp") {
		t.Errorf("health %+v", h)
	}
	u.Data = clustersReading("", true)
	if h := e.judge(u); h.State != snapshot.OK {
		t.Errorf("both answer: %+v", h)
	}
}

// TestLateClusterGetsItsRollbackTargets: a cluster down when the cockpit
// first read the others is given its rollback targets when it answers,
// and the others' stay as first seen.
func TestLateClusterGetsItsRollbackTargets(t *testing.T) {
	e := &Engine{}
	e.setLKG(clustersReading("down", false).LastKnownGood())
	u := snapshot.Update{Source: "kubernetes"}
	later := clustersReading("", true)
	later.Deployments[0].Image = "app:r2" // the primary moved on: not its target
	more := e.lateClusters(u, later)
	if len(more) != 1 || more[0].Key() != "production/api@standby" {
		t.Fatalf("late targets %+v", more)
	}
	e.setLKG(append(e.lkgList(), more...))
	if e.lkg["production/api@primary"].Image != "app:r1" || len(e.lateClusters(u, later)) != 0 {
		t.Errorf("targets after: %+v", e.lkg)
	}
}
