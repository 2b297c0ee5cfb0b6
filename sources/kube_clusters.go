package sources

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// FirstReadingWait is how long the first reading of several clusters waits
// for a slow one: after it the others are shown and the slow one as not
// read yet, rather than a blank pane.
var FirstReadingWait = 10 * time.Second

// clusterReading is the latest of one cluster.
type clusterReading struct {
	cfg      *config.Kubernetes
	server   string
	data     snapshot.Rollout
	read     bool  // a reading arrived at least once
	err      error // down now; data is then the last seen
	reported bool  // a reading or a failure arrived
}

// runClusters watches each cluster on a goroutine of its own, with its own
// retries, so a cluster that is down shows as down while the others keep
// updating; the combined reading fails only when every cluster does.
func (k *Kube) runClusters(ctx context.Context, emit func(Snapshot[snapshot.Rollout])) error {
	list := k.Config.ClusterList()
	var mu sync.Mutex
	readings := make([]clusterReading, len(list))
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, c := range list {
		readings[i].cfg = c
		if rc, _, err := KubeRESTConfig(c); err == nil {
			readings[i].server = rc.Host
		}
		wg.Go(func() {
			for attempt := 1; ; attempt++ {
				err := k.watch(ctx, c, func(s Snapshot[snapshot.Rollout]) {
					mu.Lock()
					readings[i].data, readings[i].read, readings[i].err, readings[i].reported = s.Data, true, s.Err, true
					mu.Unlock()
					attempt = 0
					poke()
				})
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					err = errors.New("the watch ended")
				}
				mu.Lock()
				readings[i].err, readings[i].reported = err, true
				mu.Unlock()
				poke()
				t := time.NewTimer(DefaultBackoff.Delay(attempt))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		})
	}
	now := k.Now
	if now == nil {
		now = time.Now
	}
	deadline := time.Now().Add(FirstReadingWait)
	firstBy := time.NewTimer(FirstReadingWait)
	defer firstBy.Stop()
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-firstBy.C:
		}
		mu.Lock()
		all := true
		for _, r := range readings {
			all = all && r.reported
		}
		if seq == 0 && !all && time.Now().Before(deadline) {
			// One cluster's reading alone would look like the whole
			// deploy: wait for the others a while.
			mu.Unlock()
			continue
		}
		seq++
		snap := mergeClusters(readings, seq, now())
		mu.Unlock()
		emit(snap)
	}
}

// mergeClusters makes one reading of several, in config order.
func mergeClusters(readings []clusterReading, seq uint64, at time.Time) Snapshot[snapshot.Rollout] {
	var out snapshot.Rollout
	var errs []error
	for _, r := range readings {
		c := snapshot.Cluster{Name: r.cfg.Name, Role: r.cfg.Role, Context: r.cfg.Context, Server: r.server, Read: r.read}
		if r.err != nil {
			c.Err = r.err.Error()
			errs = append(errs, fmt.Errorf("cluster %s: %w", r.cfg.Name, r.err))
		}
		out.Clusters = append(out.Clusters, c)
		out.Deployments = append(out.Deployments, r.data.Deployments...)
		out.Events = append(out.Events, r.data.Events...)
	}
	sort.SliceStable(out.Events, func(i, j int) bool { return out.Events[i].At.After(out.Events[j].At) })
	snap := Snapshot[snapshot.Rollout]{Seq: seq, At: at, Data: out}
	if len(errs) == len(readings) {
		snap.Err = errors.Join(errs...)
	}
	return snap
}
