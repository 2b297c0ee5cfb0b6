package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/internal/ci"
)

const (
	goodTag = "release-7c1d2e3"
	badTag  = "release-bad1"
)

// TestSandboxCluster runs the real control plane end to end: build (or
// reuse) the binaries, bring the cluster up in the production shape, roll a
// good release out, stall a bad one, roll back, and tear everything down.
// A cold build takes about five minutes on two cores, so give `go test` a
// -timeout of 20m the first time; later runs take about two minutes, most
// of it waiting for the bad rollout's progress deadline.
func TestSandboxCluster(t *testing.T) {
	inCI := ci.On()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if inCI {
			t.Fatalf("%s\nCI=true, so this is a failure: CI must be able to run the Kubernetes sandbox", msg)
		}
		t.Skipf("skipping the Kubernetes sandbox test: %s", msg)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		unavailable("kwokctl's binary runtime needs Linux or macOS, this is %s", runtime.GOOS)
	}
	if testing.Short() && !inCI {
		t.Skip("skipping the Kubernetes sandbox test in -short mode: it starts a real control plane")
	}
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		// Keep time for Down and the process check after a failure.
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-45*time.Second))
		defer cancel()
	}

	progress := &lineLogger{t: t}
	t0 := time.Now()
	bins, err := EnsureBinaries(ctx, Options{Progress: progress})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			unavailable("building the sandbox binaries did not finish before the test deadline (a cold build takes ~5 min on 2 cores; run with -timeout 20m): %v", err)
		}
		unavailable("cannot build the sandbox binaries: %v", err)
	}
	t.Logf("EnsureBinaries: %s (binaries in %s)", since(t0), bins.Dir)

	// kwokctl and etcd put paths from here into flags and URLs; a short
	// directory under /tmp keeps them clear of socket path limits that a
	// long t.TempDir() name can hit.
	stateDir, err := os.MkdirTemp("/tmp", "fdk")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{StateDir: stateDir, Progress: progress}

	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Down(dctx, o); err != nil {
			t.Errorf("Down at cleanup: %v", err)
		}
		if procs, err := ClusterProcesses(o); err != nil || len(procs) > 0 {
			t.Errorf("processes left after Down: %v %v", procs, err)
		}
		progress.close()
		_ = os.RemoveAll(stateDir)
	})

	t0 = time.Now()
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Logf("Up (cluster created, 12 production pods ready): %s; kubeconfig %s, server %s", since(t0), c.Kubeconfig, c.Server)

	cs, err := clientset(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(ctx, t, cs)
	kubectl(ctx, t, bins, c.Kubeconfig, "-n", Namespace, "get", "pods", "-o", "wide")

	// A second Up finds the cluster answering and only re-applies the shape.
	t0 = time.Now()
	c2, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if c2.Server != c.Server {
		t.Errorf("second Up made a new cluster: server %s, was %s", c2.Server, c.Server)
	}
	t.Logf("second Up (reuse): %s", since(t0))
	if running, detail, err := Status(ctx, o); err != nil || !running {
		t.Fatalf("Status after Up: running=%v %q %v", running, detail, err)
	}

	t.Run("good rollout completes", func(t *testing.T) {
		t0 := time.Now()
		if err := SetImage(ctx, c.Kubeconfig, Namespace, "api", Image(goodTag)); err != nil {
			t.Fatal(err)
		}
		if err := WaitRolledOut(ctx, c.Kubeconfig, Namespace, "api", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("rollout of %s took %s", goodTag, since(t0))
		pods := podsOf(ctx, t, cs, "api")
		if ready, _ := countReady(pods, Image(goodTag)); ready != Replicas || len(pods) != Replicas {
			t.Fatalf("after rollout: %d pods, %d ready on %s; want %d", len(pods), ready, goodTag, Replicas)
		}
		kubectl(ctx, t, bins, c.Kubeconfig, "-n", Namespace, "rollout", "history", "deployment/api")
	})

	t.Run("bad rollout stalls in CrashLoopBackOff", func(t *testing.T) {
		t0 := time.Now()
		if err := SetImage(ctx, c.Kubeconfig, Namespace, "api", Image(badTag)); err != nil {
			t.Fatal(err)
		}
		sawCrashLoop := false
		for {
			if ctx.Err() != nil || time.Since(t0) > 3*time.Minute {
				t.Fatalf("bad rollout: no ProgressDeadlineExceeded after %s (crash loop seen: %v)", since(t0), sawCrashLoop)
			}
			pods := podsOf(ctx, t, cs, "api")
			// maxUnavailable 0: the old release keeps full strength throughout.
			if ready, _ := countReady(pods, Image(goodTag)); ready != Replicas {
				t.Fatalf("old release has %d ready pods during the bad rollout, want %d", ready, Replicas)
			}
			for _, p := range pods {
				if p.Spec.Containers[0].Image != Image(badTag) {
					continue
				}
				for _, st := range p.Status.ContainerStatuses {
					if st.Ready {
						t.Fatalf("pod %s with bad image became ready", p.Name)
					}
					if st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff" && st.RestartCount >= 2 && !sawCrashLoop {
						sawCrashLoop = true
						t.Logf("pod %s in CrashLoopBackOff with %d restarts after %s", p.Name, st.RestartCount, since(t0))
					}
				}
			}
			d, err := cs.AppsV1().Deployments(Namespace).Get(ctx, "api", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cond := condition(d, appsv1.DeploymentProgressing); cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == "ProgressDeadlineExceeded" {
				if !sawCrashLoop {
					t.Fatalf("ProgressDeadlineExceeded without a crash-looping pod seen")
				}
				t.Logf("Progressing=False ProgressDeadlineExceeded after %s: %s", since(t0), cond.Message)
				break
			}
			time.Sleep(time.Second)
		}
		if err := WaitRolledOut(ctx, c.Kubeconfig, Namespace, "api", 10*time.Second); !errors.Is(err, ErrProgressDeadline) {
			t.Errorf("WaitRolledOut on a stalled rollout = %v, want a progress-deadline error", err)
		}
		kubectl(ctx, t, bins, c.Kubeconfig, "-n", Namespace, "get", "pods", "-l", "app=api")
	})

	t.Run("rollback completes", func(t *testing.T) {
		t0 := time.Now()
		if err := SetImage(ctx, c.Kubeconfig, Namespace, "api", Image(goodTag)); err != nil {
			t.Fatal(err)
		}
		if err := WaitRolledOut(ctx, c.Kubeconfig, Namespace, "api", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		for {
			pods := podsOf(ctx, t, cs, "api")
			ready, _ := countReady(pods, Image(goodTag))
			if ready == Replicas && len(pods) == Replicas {
				break
			}
			if time.Since(t0) > time.Minute {
				t.Fatalf("after rollback: %d pods, %d ready on %s", len(pods), ready, goodTag)
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("rollback took %s", since(t0))
	})

	t.Run("a component that exited is noticed and Up starts afresh", func(t *testing.T) {
		procs, err := processesUnder(o.clusterDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.name == "kube-scheduler" {
				_ = killProcess(p.pid, true)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			running, detail, err := Status(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if !running && strings.Contains(detail, "kube-scheduler") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Status with the scheduler killed: running=%v %q", running, detail)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := Up(ctx, o); err != nil {
			t.Fatalf("Up after the scheduler died: %v", err)
		}
		if running, detail, err := Status(ctx, o); err != nil || !running {
			t.Fatalf("Status after Up: running=%v %q %v", running, detail, err)
		}
	})

	t0 = time.Now()
	if err := Down(ctx, o); err != nil {
		t.Fatalf("Down: %v", err)
	}
	t.Logf("Down: %s", since(t0))
	if procs, err := ClusterProcesses(o); err != nil || len(procs) > 0 {
		t.Fatalf("processes left after Down: %v %v", procs, err)
	}
	if running, detail, err := Status(ctx, o); err != nil || running {
		t.Fatalf("Status after Down: running=%v %q %v", running, detail, err)
	}
}

func checkShape(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readyNodes := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && n.Annotations[fakeNodeAnnotation] == "fake" {
				readyNodes++
			}
		}
	}
	if readyNodes < 3 {
		t.Errorf("%d ready kwok nodes, want at least 3", readyNodes)
	}
	for _, want := range Deployments {
		d, err := cs.AppsV1().Deployments(Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ru := d.Spec.Strategy.RollingUpdate
		switch {
		case *d.Spec.Replicas != Replicas:
			t.Errorf("%s: %d replicas", want.Name, *d.Spec.Replicas)
		case ru == nil || ru.MaxUnavailable.IntValue() != 0:
			t.Errorf("%s: rolling update %+v, want maxUnavailable 0", want.Name, ru)
		case d.Spec.Template.Labels["app"] != want.Name || d.Spec.Template.Labels["tier"] != want.Tier:
			t.Errorf("%s: labels %v", want.Name, d.Spec.Template.Labels)
		case d.Annotations[ChangeCauseAnnotation] == "":
			t.Errorf("%s: no change-cause", want.Name)
		}
		pods := podsOf(ctx, t, cs, want.Name)
		ready, running := countReady(pods, Image(InitialTag))
		if len(pods) != Replicas || ready != Replicas || running != Replicas {
			t.Errorf("%s: %d pods, %d running, %d ready on %s; want %d", want.Name, len(pods), running, ready, InitialTag, Replicas)
		}
	}
}

func podsOf(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, app string) []corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// countReady counts the pods running image that are Running, and of those
// the ones that are Ready.
func countReady(pods []corev1.Pod, image string) (ready, running int) {
	for _, p := range pods {
		if p.Spec.Containers[0].Image != image || p.Status.Phase != corev1.PodRunning {
			continue
		}
		running++
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, running
}

// kubectl runs the built kubectl, as a person following the runbook would.
func kubectl(ctx context.Context, t *testing.T, bins Binaries, kubeconfig string, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, bins.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("kubectl %s\n%s", strings.Join(args, " "), out)
}

// lineLogger sends progress to the test log a whole line at a time.
type lineLogger struct {
	mu     sync.Mutex
	t      *testing.T
	buf    bytes.Buffer
	closed bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.t.Log(strings.TrimRight(line, "\n"))
	}
}

func (l *lineLogger) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log(l.buf.String())
	}
	l.closed = true
}
