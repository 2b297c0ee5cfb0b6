package actions_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flightdeckhq/flightdeck/actions"
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
