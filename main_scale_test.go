package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// BenchmarkCockpitScale puts 1,000 and then 5,000 pods behind one
// deployment on the sandbox (kwok makes them cheap) and measures, for the
// real binary in a real terminal: the time from start to the first complete
// rollout view, beside the time `kubectl get pods` takes to list the same
// pods; the resident memory of the whole process; and its CPU over 10 s in
// which nothing changes. One iteration is one measurement.
func BenchmarkCockpitScale(b *testing.B) {
	needTool(b, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(b)
	bin := buildBinary(b)
	cs := bulkClient(b, info.Kubeconfig)
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			ns := scaleNamespace(b, cs, n)
			cfg := filepath.Join(b.TempDir(), "flightdeck.toml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`[deploy]
name = "Scale %d"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[kubernetes]
kubeconfig = %q
namespaces = [%q]
deployments = ["api"]
[[phase]]
name = "P"
[[phase.step]]
title = "Watch"
estimate = "1m"
`, n, info.Kubeconfig, ns)), 0o644)
			for b.Loop() {
				kubectlTook := timeKubectl(b, info.Kubeconfig, ns, n)
				first, rss, cpu := measureCockpit(b, bin, cfg, n)
				b.ReportMetric(first.Seconds(), "s-first-view")
				b.ReportMetric(kubectlTook.Seconds(), "s-kubectl-get-pods")
				b.ReportMetric(first.Seconds()/kubectlTook.Seconds(), "x-kubectl")
				b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
				b.ReportMetric(cpu, "%cpu-idle")
			}
		})
	}
}

// bulkClient is a client for making thousands of objects: client-go's
// default rate limit would make the setup, not the cockpit, the slow part.
func bulkClient(b *testing.B, kubeconfig string) kubernetes.Interface {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	return kubernetes.NewForConfigOrDie(rc)
}

// scaleNamespace makes a namespace with a copy of the production api
// deployment at n replicas and waits until all are available.
func scaleNamespace(b *testing.B, cs kubernetes.Interface, n int) string {
	ctx := context.Background()
	ns := fmt.Sprintf("scale-%d", n)
	_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	prod, err := cs.AppsV1().Deployments("production").Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	scaleNodes(b, cs, n)
	replicas := int32(n)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: prod.Labels}, Spec: *prod.Spec.DeepCopy()}
	d.Spec.Replicas = &replicas
	// Only pods: nothing here measures scheduling against requests.
	for i := range d.Spec.Template.Spec.Containers {
		d.Spec.Template.Spec.Containers[i].Resources = corev1.ResourceRequirements{}
	}
	d.Spec.Template.Spec.NodeSelector = map[string]string{"flightdeck-scale": "true"}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for {
		got, err := cs.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
		if err == nil && got.Status.AvailableReplicas == replicas && got.Status.UpdatedReplicas == replicas {
			b.Logf("%d pods available after %s", n, time.Since(start).Round(time.Second))
			return ns
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatalf("%d pods not available after 30 minutes", n)
		}
		time.Sleep(2 * time.Second)
	}
}

// scaleNodes adds fake nodes with room for n pods between them, kept apart
// from the production shape's nodes by a label, and removes them after.
func scaleNodes(b *testing.B, cs kubernetes.Interface, n int) {
	ctx := context.Background()
	per := 1100
	count := (n + per - 1) / per
	for i := range count {
		name := fmt.Sprintf("kwok-scale-%d-%d", n, i)
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("1000"),
			corev1.ResourceMemory: resource.MustParse("4Ti"),
			corev1.ResourcePods:   resource.MustParse(strconv.Itoa(per)),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name,
				Labels:      map[string]string{"kubernetes.io/hostname": name, "type": "kwok", "flightdeck-scale": "true"},
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity,
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.9.%d.%d", n/1000, i+1)}}},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
}

// timeKubectl is the best of three `kubectl get pods` listings.
func timeKubectl(b *testing.B, kubeconfig, ns string, n int) time.Duration {
	best := time.Duration(0)
	for range 3 {
		t0 := time.Now()
		out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "pods").Output()
		took := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if lines := strings.Count(string(out), "\n"); lines < n {
			b.Fatalf("kubectl listed %d lines, want %d pods", lines, n)
		}
		if best == 0 || took < best {
			best = took
		}
	}
	return best
}

// measureCockpit starts the cockpit in tmux and returns the time until its
// rollout pane shows every pod, its resident memory then, and its CPU use
// (percent of one core) over 10 s from 5 s after that.
func measureCockpit(b *testing.B, bin, cfg string, n int) (time.Duration, int64, float64) {
	return measureCockpitShows(b, bin, cfg, fmt.Sprintf("api complete  %d/%d updated %d ready", n, n, n), 1)
}

// measureCockpitShows is measureCockpit for a view that is complete when
// want shows count times.
func measureCockpitShows(b *testing.B, bin, cfg, want string, count int) (time.Duration, int64, float64) {
	s := &tmuxSession{t: b, socket: fmt.Sprintf("fd-scale-%d-%d", count, os.Getpid()), name: "cockpit"}
	defer exec.Command("tmux", "-L", s.socket, "kill-server").Run()
	state := b.TempDir()
	t0 := time.Now()
	s.run("new-session", "-d", "-s", s.name, "-x", "200", "-y", "60",
		fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", state, bin, cfg))
	var first time.Duration
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if strings.Count(s.screen(), want) >= count {
			first = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the cockpit never showed %q %d times:\n%s", want, count, s.screen())
		}
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s.run("display-message", "-p", "-t", s.name, "#{pane_pid}")))
	if err != nil {
		b.Fatal(err)
	}
	rss := procRSS(b, pid)
	// Idle means after the first view has settled: the informers' initial
	// lists and the garbage they leave are the start's cost, not idling's.
	time.Sleep(5 * time.Second)
	ticks0 := procTicks(b, pid)
	w0 := time.Now()
	time.Sleep(10 * time.Second)
	cpu := float64(procTicks(b, pid)-ticks0) / 100 / time.Since(w0).Seconds() * 100
	return first, rss, cpu
}

func procRSS(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// procTicks is the process's user+system CPU time in clock ticks (100/s).
func procTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}
