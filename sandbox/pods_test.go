package sandbox_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

func runningPods(t *testing.T, kubeconfig, app string) []string {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	list, err := kubernetes.NewForConfigOrDie(rc).CoreV1().Pods(sandbox.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		if p.Status.Phase == "Running" && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// sessionNames reads the application_name of the sessions whose name
// passes keep.
func sessionNames(t *testing.T, adminDSN string, keep func(string) bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return !keep(n) })
}

func runWorkload(t *testing.T, w *pg.Workload) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("workload: %v", err)
		}
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// TestWorkloadSessionsArePods: the daemon's workload names its sessions
// after the running api and worker pods, as an application does from the
// downward API, so the cockpit's locks pane can name the pod behind a lock.
func TestWorkloadSessionsArePods(t *testing.T) {
	info := sandboxtest.Start(t)
	names := sandbox.NewPodNames(info.Kubeconfig, nil)
	api, workers := runningPods(t, info.Kubeconfig, "api"), runningPods(t, info.Kubeconfig, "worker")
	web1, worker1 := names.AppName("web", 1), names.AppName("worker", 1)
	if !slices.Contains(api, web1) || !slices.Contains(workers, worker1) {
		t.Fatalf("web session 1 is %q, worker session 1 is %q; running api pods %v, worker pods %v", web1, worker1, api, workers)
	}
	if names.Gone(web1) || !names.Gone("api-5d4f8b9c7-gone0") || !names.Gone("acme-web-1") {
		t.Errorf("Gone: a running pod %v, a replaced pod %v, a stand-in name while pods run %v",
			names.Gone(web1), names.Gone("api-5d4f8b9c7-gone0"), names.Gone("acme-web-1"))
	}
	if n := sandbox.NewPodNames("/nonexistent/kubeconfig", nil); n.AppName("web", 2) != "acme-web-2" || n.Gone("acme-web-2") {
		t.Errorf("without the API server: %q, gone %v", n.AppName("web", 2), n.Gone("acme-web-2"))
	}

	// Only this test's sessions: the daemon's run under the same names.
	prefix := fmt.Sprintf("t%d-", time.Now().UnixNano())
	runWorkload(t, &pg.Workload{DSN: info.PostgresApp, Conns: 2, Pause: 200 * time.Millisecond,
		AppName: func(tier string, n int) string { return prefix + names.AppName(tier, n) }})
	ours := func(n string) bool { return strings.HasPrefix(n, prefix) }
	eventually(t, "the workload's sessions named after pods", func() bool {
		got := sessionNames(t, info.PostgresAdmin, ours)
		return slices.Contains(got, prefix+web1) && slices.Contains(got, prefix+worker1)
	})
}

// TestWorkloadRenamesWhenPodGoes: a session whose pod is gone ends and
// comes back under the new pod's name, as the old pod's connections end
// with it in a rollout.
func TestWorkloadRenamesWhenPodGoes(t *testing.T) {
	info := sandboxtest.Start(t)
	prefix := fmt.Sprintf("t%d-", time.Now().UnixNano())
	var generation atomic.Int32
	generation.Store(1)
	pod := func(gen int32) string { return fmt.Sprintf("%sapi-gen%d", prefix, gen) }
	runWorkload(t, &pg.Workload{DSN: info.PostgresApp, Conns: 1, Pause: 100 * time.Millisecond,
		AppName: func(string, int) string { return pod(generation.Load()) },
		Gone:    func(name string) bool { return name != pod(generation.Load()) },
	})
	ours := func(n string) bool { return strings.HasPrefix(n, prefix) }
	eventually(t, "the first pod's session", func() bool { return slices.Equal(sessionNames(t, info.PostgresAdmin, ours), []string{pod(1)}) })
	generation.Store(2)
	eventually(t, "the session under the new pod's name, the old one gone", func() bool {
		return slices.Equal(sessionNames(t, info.PostgresAdmin, ours), []string{pod(2)})
	})
}
