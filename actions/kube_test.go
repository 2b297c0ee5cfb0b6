package actions_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/sources"
)

// Tags the tests roll between. None contains "bad", so their pods become
// Ready; tagBad's crash-loop.
const (
	tagA   = "release-1a2b3c4"
	tagB   = "release-5d6e7f8"
	tagC   = "release-9e8d7c6"
	tagBad = "release-bad1"
)

func TestKubeActionsRefuseWhatCannotRun(t *testing.T) {
	ctx := context.Background()
	targets := []actions.KubeTarget{{Namespace: "production", Name: "api"}, {Namespace: "production", Name: "worker"}}
	rb := &actions.Rollback{Targets: targets}
	res, err := rb.Run(ctx)
	if err == nil || res.OK || !strings.Contains(err.Error(), "no Kubernetes client") {
		t.Fatalf("Run without a client: res %+v err %v", res, err)
	}
	var per []actions.KubeTargetResult
	if err := json.Unmarshal(res.Detail, &per); err != nil || len(per) != 2 || per[0].Error == "" || per[1].OK {
		t.Fatalf("every target needs a failed result entry, got %s (%v)", res.Detail, err)
	}
	if _, err := (&actions.Kube{Verb: actions.KubeScale, Client: &kubernetes.Clientset{}, Targets: targets, Replicas: -1}).Preview(ctx); err == nil {
		t.Error("Scale to -1: want an error")
	}
	_, err = (&actions.Kube{Verb: "drain", Client: &kubernetes.Clientset{}, Targets: targets}).Preview(ctx)
	if err == nil || !strings.Contains(err.Error(), `unknown Kubernetes action "kube.drain"`) {
		t.Errorf("an unknown verb: %v", err)
	}
	// Every kube.* kind a runbook step may name is one of these actions.
	for _, kind := range config.ActionNames() {
		if !strings.HasPrefix(kind, "kube.") {
			continue
		}
		var a actions.Action = &actions.Rollback{}
		if kind != actions.KindKubeRollback {
			v, ok := actions.KubeVerbOf(kind)
			if !ok {
				t.Errorf("%s: no Kube verb runs it", kind)
				continue
			}
			a = &actions.Kube{Verb: v}
		}
		if !a.Dangerous() || a.Kind() != kind {
			t.Errorf("%s: %T has kind %q, dangerous %v", kind, a, a.Kind(), a.Dangerous())
		}
	}
	if _, ok := actions.KubeVerbOf(actions.KindKubeRollback); ok {
		t.Error("KubeVerbOf claims the rollback, which Kube does not run")
	}
}

// kenv is one test's view of the sandbox's control plane. Tests never touch
// the production namespace, which other packages' tests share: each works
// in namespaces of its own, deleted at the end.
type kenv struct {
	t    *testing.T
	info *sandbox.Info
	rc   *rest.Config
	cs   kubernetes.Interface
}

func newKenv(t *testing.T) *kenv {
	t.Helper()
	info := sandboxtest.Start(t)
	rc, _, err := sources.KubeRESTConfig(&config.Kubernetes{Kubeconfig: info.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &kenv{t: t, info: info, rc: rc, cs: cs}
}

func (e *kenv) ctx(limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *kenv) namespace(ctx context.Context, prefix string) string {
	e.t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	_, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"flightdeck.test/package": "actions"},
	}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			e.t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return name
}

var (
	prodOnce sync.Once
	prodSpec *appsv1.DeploymentSpec
	prodErr  error
)

// deploy creates a deployment shaped like production's api (3 replicas to
// stay light) at tag, and waits until it is rolled out.
func (e *kenv) deploy(ctx context.Context, ns, name, tag string) {
	e.t.Helper()
	prodOnce.Do(func() {
		var d *appsv1.Deployment
		d, prodErr = e.cs.AppsV1().Deployments(k8s.Namespace).Get(ctx, "api", metav1.GetOptions{})
		if prodErr == nil {
			prodSpec = d.Spec.DeepCopy()
		}
	})
	if prodErr != nil {
		e.t.Fatalf("read production/api to copy: %v", prodErr)
	}
	spec := prodSpec.DeepCopy()
	// Other packages' tests may be mid-way through a release of their own
	// on production: pin what this test relies on.
	replicas := int32(3)
	spec.Replicas, spec.Paused = &replicas, false
	labels := map[string]string{}
	for k, v := range spec.Template.Labels {
		labels[k] = v
	}
	// Distinct selectors, so deployments sharing a namespace never see
	// each other's pods.
	labels["app"] = name
	spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	spec.Template.Labels = labels
	delete(spec.Template.Annotations, "kubectl.kubernetes.io/restartedAt")
	spec.Template.Spec.Containers[0].Image = k8s.Image(tag)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels,
			Annotations: map[string]string{k8s.ChangeCauseAnnotation: "initial release " + tag}},
		Spec: *spec,
	}
	if _, err := e.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
	e.waitRolledOut(ctx, ns, name)
}

func (e *kenv) setImage(ctx context.Context, ns, name, tag string) {
	e.t.Helper()
	if err := k8s.SetImage(ctx, e.info.Kubeconfig, ns, name, k8s.Image(tag)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *kenv) waitRolledOut(ctx context.Context, ns, name string) {
	e.t.Helper()
	if err := k8s.WaitRolledOut(ctx, e.info.Kubeconfig, ns, name, 45*time.Second); err != nil {
		e.t.Fatal(err)
	}
}

func (e *kenv) get(ctx context.Context, ns, name string) *appsv1.Deployment {
	e.t.Helper()
	d, err := e.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitFor polls cond until it holds or limit passes.
func (e *kenv) waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			e.t.Fatalf("%s: not within %s: %s", what, limit, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPods waits until the deployment's pods are exactly n, all running
// image and none of them on the way out.
func (e *kenv) waitPods(ctx context.Context, ns, name, image string, n int) []corev1.Pod {
	e.t.Helper()
	var pods []corev1.Pod
	e.waitFor(ctx, 30*time.Second, fmt.Sprintf("%d pods of %s/%s on %s", n, ns, name, image), func() (bool, string) {
		list, err := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		ok := len(list.Items) == n
		for _, p := range list.Items {
			img := p.Spec.Containers[0].Image
			seen = append(seen, p.Name+"="+img)
			if img != image || p.DeletionTimestamp != nil {
				ok = false
			}
		}
		pods = list.Items
		return ok, strings.Join(seen, ", ")
	})
	return pods
}

func (e *kenv) replicaSets(ctx context.Context, ns string) []appsv1.ReplicaSet {
	e.t.Helper()
	list, err := e.cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// kubectl is the sandbox's own build, the same version as the control
// plane, in preference to whatever the system has.
func (e *kenv) kubectl(ctx context.Context) string {
	e.t.Helper()
	if bins, err := k8s.EnsureBinaries(ctx, k8s.Options{}); err == nil {
		if _, err := os.Stat(bins.Kubectl); err == nil {
			return bins.Kubectl
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		e.t.Fatal("no kubectl: neither the sandbox's binary cache nor PATH has one")
	}
	return p
}

func targetResults(t *testing.T, res actions.Result) []actions.KubeTargetResult {
	t.Helper()
	var per []actions.KubeTargetResult
	if err := json.Unmarshal(res.Detail, &per); err != nil {
		t.Fatalf("Detail is not the per-deployment results: %v\n%s", err, res.Detail)
	}
	return per
}

func parallel(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Go(f)
	}
	wg.Wait()
}

// TestPauseResumeScale: a paused deployment does not roll out a new image
// until resumed; scaling changes the pod count.
func TestPauseResumeScale(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "kube-ops")
	e.deploy(ctx, ns, "api", tagA)
	target := []actions.KubeTarget{{Namespace: ns, Name: "api"}}

	pause := &actions.Kube{Verb: actions.KubePause, Client: e.cs, Targets: target}
	p, err := pause.Preview(ctx)
	if err != nil || !strings.Contains(p.Lines[0], "pause the rollout at revision 1") {
		t.Fatalf("Pause preview %q: %v", p.Lines, err)
	}
	if res, err := pause.Run(ctx); err != nil || !res.OK || res.Summary != "paused 1/1: api" {
		t.Fatalf("Pause: %v %q", err, res.Summary)
	}
	if !e.get(ctx, ns, "api").Spec.Paused {
		t.Fatal("not paused")
	}
	if res, err := pause.Run(ctx); err != nil || !res.OK || res.Summary != "paused 1/1: api already paused" {
		t.Errorf("pausing again: %v %q", err, res.Summary)
	}
	e.setImage(ctx, ns, "api", tagB)
	// The controller syncs a paused deployment too, only without making a
	// ReplicaSet for its new template: once it has observed the new
	// generation, a ReplicaSet it was going to make would be there.
	gen := e.get(ctx, ns, "api").Generation
	e.waitFor(ctx, 30*time.Second, "the controller to observe the new image", func() (bool, string) {
		d := e.get(ctx, ns, "api")
		return d.Status.ObservedGeneration >= gen, fmt.Sprintf("observed generation %d of %d", d.Status.ObservedGeneration, gen)
	})
	if n := len(e.replicaSets(ctx, ns)); n != 1 {
		t.Fatalf("a paused deployment rolled out: %d ReplicaSets", n)
	}

	resume := &actions.Kube{Verb: actions.KubeResume, Client: e.cs, Targets: target}
	if res, err := resume.Run(ctx); err != nil || !res.OK {
		t.Fatalf("Resume: %v %+v", err, res)
	}
	if e.get(ctx, ns, "api").Spec.Paused {
		t.Fatal("still paused")
	}
	e.waitRolledOut(ctx, ns, "api")
	e.waitPods(ctx, ns, "api", k8s.Image(tagB), 3)

	scale := &actions.Kube{Verb: actions.KubeScale, Client: e.cs, Targets: target, Replicas: 1}
	p, err = scale.Preview(ctx)
	if err != nil || p.Lines[0] != ns+"/api: replicas 3 → 1" {
		t.Fatalf("Scale preview %q: %v", p.Lines, err)
	}
	res, err := scale.Run(ctx)
	if err != nil || !res.OK || res.Summary != "scaled 1/1: api 3→1" {
		t.Fatalf("Scale: %v %q", err, res.Summary)
	}
	if r := e.get(ctx, ns, "api").Spec.Replicas; r == nil || *r != 1 {
		t.Fatalf("replicas %v after scaling to 1", r)
	}
	e.waitPods(ctx, ns, "api", k8s.Image(tagB), 1)
}

// TestRestart replaces every pod with a new one of the same image.
func TestRestart(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "kube-restart")
	e.deploy(ctx, ns, "api", tagA)
	old := map[string]bool{}
	for _, p := range e.waitPods(ctx, ns, "api", k8s.Image(tagA), 3) {
		old[p.Name] = true
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	target := []actions.KubeTarget{{Namespace: ns, Name: "api"}}
	restart := &actions.Kube{Verb: actions.KubeRestart, Client: e.cs, Targets: target, Now: func() time.Time { return at }}
	res, err := restart.Run(ctx)
	if err != nil || !res.OK {
		t.Fatalf("Restart: %v %+v", err, res)
	}
	if got := e.get(ctx, ns, "api").Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; got != at.Format(time.RFC3339) {
		t.Fatalf("restartedAt %q", got)
	}
	e.waitRolledOut(ctx, ns, "api")
	for _, p := range e.waitPods(ctx, ns, "api", k8s.Image(tagA), 3) {
		if old[p.Name] {
			t.Errorf("pod %s survived the restart", p.Name)
		}
	}

	if _, err := (&actions.Kube{Verb: actions.KubePause, Client: e.cs, Targets: target}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = restart.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "resume it first") {
		t.Errorf("restarting a paused deployment: %v", err)
	}
	var apiErr apierrors.APIStatus
	if errors.As(err, &apiErr) {
		t.Errorf("a refusal of ours should not look like the API server's: %v", err)
	}
}
