package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// kubeRollbackKept are the annotations a rollback keeps from the Deployment
// rather than copying from the ReplicaSet, as kubectl does: they describe
// the Deployment's own bookkeeping, not the revision being restored.
var kubeRollbackKept = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	kubeRevisionAnnotation:                      true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
}

// Rollback returns deployments to an earlier revision, as
// `kubectl rollout undo` does, all at once.
//
// It differs from kubectl in three ways, each on purpose. A paused
// deployment is resumed in the same patch instead of refused: in an incident
// the operator wants the old pods back, not a lecture. When the current
// template has no ReplicaSet yet (paused, or the controller has not caught
// up with a fresh change) the previous revision is the newest ReplicaSet,
// the one still running, where kubectl would skip back one more. And once
// a Preview (or a Run) has resolved a target, later Runs of the same action
// go to that image: when someone else rolled back in between, or a retry
// follows a partial failure, the deployments already back report "already
// at revision N" instead of the undo being undone.
type Rollback struct {
	Client  kubernetes.Interface
	Clients map[string]kubernetes.Interface // by cluster, for targets that name one
	Targets []KubeTarget
	StepID  string // runbook step, may be ""

	mu     sync.Mutex
	pinned map[string]string // target → the image it was resolved to
}

// Kind implements Action.
func (r *Rollback) Kind() string { return KindKubeRollback }

// Step implements Action.
func (r *Rollback) Step() string { return r.StepID }

// Dangerous implements Action.
func (r *Rollback) Dangerous() bool { return true }

// Preview implements Action. Each target's patch goes to the API server as
// a dry run, so admission, validation and RBAC are checked without change.
func (r *Rollback) Preview(ctx context.Context) (Preview, error) {
	return r.op(true).preview(ctx)
}

// Run implements Action. The target ReplicaSet is resolved again from what
// the cluster says now; every deployment is patched concurrently.
func (r *Rollback) Run(ctx context.Context) (Result, error) {
	return r.op(false).run(ctx)
}

func (r *Rollback) op(previewing bool) kubeOp {
	return kubeOp{
		verb: "Roll back", past: "rolled back", client: r.Client, clients: r.Clients, targets: r.Targets,
		plan: func(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, t KubeTarget) (kubeChange, error) {
			ch, err := r.plan(ctx, c, d, t, previewing)
			if err == nil && (previewing || r.pinnedImage(t) == "") {
				r.pin(t, ch.res.ToImage)
			}
			return ch, err
		},
		item: func(res KubeTargetResult) string {
			s := res.label() + " " + kubeImageChange(res.FromImage, res.ToImage, "→")
			if res.Unchanged != "" {
				s = res.label() + " " + res.Unchanged
			}
			if res.Resumed {
				s += " (resumed)"
			}
			return s
		},
	}
}

func (r *Rollback) pin(t KubeTarget, image string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pinned == nil {
		r.pinned = map[string]string{}
	}
	r.pinned[t.String()] = image
}

func (r *Rollback) pinnedImage(t KubeTarget) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pinned[t.String()]
}

func (r *Rollback) plan(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, t KubeTarget, previewing bool) (kubeChange, error) {
	rss, err := kubeOwnedReplicaSets(ctx, c, d)
	if err != nil {
		return kubeChange{}, err
	}
	toImage := t.ToImage
	pinned := ""
	if !previewing && t.ToRevision == 0 {
		pinned = r.pinnedImage(t)
		if toImage == "" {
			toImage = pinned
		}
	}
	rs, err := TargetReplicaSet(d, rss, t.ToRevision, toImage)
	if err != nil {
		return kubeChange{}, err
	}
	from, to := kubeCurrentRevision(d, rss), kubeRevision(rs)
	res := KubeTargetResult{
		Namespace: d.Namespace, Name: d.Name,
		FromImage: kubeImage(d.Spec.Template), ToImage: kubeImage(rs.Spec.Template),
		FromRevision: from, ToRevision: to,
	}
	if pinned != "" && res.ToImage != pinned {
		return kubeChange{}, kubeRefuse("changed since the preview", fmt.Sprintf("changed since the preview: the rollback would now go to %s (revision %d), not %s as previewed; preview again", res.ToImage, to, pinned))
	}
	if kubeSameTemplate(&rs.Spec.Template, &d.Spec.Template) {
		res.Unchanged = fmt.Sprintf("already at revision %d", to)
		line := fmt.Sprintf("already at revision %d (%s), nothing to roll back", to, res.ToImage)
		if !d.Spec.Paused {
			return kubeChange{line: line, res: res}, nil
		}
		// Paused on the very template we want: resuming alone finishes
		// the way back.
		res.Resumed = true
		patch, err := json.Marshal([]kubeJSONPatchOp{{Op: "replace", Path: "/spec/paused", Value: false}})
		return kubeChange{patchType: types.JSONPatchType, patch: patch, line: line + "; paused: will be resumed", res: res}, err
	}
	patch, err := RollbackPatch(d, rs)
	if err != nil {
		return kubeChange{}, err
	}
	res.Resumed = d.Spec.Paused
	images := kubeImageChange(res.FromImage, res.ToImage, " → ")
	line := fmt.Sprintf("%s (revision %d → %d)", images, from, to)
	if from == 0 {
		line = fmt.Sprintf("%s (a template not yet rolled out → revision %d)", images, to)
	}
	if d.Spec.Paused {
		line += "; paused: will be resumed"
	}
	// A template never rolled out has no progress to speak of; its
	// status still describes the revision before it.
	if p := kubeProgress(d); p != "" && from != 0 {
		line += "; " + p
	}
	return kubeChange{patchType: types.JSONPatchType, patch: patch, line: line, res: res}, nil
}

type kubeJSONPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// RollbackPatch is the JSON patch that puts rs's pod template back into d,
// as `kubectl rollout undo` sends it: the template without its
// pod-template-hash label, and the ReplicaSet's annotations (its
// change-cause among them) except those that are the Deployment's own
// bookkeeping, which keep the Deployment's values. A paused Deployment is
// resumed by the same patch, so the rollback cannot sit waiting for a
// resume nobody remembers to do.
func RollbackPatch(d *appsv1.Deployment, rs *appsv1.ReplicaSet) ([]byte, error) {
	if d == nil || rs == nil {
		return nil, errors.New("rollback patch: no deployment or no replica set")
	}
	tmpl := rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	ann := map[string]string{}
	for k := range kubeRollbackKept {
		if v, ok := d.Annotations[k]; ok {
			ann[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !kubeRollbackKept[k] {
			ann[k] = v
		}
	}
	// "replace" needs the member to exist; a Deployment the controller has
	// never touched may have no annotations at all, and "add" then creates
	// them (on an existing member the two are the same).
	annOp := "replace"
	if d.Annotations == nil {
		annOp = "add"
	}
	ops := []kubeJSONPatchOp{
		{Op: "replace", Path: "/spec/template", Value: tmpl},
		{Op: annOp, Path: "/metadata/annotations", Value: ann},
	}
	if d.Spec.Paused {
		ops = append(ops, kubeJSONPatchOp{Op: "replace", Path: "/spec/paused", Value: false})
	}
	return json.Marshal(ops)
}

// TargetReplicaSet picks the ReplicaSet a rollback of d returns to, from
// d's ReplicaSets (others, by controller reference, are ignored when d has
// a UID). toRevision wins when its ReplicaSet exists; otherwise the newest
// ReplicaSet running toImage, if any; otherwise, for toRevision 0, the
// previous revision: the newest ReplicaSet whose template is not d's
// current one. That is kubectl's "second newest" once the controller has
// made a ReplicaSet for the current template, and the running revision
// while it has not.
func TargetReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, toRevision int64, toImage string) (*appsv1.ReplicaSet, error) {
	if d == nil {
		return nil, errors.New("no deployment")
	}
	if toRevision < 0 {
		return nil, fmt.Errorf("revision %d does not exist: revisions start at 1, and 0 means the previous one", toRevision)
	}
	type candidate struct {
		rs  *appsv1.ReplicaSet
		rev int64
	}
	var owned []candidate
	for _, rs := range rss {
		if rs == nil || (d.UID != "" && !metav1.IsControlledBy(rs, d)) {
			continue
		}
		// A ReplicaSet without a revision is not part of the history;
		// kubectl ignores it too.
		rev, err := strconv.ParseInt(rs.Annotations[kubeRevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		owned = append(owned, candidate{rs, rev})
	}
	newest := func(keep func(candidate) bool) *appsv1.ReplicaSet {
		var best *candidate
		for i := range owned {
			if keep(owned[i]) && (best == nil || owned[i].rev > best.rev) {
				best = &owned[i]
			}
		}
		if best == nil {
			return nil
		}
		return best.rs
	}
	if toRevision > 0 {
		if rs := newest(func(c candidate) bool { return c.rev == toRevision }); rs != nil {
			return rs, nil
		}
	}
	if toImage != "" {
		if rs := newest(func(c candidate) bool { return kubeImage(c.rs.Spec.Template) == toImage }); rs != nil {
			return rs, nil
		}
	}
	where := d.Namespace + "/" + d.Name
	if toRevision > 0 {
		msg := fmt.Sprintf("revision %d of deployment %s not found (revisionHistoryLimit may have pruned its ReplicaSet)", toRevision, where)
		if toImage != "" {
			msg += ", and no revision runs " + toImage
		}
		return nil, kubeRefuse("revision not found", msg+"; pick one from the rollout history")
	}
	rs := newest(func(c candidate) bool { return !kubeSameTemplate(&c.rs.Spec.Template, &d.Spec.Template) })
	if rs == nil {
		return nil, kubeRefuse("no history", fmt.Sprintf("no rollout history found for deployment %s: there is no earlier revision to return to", where))
	}
	return rs, nil
}

func kubeOwnedReplicaSets(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has an invalid selector: %w", d.Namespace, d.Name, err)
	}
	list, err := c.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], d) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// kubeSameTemplate compares pod templates as the deployment controller
// does, ignoring the hash label only ReplicaSets carry.
func kubeSameTemplate(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// kubeCurrentRevision is the revision of the ReplicaSet running d's
// template, or 0 when the controller has made none for it yet.
func kubeCurrentRevision(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) int64 {
	for _, rs := range rss {
		if kubeSameTemplate(&rs.Spec.Template, &d.Spec.Template) {
			return kubeRevision(rs)
		}
	}
	return 0
}

// kubeImageChange shows from → to by tag when both come from one
// repository, as they do in a rollback, so the line stays readable.
func kubeImageChange(from, to, arrow string) string {
	fr, ft := kubeSplitImage(from)
	tr, tt := kubeSplitImage(to)
	if fr == tr && ft != "" && tt != "" {
		return ft + arrow + tt
	}
	return from + arrow + to
}

// kubeSplitImage splits an image into repository and tag or digest.
func kubeSplitImage(img string) (repo, ref string) {
	if at := strings.IndexByte(img, '@'); at >= 0 {
		ref = img[at+1:]
		if len(ref) > len("sha256:")+12 {
			ref = ref[:len("sha256:")+12]
		}
		return img[:at], ref
	}
	if c := strings.LastIndexByte(img, ':'); c > strings.LastIndexByte(img, '/') {
		return img[:c], img[c+1:]
	}
	return img, ""
}
