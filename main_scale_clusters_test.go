package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// BenchmarkCockpitTwoClusters is BenchmarkCockpitScale for a deploy to two
// clusters, the sandbox's primary and standby, with 5,000 pods behind one
// deployment in each: the first complete view of both beside the slower of
// two `kubectl get pods` run in parallel (one per cluster), the resident
// memory of the whole process, and its CPU over 10 s of nothing changing.
func BenchmarkCockpitTwoClusters(b *testing.B) {
	needTool(b, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(b)
	if info.StandbyKubeconfig == "" {
		b.Fatal("the sandbox has no standby cluster")
	}
	bin := buildBinary(b)
	const n = 5000
	kubeconfigs := []string{info.Kubeconfig, info.StandbyKubeconfig}
	var ns string
	for _, kc := range kubeconfigs {
		ns = scaleNamespace(b, bulkClient(b, kc), n)
	}
	cfg := filepath.Join(b.TempDir(), "flightdeck.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[deploy]
name = "Two clusters"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[kubernetes]
namespaces = [%q]
deployments = ["api"]
[[kubernetes.cluster]]
name = "primary"
kubeconfig = %q
[[kubernetes.cluster]]
name = "standby"
kubeconfig = %q
[[phase]]
name = "P"
[[phase.step]]
title = "Watch"
estimate = "1m"
`, ns, info.Kubeconfig, info.StandbyKubeconfig)), 0o644)
	for b.Loop() {
		kubectlTook := timeKubectlParallel(b, kubeconfigs, ns, n)
		first, rss, cpu := measureCockpitShows(b, bin, cfg, fmt.Sprintf("api complete  %d/%d updated %d ready", n, n, n), 2)
		b.ReportMetric(first.Seconds(), "s-first-view")
		b.ReportMetric(kubectlTook.Seconds(), "s-kubectl-get-pods")
		b.ReportMetric(first.Seconds()/kubectlTook.Seconds(), "x-kubectl")
		b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
		b.ReportMetric(cpu, "%cpu-idle")
	}
}

// timeKubectlParallel lists the pods of every cluster at once and returns
// the slower listing, the best of three rounds.
func timeKubectlParallel(b *testing.B, kubeconfigs []string, ns string, n int) time.Duration {
	best := time.Duration(0)
	for range 3 {
		took := make([]time.Duration, len(kubeconfigs))
		errs := make([]error, len(kubeconfigs))
		var wg sync.WaitGroup
		for i, kc := range kubeconfigs {
			wg.Go(func() {
				t0 := time.Now()
				out, err := exec.Command("kubectl", "--kubeconfig", kc, "-n", ns, "get", "pods").Output()
				took[i] = time.Since(t0)
				if err == nil && strings.Count(string(out), "\n") < n {
					err = fmt.Errorf("kubectl listed %d lines, want %d pods", strings.Count(string(out), "\n"), n)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		slower := time.Duration(0)
		for i := range kubeconfigs {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			slower = max(slower, took[i])
		}
		if best == 0 || slower < best {
			best = slower
		}
	}
	return best
}
