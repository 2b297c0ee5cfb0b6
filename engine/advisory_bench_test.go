package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/sources"
)

// BenchmarkAdvisoryLatency: a bad image reaches the API server (the PATCH
// returns) and the clock runs until the engine's status carries ROLLBACK
// RECOMMENDED, through the real rollout source on the sandbox's control
// plane; then the good image goes back and the advisory clears. 20 runs;
// median and p99. Most of it is the sandbox's own pod lifecycle: kwok
// takes the pods through a failed start into CrashLoopBackOff.
func BenchmarkAdvisoryLatency(b *testing.B) {
	info := sandboxtest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rc, _, err := sources.KubeRESTConfig(&config.Kubernetes{Kubeconfig: info.Kubeconfig})
	if err != nil {
		b.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	w := &kinds{info: info, cs: cs, ns: "advisory-" + randomHex()}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns,
		Labels: map[string]string{"flightdeck.test/package": "engine"}}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := cs.CoreV1().Namespaces().Delete(context.Background(), w.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			b.Errorf("delete namespace %s: %v", w.ns, err)
		}
	})
	prod, err := cs.AppsV1().Deployments(k8s.Namespace).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w.deploy(b, ctx, prod.Spec, "api")
	if err := k8s.WaitRolledOut(ctx, info.Kubeconfig, w.ns, "api", 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	doc := fmt.Sprintf(`
[deploy]
name = "Advisory latency"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[[phase]]
name = "Deploy"
[[phase.step]]
id = "push"
title = "Push"
estimate = "1m"
starts_deploy = true
[kubernetes]
kubeconfig = %q
namespaces = [%q]
deployments = ["api"]
progress_timeout = "10m"
`, info.Kubeconfig, w.ns)
	path := filepath.Join(b.TempDir(), "a.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	start := journal.Record{Seq: 1, Type: runbook.RecDeployStart, At: now, Step: "push"}
	rb := runbook.New(cfg)
	rb.Apply(start)
	h := startHarness(b, Options{Config: cfg, Runbook: rb, Journal: &memJournal{}, Operator: "bench", Day: now, Now: now,
		History: []journal.Record{start}, Kube: cs})
	h.untilWithin(time.Minute, "the first reading", func() bool { return len(h.status.LKG) == 1 })

	good, bad := k8s.Image("release-1a2b3c4"), k8s.Image("bad-advisory")
	var took []time.Duration
	for run := range 20 {
		if err := k8s.SetImage(ctx, info.Kubeconfig, w.ns, "api", bad); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		h.untilWithin(2*time.Minute, fmt.Sprintf("run %d: the advisory", run), func() bool { return h.status.Advisory != nil })
		took = append(took, time.Since(t0))
		if err := k8s.SetImage(ctx, info.Kubeconfig, w.ns, "api", good); err != nil {
			b.Fatal(err)
		}
		h.untilWithin(2*time.Minute, fmt.Sprintf("run %d: the advisory cleared", run), func() bool { return h.status.Advisory == nil })
	}
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[len(took)*99/100]
	b.ReportMetric(p50.Seconds(), "p50-s")
	b.ReportMetric(p99.Seconds(), "p99-s")
	b.Logf("bad image → ROLLBACK RECOMMENDED over %d runs: p50 %s, p99 %s, min %s", len(took), p50, p99, took[0])
}
