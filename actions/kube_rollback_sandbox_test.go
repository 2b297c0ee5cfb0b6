package actions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
)

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
	// The controller may still write the status after the rollout is
	// reported done, which moves resourceVersion; what a preview must never
	// touch is what a user wrote: the spec, its generation and annotations.
	after := e.get(ctx, ours, "api")
	if after.Generation != before.Generation || !apiequality.Semantic.DeepEqual(after.Spec, before.Spec) ||
		!reflect.DeepEqual(after.Annotations, before.Annotations) {
		t.Fatalf("Preview changed the deployment: generation %d → %d, annotations %v → %v",
			before.Generation, after.Generation, before.Annotations, after.Annotations)
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
	if _, err := (&actions.Kube{Verb: actions.KubePause, Client: e.cs, Targets: target}).Run(ctx); err != nil {
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
	if _, err := (&actions.Kube{Verb: actions.KubePause, Client: e.cs, Targets: target}).Run(ctx); err != nil {
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
