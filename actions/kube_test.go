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
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

func TestRollbackPatch(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "production", Annotations: map[string]string{
			"deployment.kubernetes.io/revision":                "3",
			"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Deployment"}`,
			"kubernetes.io/change-cause":                       "set image app=registry.local/acme/app:release-bad1",
			"team":                                             "payments",
		}},
		Spec: appsv1.DeploymentSpec{Template: podTemplate("app", "registry.local/acme/app:release-bad1", nil)},
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "api-5d8f", Annotations: map[string]string{
			"deployment.kubernetes.io/revision":         "1",
			"deployment.kubernetes.io/revision-history": "0",
			"deployment.kubernetes.io/desired-replicas": "6",
			"deployment.kubernetes.io/max-replicas":     "8",
			"kubernetes.io/change-cause":                "initial release release-4f2a9c1",
			"owner":                                     "sre",
		}},
		Spec: appsv1.ReplicaSetSpec{Template: podTemplate("app", "registry.local/acme/app:release-4f2a9c1",
			map[string]string{"pod-template-hash": "5d8f"})},
	}

	ops := decodePatch(t, d, rs)
	if len(ops) != 2 {
		t.Fatalf("got %d ops, want template and annotations only: %+v", len(ops), ops)
	}
	if ops[0].Op != "replace" || ops[0].Path != "/spec/template" {
		t.Fatalf("op 0 = %s %s, want replace /spec/template", ops[0].Op, ops[0].Path)
	}
	var tmpl corev1.PodTemplateSpec
	if err := json.Unmarshal(ops[0].Value, &tmpl); err != nil {
		t.Fatal(err)
	}
	if _, ok := tmpl.Labels["pod-template-hash"]; ok {
		t.Errorf("template keeps the pod-template-hash label: %v", tmpl.Labels)
	}
	if tmpl.Labels["app"] != "api" || tmpl.Spec.Containers[0].Image != "registry.local/acme/app:release-4f2a9c1" {
		t.Errorf("template is not the ReplicaSet's: labels %v, image %s", tmpl.Labels, tmpl.Spec.Containers[0].Image)
	}
	if rs.Spec.Template.Labels["pod-template-hash"] != "5d8f" {
		t.Error("RollbackPatch changed the ReplicaSet it was given")
	}

	if ops[1].Op != "replace" || ops[1].Path != "/metadata/annotations" {
		t.Fatalf("op 1 = %s %s, want replace /metadata/annotations", ops[1].Op, ops[1].Path)
	}
	var ann map[string]string
	if err := json.Unmarshal(ops[1].Value, &ann); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		// The Deployment's own bookkeeping stays the Deployment's…
		"deployment.kubernetes.io/revision":                "3",
		"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Deployment"}`,
		// …everything else comes from the revision being restored, and
		// what only the Deployment had is gone, as with kubectl.
		"kubernetes.io/change-cause": "initial release release-4f2a9c1",
		"owner":                      "sre",
	}
	if !reflect.DeepEqual(ann, want) {
		t.Errorf("annotations\n got %v\nwant %v", ann, want)
	}

	d.Spec.Paused = true
	ops = decodePatch(t, d, rs)
	if len(ops) != 3 || ops[2].Op != "replace" || ops[2].Path != "/spec/paused" || string(ops[2].Value) != "false" {
		t.Errorf("paused deployment: want a third op replacing /spec/paused with false, got %+v", ops)
	}

	d.Spec.Paused = false
	d.Annotations = nil
	ops = decodePatch(t, d, rs)
	if ops[1].Op != "add" {
		t.Errorf("a deployment without annotations needs add, not %s (replace of a missing member fails)", ops[1].Op)
	}
	if _, err := actions.RollbackPatch(d, nil); err == nil {
		t.Error("RollbackPatch with no ReplicaSet: want an error")
	}
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

func decodePatch(t *testing.T, d *appsv1.Deployment, rs *appsv1.ReplicaSet) []patchOp {
	t.Helper()
	b, err := actions.RollbackPatch(d, rs)
	if err != nil {
		t.Fatal(err)
	}
	var ops []patchOp
	if err := json.Unmarshal(b, &ops); err != nil {
		t.Fatalf("patch is not a JSON patch: %v\n%s", err, b)
	}
	return ops
}

func podTemplate(container, image string, extra map[string]string) corev1.PodTemplateSpec {
	labels := map[string]string{"app": "api"}
	for k, v := range extra {
		labels[k] = v
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: container, Image: image}}},
	}
}

func TestTargetReplicaSet(t *testing.T) {
	img := func(tag string) string { return "registry.local/acme/app:" + tag }
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "production", UID: "d-uid"}}
	mkRS := func(name string, rev int, tag string, owner types.UID) *appsv1.ReplicaSet {
		yes := true
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
			Spec:       appsv1.ReplicaSetSpec{Template: podTemplate("app", img(tag), map[string]string{"pod-template-hash": name})},
		}
		if rev > 0 {
			rs.Annotations["deployment.kubernetes.io/revision"] = fmt.Sprint(rev)
		}
		if owner != "" {
			rs.OwnerReferences = []metav1.OwnerReference{{Kind: "Deployment", Name: "api", UID: owner, Controller: &yes}}
		}
		return rs
	}
	rss := []*appsv1.ReplicaSet{
		mkRS("r1", 1, "one", "d-uid"),
		mkRS("r2", 2, "two", "d-uid"),
		mkRS("r4", 4, "three", "d-uid"),
		mkRS("r5", 5, "bad1", "d-uid"),
		mkRS("x9", 9, "other", "other-uid"), // another deployment's
		mkRS("nr", 0, "norev", "d-uid"),     // no revision: not history
	}
	cases := []struct {
		name     string
		current  string // the deployment's template tag
		rev      int64
		image    string
		want     string
		wantErr  string
		fromList []*appsv1.ReplicaSet
	}{
		{name: "previous of the newest", current: "bad1", want: "r4"},
		{name: "previous while the controller has not made the new ReplicaSet", current: "bad2", want: "r5"},
		{name: "previous when the template went back to an old one", current: "two", want: "r5"},
		{name: "explicit revision", current: "bad1", rev: 2, want: "r2"},
		{name: "explicit revision wins over image", current: "bad1", rev: 1, image: img("two"), want: "r1"},
		{name: "image when the revision is gone", current: "bad1", rev: 3, image: img("two"), want: "r2"},
		{name: "image instead of previous", current: "bad1", image: img("one"), want: "r1"},
		{name: "image not found falls back to previous", current: "bad1", image: img("zzz"), want: "r4"},
		{name: "image of the current revision", current: "bad1", image: img("bad1"), want: "r5"},
		{name: "revision gone", current: "bad1", rev: 3, wantErr: "revision 3 of deployment production/api not found"},
		{name: "other deployment's revision", current: "bad1", rev: 9, wantErr: "not found"},
		{name: "negative", current: "bad1", rev: -1, wantErr: "does not exist"},
		{name: "no history", current: "one", fromList: rss[:1], wantErr: "no rollout history"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dd := d.DeepCopy()
			dd.Spec.Template = podTemplate("app", img(c.current), nil)
			list := rss
			if c.fromList != nil {
				list = c.fromList
			}
			rs, err := actions.TargetReplicaSet(dd, list, c.rev, c.image)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rs.Name != c.want {
				t.Fatalf("picked %s, want %s", rs.Name, c.want)
			}
		})
	}
}

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
	if _, err := (&actions.Scale{Client: &kubernetes.Clientset{}, Targets: targets, Replicas: -1}).Preview(ctx); err == nil {
		t.Error("Scale to -1: want an error")
	}
	for _, a := range []actions.Action{&actions.Rollback{}, &actions.Pause{}, &actions.Resume{}, &actions.Restart{}, &actions.Scale{}} {
		if !a.Dangerous() || !strings.HasPrefix(a.Kind(), "kube.") {
			t.Errorf("%T: kind %q, dangerous %v", a, a.Kind(), a.Dangerous())
		}
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

// TestRollbackLikeKubectlUndo rolls back one deployment with the action and
// its twin, with the same history, with `kubectl rollout undo`: the two
// must end the same.
func TestRollbackLikeKubectlUndo(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(2 * time.Minute)
	ours, twin := e.namespace(ctx, "rb"), e.namespace(ctx, "rb-twin")
	history := func(ns string) func() {
		return func() {
			e.deploy(ctx, ns, "api", tagA)
			e.setImage(ctx, ns, "api", tagB)
			e.waitRolledOut(ctx, ns, "api")
		}
	}
	parallel(history(ours), history(twin))
	if t.Failed() {
		t.FailNow()
	}

	rb := &actions.Rollback{Client: e.cs, Targets: []actions.KubeTarget{{Namespace: ours, Name: "api"}}, StepID: "rollback"}
	before := e.get(ctx, ours, "api")
	p, err := rb.Preview(ctx)
	if err != nil {
		t.Fatalf("Preview: %v", err)
	}
	want := fmt.Sprintf("%s/api: %s → %s (revision 2 → 1)", ours, tagB, tagA)
	if len(p.Lines) != 1 || p.Lines[0] != want {
		t.Fatalf("preview lines %q, want [%q]", p.Lines, want)
	}
	after := e.get(ctx, ours, "api")
	if after.ResourceVersion != before.ResourceVersion || after.Generation != before.Generation {
		t.Fatalf("Preview changed the deployment: resourceVersion %s → %s, generation %d → %d",
			before.ResourceVersion, after.ResourceVersion, before.Generation, after.Generation)
	}

	res, err := rb.Run(ctx)
	if err != nil || !res.OK {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	wantSummary := fmt.Sprintf("rolled back 1/1: api %s→%s", tagB, tagA)
	if res.Summary != wantSummary {
		t.Errorf("summary %q, want %q", res.Summary, wantSummary)
	}
	per := targetResults(t, res)
	if len(per) != 1 || !per[0].OK || per[0].FromImage != k8s.Image(tagB) || per[0].ToImage != k8s.Image(tagA) ||
		per[0].FromRevision != 2 || per[0].ToRevision != 1 || per[0].Resumed || per[0].Namespace != ours || per[0].Name != "api" {
		t.Errorf("result entry %+v", per)
	}

	out, err := exec.CommandContext(ctx, e.kubectl(ctx), "--kubeconfig", e.info.Kubeconfig, "-n", twin,
		"rollout", "undo", "deployment/api").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl rollout undo: %v\n%s", err, out)
	}

	parallel(func() { e.waitRolledOut(ctx, ours, "api") }, func() { e.waitRolledOut(ctx, twin, "api") })
	e.waitPods(ctx, ours, "api", k8s.Image(tagA), 3)

	got, ref := e.get(ctx, ours, "api"), e.get(ctx, twin, "api")
	if !apiequality.Semantic.DeepEqual(got.Spec, ref.Spec) {
		g, _ := json.MarshalIndent(got.Spec, "", "  ")
		r, _ := json.MarshalIndent(ref.Spec, "", "  ")
		t.Errorf("spec differs from kubectl's rollback\nours:\n%s\nkubectl:\n%s", g, r)
	}
	ga, ra := withoutRevision(got.Annotations), withoutRevision(ref.Annotations)
	if !reflect.DeepEqual(ga, ra) {
		t.Errorf("annotations differ from kubectl's rollback\nours    %v\nkubectl %v", ga, ra)
	}
	if c := got.Annotations[k8s.ChangeCauseAnnotation]; c != "initial release "+tagA {
		t.Errorf("change-cause %q: want the restored revision's", c)
	}

	// Asked for the revision it now is: nothing to do, and that is success.
	rev := got.Annotations["deployment.kubernetes.io/revision"]
	n, err := strconv.ParseInt(rev, 10, 64)
	if err != nil {
		t.Fatalf("revision annotation %q: %v", rev, err)
	}
	again := &actions.Rollback{Client: e.cs, Targets: []actions.KubeTarget{{Namespace: ours, Name: "api", ToRevision: n}}}
	res, err = again.Run(ctx)
	if err != nil || !res.OK || !strings.Contains(res.Summary, "already at revision "+rev) {
		t.Errorf("rollback to the current revision: %v, %q", err, res.Summary)
	}
}

func withoutRevision(a map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if k != "deployment.kubernetes.io/revision" && k != "deployment.kubernetes.io/revision-history" {
			out[k] = v
		}
	}
	return out
}

// TestRollbackMidRollout rolls back while a crash-looping release is still
// rolling out, before the controller has given up on it.
func TestRollbackMidRollout(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "rb-mid")
	e.deploy(ctx, ns, "api", tagA)
	e.setImage(ctx, ns, "api", tagBad)

	rb := &actions.Rollback{Client: e.cs, Targets: []actions.KubeTarget{{Namespace: ns, Name: "api"}}}
	res, err := rb.Run(ctx)
	if err != nil || !res.OK {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	per := targetResults(t, res)
	if per[0].FromImage != k8s.Image(tagBad) || per[0].ToImage != k8s.Image(tagA) || per[0].ToRevision != 1 {
		t.Errorf("result entry %+v", per[0])
	}
	e.waitRolledOut(ctx, ns, "api")
	e.waitPods(ctx, ns, "api", k8s.Image(tagA), 3)
}

// TestRollbackAfterSomeoneElse: between the preview and the confirmation
// someone else undid the bad release. Resolving "the previous revision"
// afresh would now mean the bad one; the action keeps to what was
// previewed and reports it done.
func TestRollbackAfterSomeoneElse(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "rb-race")
	e.deploy(ctx, ns, "api", tagA)
	e.setImage(ctx, ns, "api", tagBad)
	e.waitFor(ctx, 15*time.Second, "the bad release's ReplicaSet", func() (bool, string) {
		n := len(e.replicaSets(ctx, ns))
		return n == 2, fmt.Sprintf("%d ReplicaSets", n)
	})
	rb := &actions.Rollback{Client: e.cs, Targets: []actions.KubeTarget{{Namespace: ns, Name: "api"}}}
	p, err := rb.Preview(ctx)
	if err != nil || !strings.Contains(p.Lines[0], tagBad+" → "+tagA+" (revision 2 → 1)") {
		t.Fatalf("preview %q: %v", p.Lines, err)
	}

	out, err := exec.CommandContext(ctx, e.kubectl(ctx), "--kubeconfig", e.info.Kubeconfig, "-n", ns,
		"rollout", "undo", "deployment/api").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl rollout undo: %v\n%s", err, out)
	}
	e.waitFor(ctx, 15*time.Second, "the controller to renumber the restored revision", func() (bool, string) {
		rev := e.get(ctx, ns, "api").Annotations["deployment.kubernetes.io/revision"]
		return rev == "3", "revision " + rev
	})
	before := e.get(ctx, ns, "api")

	res, err := rb.Run(ctx)
	if err != nil || !res.OK || res.Summary != "rolled back 1/1: api already at revision 3" {
		t.Fatalf("Run after someone else rolled back: %v, %q", err, res.Summary)
	}
	after := e.get(ctx, ns, "api")
	if img := after.Spec.Template.Spec.Containers[0].Image; img != k8s.Image(tagA) || after.Generation != before.Generation {
		t.Fatalf("the second rollback changed the deployment: image %s, generation %d → %d", img, before.Generation, after.Generation)
	}
}

// TestRollbackPausedDeployment: paused after a good release, then given a
// new image that never rolled out; the rollback goes back to what is
// running and resumes.
func TestRollbackPausedDeployment(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "rb-paused")
	e.deploy(ctx, ns, "api", tagA)
	e.setImage(ctx, ns, "api", tagB)
	e.waitRolledOut(ctx, ns, "api")
	target := []actions.KubeTarget{{Namespace: ns, Name: "api"}}
	if _, err := (&actions.Pause{Client: e.cs, Targets: target}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	e.setImage(ctx, ns, "api", tagC)

	rb := &actions.Rollback{Client: e.cs, Targets: target}
	p, err := rb.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s/api: %s → %s (a template not yet rolled out → revision 2); paused: will be resumed", ns, tagC, tagB)
	if len(p.Lines) != 1 || p.Lines[0] != want {
		t.Fatalf("preview %q, want [%q]", p.Lines, want)
	}
	res, err := rb.Run(ctx)
	if err != nil || !res.OK {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	if per := targetResults(t, res); !per[0].Resumed {
		t.Errorf("result entry does not say resumed: %+v", per[0])
	}
	if d := e.get(ctx, ns, "api"); d.Spec.Paused {
		t.Fatal("still paused after the rollback")
	}
	e.waitRolledOut(ctx, ns, "api")
	e.waitPods(ctx, ns, "api", k8s.Image(tagB), 3)
}

// TestRollbackPausedMidRollout: paused half-way through a release; the
// rollback returns to the previous release and resumes.
func TestRollbackPausedMidRollout(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "rb-pmid")
	e.deploy(ctx, ns, "api", tagA)
	e.setImage(ctx, ns, "api", tagB)
	e.waitFor(ctx, 30*time.Second, "a first pod of the new release", func() (bool, string) {
		d := e.get(ctx, ns, "api")
		return d.Status.UpdatedReplicas >= 1, fmt.Sprintf("%d updated", d.Status.UpdatedReplicas)
	})
	target := []actions.KubeTarget{{Namespace: ns, Name: "api"}}
	if _, err := (&actions.Pause{Client: e.cs, Targets: target}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	rb := &actions.Rollback{Client: e.cs, Targets: target}
	p, err := rb.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Lines[0], fmt.Sprintf("%s → %s (revision 2 → 1); paused: will be resumed", tagB, tagA)) {
		t.Errorf("preview %q", p.Lines)
	}
	res, err := rb.Run(ctx)
	if err != nil || !res.OK {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	if d := e.get(ctx, ns, "api"); d.Spec.Paused || d.Spec.Template.Spec.Containers[0].Image != k8s.Image(tagA) {
		t.Fatalf("after the rollback: paused %v, image %s", d.Spec.Paused, d.Spec.Template.Spec.Containers[0].Image)
	}
	e.waitRolledOut(ctx, ns, "api")
	e.waitPods(ctx, ns, "api", k8s.Image(tagA), 3)
}

// TestRollbackManyTargets rolls back three deployments at once, with a
// fourth that does not exist among them.
func TestRollbackManyTargets(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(2 * time.Minute)
	ns := e.namespace(ctx, "rb-many")
	names := []string{"api", "worker", "web"}
	var fns []func()
	for _, n := range names {
		fns = append(fns, func() {
			e.deploy(ctx, ns, n, tagA)
			e.setImage(ctx, ns, n, tagB)
			e.waitRolledOut(ctx, ns, n)
		})
	}
	parallel(fns...)
	if t.Failed() {
		t.FailNow()
	}
	targets := []actions.KubeTarget{{Namespace: ns, Name: "api"}, {Namespace: ns, Name: "worker"},
		{Namespace: ns, Name: "ghost"}, {Namespace: ns, Name: "web"}}
	rb := &actions.Rollback{Client: e.cs, Targets: targets}

	p, err := rb.Preview(ctx)
	if err != nil {
		t.Fatalf("Preview with one missing target of four: %v", err)
	}
	t.Logf("preview: %s\n%s", p.Title, strings.Join(p.Lines, "\n"))
	if len(p.Lines) != 4 || !strings.Contains(p.Lines[2], "ghost: problem: deployment ghost not found") {
		t.Errorf("preview %q", p.Lines)
	}

	start := time.Now()
	res, err := rb.Run(ctx)
	wall := time.Since(start)
	if err == nil || res.OK {
		t.Fatalf("Run with a missing target: err %v, ok %v", err, res.OK)
	}
	t.Logf("summary: %s\nerror: %v\ndetail: %s", res.Summary, err, res.Detail)
	if !strings.Contains(err.Error(), ns+"/ghost: deployment ghost not found") || !apierrors.IsNotFound(err) {
		t.Errorf("error does not name the missing deployment (or lost the API error): %v", err)
	}
	for _, n := range []string{"api", "worker", "web"} {
		if strings.Contains(err.Error(), ns+"/"+n) {
			t.Errorf("error names %s, which succeeded: %v", n, err)
		}
	}
	want := fmt.Sprintf("rolled back 3/4: api %s→%s, worker %s→%s, web %s→%s; failed: ghost (not found)", tagB, tagA, tagB, tagA, tagB, tagA)
	if res.Summary != want {
		t.Errorf("summary\n got %q\nwant %q", res.Summary, want)
	}
	per := targetResults(t, res)
	if len(per) != 4 {
		t.Fatalf("%d result entries for 4 targets", len(per))
	}
	var slowest int64
	for i, r := range per {
		if r.Name != targets[i].Name {
			t.Errorf("entry %d is %s, want %s: entries follow the targets", i, r.Name, targets[i].Name)
		}
		if r.Name == "ghost" {
			if r.OK || r.Error == "" {
				t.Errorf("ghost: %+v", r)
			}
			continue
		}
		if !r.OK || r.ToImage != k8s.Image(tagA) {
			t.Errorf("%s: %+v", r.Name, r)
		}
		slowest = max(slowest, r.TookMS)
	}
	t.Logf("from Run start to all PATCH responses for 3 deployments: %d ms (Run returned after %s)", slowest, wall.Round(time.Millisecond))

	// A retry of the same action, say once the missing deployment is
	// sorted out, must not take the others a further revision back.
	res, err = rb.Run(ctx)
	if err == nil || !strings.Contains(res.Summary, "rolled back 3/4: api already at revision") {
		t.Errorf("retry: %q, %v", res.Summary, err)
	}
	for _, r := range targetResults(t, res) {
		if r.Name != "ghost" && (r.Unchanged == "" || r.ToImage != k8s.Image(tagA)) {
			t.Errorf("retry moved %s: %+v", r.Name, r)
		}
	}
	for _, n := range names {
		e.waitRolledOut(ctx, ns, n)
		e.waitPods(ctx, ns, n, k8s.Image(tagA), 3)
	}
}

// TestRollbackForbidden runs the rollback as a service account that may
// only read deployments.
func TestRollbackForbidden(t *testing.T) {
	t.Parallel()
	e := newKenv(t)
	ctx := e.ctx(90 * time.Second)
	ns := e.namespace(ctx, "rb-rbac")
	e.deploy(ctx, ns, "api", tagA)
	e.setImage(ctx, ns, "api", tagB)
	e.waitFor(ctx, 15*time.Second, "the new release's ReplicaSet", func() (bool, string) {
		n := len(e.replicaSets(ctx, ns))
		return n == 2, fmt.Sprintf("%d ReplicaSets", n)
	})

	viewer := e.viewer(ctx, ns)
	before := e.get(ctx, ns, "api")
	rb := &actions.Rollback{Client: viewer, Targets: []actions.KubeTarget{{Namespace: ns, Name: "api"}}}
	forbidden := fmt.Sprintf("forbidden: system:serviceaccount:%s:viewer cannot patch deployments in %s", ns, ns)

	p, err := rb.Preview(ctx)
	if err == nil {
		t.Error("Preview: want an error when the only target cannot be patched")
	}
	if len(p.Lines) != 1 || !strings.Contains(p.Lines[0], "problem:") || !strings.Contains(p.Lines[0], forbidden) ||
		!strings.Contains(p.Lines[0], tagB+" → "+tagA) {
		t.Errorf("preview %q, want a problem line saying %q", p.Lines, forbidden)
	}

	res, err := rb.Run(ctx)
	if err == nil || res.OK {
		t.Fatalf("Run as a viewer succeeded: %+v", res)
	}
	t.Logf("summary: %s\nerror: %v", res.Summary, err)
	if !strings.Contains(err.Error(), ns+"/api: "+forbidden) || !apierrors.IsForbidden(err) {
		t.Errorf("error %q, want one naming %s/api and saying %q", err, ns, forbidden)
	}
	per := targetResults(t, res)
	if len(per) != 1 || per[0].OK || !strings.Contains(per[0].Error, forbidden) || per[0].ToImage != k8s.Image(tagA) {
		t.Errorf("result entry %+v", per)
	}
	after := e.get(ctx, ns, "api")
	if after.Generation != before.Generation || after.Spec.Template.Spec.Containers[0].Image != k8s.Image(tagB) || after.Spec.Paused {
		t.Errorf("the forbidden rollback changed the deployment: generation %d → %d, image %s",
			before.Generation, after.Generation, after.Spec.Template.Spec.Containers[0].Image)
	}
}

// viewer returns a client for a service account that may get, list and
// watch deployments and ReplicaSets in ns, and nothing else.
func (e *kenv) viewer(ctx context.Context, ns string) kubernetes.Interface {
	e.t.Helper()
	if _, err := e.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer"}}, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "deploy-viewer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"},
			Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := e.cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deploy-viewer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "viewer", Namespace: ns}},
	}
	if _, err := e.cs.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	expiry := int64(600)
	tok, err := e.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "viewer",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("TokenRequest: %v", err)
	}
	rc := rest.AnonymousClientConfig(e.rc)
	rc.BearerToken = tok.Status.Token
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	// RBAC reaches the authorizer through an informer: wait until the
	// binding is seen, so the test is about patching, not about reading.
	e.waitFor(ctx, 15*time.Second, "the viewer's read access", func() (bool, string) {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	return cs
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

	pause := &actions.Pause{Client: e.cs, Targets: target}
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
	time.Sleep(2 * time.Second)
	if n := len(e.replicaSets(ctx, ns)); n != 1 {
		t.Fatalf("a paused deployment rolled out: %d ReplicaSets", n)
	}

	resume := &actions.Resume{Client: e.cs, Targets: target}
	if res, err := resume.Run(ctx); err != nil || !res.OK {
		t.Fatalf("Resume: %v %+v", err, res)
	}
	if e.get(ctx, ns, "api").Spec.Paused {
		t.Fatal("still paused")
	}
	e.waitRolledOut(ctx, ns, "api")
	e.waitPods(ctx, ns, "api", k8s.Image(tagB), 3)

	scale := &actions.Scale{Client: e.cs, Targets: target, Replicas: 1}
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
	restart := &actions.Restart{Client: e.cs, Targets: target, Now: func() time.Time { return at }}
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

	if _, err := (&actions.Pause{Client: e.cs, Targets: target}).Run(ctx); err != nil {
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
