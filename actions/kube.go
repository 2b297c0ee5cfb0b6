package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Kinds of the Kubernetes actions, as the journal records them.
const (
	KindKubeRollback = "kube.rollback"
	KindKubePause    = "kube.pause"
	KindKubeResume   = "kube.resume"
	KindKubeRestart  = "kube.restart"
	KindKubeScale    = "kube.scale"
)

const (
	// kubeFieldManager is who `kubectl get -o yaml --show-managed-fields`
	// says changed a field, so the cluster itself shows the cockpit's hand.
	kubeFieldManager = "flightdeck"

	kubeRevisionAnnotation    = "deployment.kubernetes.io/revision"
	kubeRestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
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

// KubeTarget is one deployment an action applies to.
type KubeTarget struct {
	Namespace, Name string
	// For rollback: the revision to return to; 0 means the previous revision (as `kubectl rollout undo`).
	ToRevision int64
	// For rollback: alternatively the image the last-known-good template ran; used to find the ReplicaSet when ToRevision is 0 or its ReplicaSet is gone. Empty = ignore.
	ToImage string
}

func (t KubeTarget) String() string { return t.Namespace + "/" + t.Name }

// KubeTargetResult is what an action did to one deployment. Result.Detail
// holds one per target, in the order of the targets, whatever happened.
type KubeTargetResult struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	FromImage    string `json:"from_image,omitempty"`
	ToImage      string `json:"to_image,omitempty"`
	FromRevision int64  `json:"from_revision,omitempty"`
	ToRevision   int64  `json:"to_revision,omitempty"`
	Resumed      bool   `json:"resumed"`
	Paused       bool   `json:"paused,omitempty"`
	FromReplicas *int32 `json:"from_replicas,omitempty"`
	ToReplicas   *int32 `json:"to_replicas,omitempty"`
	RestartedAt  string `json:"restarted_at,omitempty"`
	// Unchanged says why the deployment needed no change, e.g. "already at
	// revision 3"; such a target counts as a success.
	Unchanged string `json:"unchanged,omitempty"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	// TookMS runs from the start of Run to this deployment's PATCH response
	// (or its failure): the largest one is how long the action took to land.
	TookMS int64 `json:"took_ms"`
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
		verb: "Roll back", past: "rolled back", client: r.Client, targets: r.Targets,
		plan: func(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, t KubeTarget) (kubeChange, error) {
			ch, err := r.plan(ctx, c, d, t, previewing)
			if err == nil && (previewing || r.pinnedImage(t) == "") {
				r.pin(t, ch.res.ToImage)
			}
			return ch, err
		},
		item: func(res KubeTargetResult) string {
			s := res.Name + " " + kubeImageChange(res.FromImage, res.ToImage, "→")
			if res.Unchanged != "" {
				s = res.Name + " " + res.Unchanged
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

// Pause stops deployments' rollouts where they stand.
type Pause struct {
	Client  kubernetes.Interface
	Targets []KubeTarget
	StepID  string
}

// Kind implements Action.
func (p *Pause) Kind() string { return KindKubePause }

// Step implements Action.
func (p *Pause) Step() string { return p.StepID }

// Dangerous implements Action.
func (p *Pause) Dangerous() bool { return true }

// Preview implements Action.
func (p *Pause) Preview(ctx context.Context) (Preview, error) { return p.op().preview(ctx) }

// Run implements Action.
func (p *Pause) Run(ctx context.Context) (Result, error) { return p.op().run(ctx) }

func (p *Pause) op() kubeOp {
	return kubeOp{
		verb: "Pause", past: "paused", client: p.Client, targets: p.Targets,
		plan: func(_ context.Context, _ kubernetes.Interface, d *appsv1.Deployment, _ KubeTarget) (kubeChange, error) {
			res := kubeBaseResult(d)
			if d.Spec.Paused {
				res.Unchanged = "already paused"
				return kubeChange{line: "already paused", res: res}, nil
			}
			res.Paused = true
			line := fmt.Sprintf("pause the rollout at revision %d (%s)", kubeRevision(d), res.FromImage)
			if pr := kubeProgress(d); pr != "" {
				line += "; " + pr
			}
			return kubeMergeChange(map[string]any{"spec": map[string]any{"paused": true}}, line, res)
		},
		item: kubeNameItem,
	}
}

// Resume lets paused deployments' rollouts go on.
type Resume struct {
	Client  kubernetes.Interface
	Targets []KubeTarget
	StepID  string
}

// Kind implements Action.
func (r *Resume) Kind() string { return KindKubeResume }

// Step implements Action.
func (r *Resume) Step() string { return r.StepID }

// Dangerous implements Action: a resumed rollout replaces pods.
func (r *Resume) Dangerous() bool { return true }

// Preview implements Action.
func (r *Resume) Preview(ctx context.Context) (Preview, error) { return r.op().preview(ctx) }

// Run implements Action.
func (r *Resume) Run(ctx context.Context) (Result, error) { return r.op().run(ctx) }

func (r *Resume) op() kubeOp {
	return kubeOp{
		verb: "Resume", past: "resumed", client: r.Client, targets: r.Targets,
		plan: func(_ context.Context, _ kubernetes.Interface, d *appsv1.Deployment, _ KubeTarget) (kubeChange, error) {
			res := kubeBaseResult(d)
			if !d.Spec.Paused {
				res.Unchanged = "not paused"
				return kubeChange{line: "not paused, nothing to resume", res: res}, nil
			}
			res.Resumed = true
			line := fmt.Sprintf("resume the rollout of %s", res.FromImage)
			return kubeMergeChange(map[string]any{"spec": map[string]any{"paused": false}}, line, res)
		},
		item: kubeNameItem,
	}
}

// Restart replaces every pod of deployments with a fresh one of the same
// template, as `kubectl rollout restart` does.
type Restart struct {
	Client  kubernetes.Interface
	Targets []KubeTarget
	StepID  string
	// Now stamps the restart; nil is time.Now.
	Now func() time.Time
}

// Kind implements Action.
func (r *Restart) Kind() string { return KindKubeRestart }

// Step implements Action.
func (r *Restart) Step() string { return r.StepID }

// Dangerous implements Action.
func (r *Restart) Dangerous() bool { return true }

// Preview implements Action.
func (r *Restart) Preview(ctx context.Context) (Preview, error) { return r.op().preview(ctx) }

// Run implements Action.
func (r *Restart) Run(ctx context.Context) (Result, error) { return r.op().run(ctx) }

func (r *Restart) op() kubeOp {
	return kubeOp{
		verb: "Restart", past: "restarted", client: r.Client, targets: r.Targets,
		plan: func(_ context.Context, _ kubernetes.Interface, d *appsv1.Deployment, _ KubeTarget) (kubeChange, error) {
			if d.Spec.Paused {
				// As kubectl: the new template would wait for a resume
				// nobody asked for.
				return kubeChange{}, kubeRefuse("paused", "paused: a restart would not roll out until resumed; resume it first")
			}
			now := time.Now
			if r.Now != nil {
				now = r.Now
			}
			res := kubeBaseResult(d)
			res.RestartedAt = now().Format(time.RFC3339)
			patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]string{kubeRestartedAtAnnotation: res.RestartedAt}},
			}}})
			line := fmt.Sprintf("replace all %d pods of %s, one step at a time", kubeReplicas(d), res.FromImage)
			return kubeChange{patchType: types.StrategicMergePatchType, patch: patch, line: line, res: res}, err
		},
		item: kubeNameItem,
	}
}

// Scale sets deployments' replica counts.
type Scale struct {
	Client   kubernetes.Interface
	Targets  []KubeTarget
	StepID   string
	Replicas int32
}

// Kind implements Action.
func (s *Scale) Kind() string { return KindKubeScale }

// Step implements Action.
func (s *Scale) Step() string { return s.StepID }

// Dangerous implements Action.
func (s *Scale) Dangerous() bool { return true }

// Preview implements Action.
func (s *Scale) Preview(ctx context.Context) (Preview, error) { return s.op().preview(ctx) }

// Run implements Action.
func (s *Scale) Run(ctx context.Context) (Result, error) { return s.op().run(ctx) }

func (s *Scale) op() kubeOp {
	return kubeOp{
		verb: "Scale", past: "scaled", client: s.Client, targets: s.Targets,
		check: func() error {
			if s.Replicas < 0 {
				return fmt.Errorf("cannot scale to %d replicas: the count must be 0 or more", s.Replicas)
			}
			return nil
		},
		plan: func(_ context.Context, _ kubernetes.Interface, d *appsv1.Deployment, _ KubeTarget) (kubeChange, error) {
			res := kubeBaseResult(d)
			from, to := kubeReplicas(d), s.Replicas
			res.FromReplicas, res.ToReplicas = &from, &to
			if from == to {
				res.Unchanged = fmt.Sprintf("already at %d replicas", to)
				return kubeChange{line: res.Unchanged, res: res}, nil
			}
			line := fmt.Sprintf("replicas %d → %d", from, to)
			if to == 0 {
				line += "; stops every pod"
			}
			return kubeMergeChange(map[string]any{"spec": map[string]any{"replicas": to}}, line, res)
		},
		item: func(res KubeTargetResult) string {
			if res.Unchanged != "" || res.FromReplicas == nil || res.ToReplicas == nil {
				return kubeNameItem(res)
			}
			return fmt.Sprintf("%s %d→%d", res.Name, *res.FromReplicas, *res.ToReplicas)
		},
	}
}

// kubeChange is what an action will do to one deployment, worked out from
// the deployment as it is now.
type kubeChange struct {
	patchType types.PatchType
	patch     []byte // nil: nothing to do
	line      string // the preview's words after "namespace/name: "
	res       KubeTargetResult
}

type kubePlanner func(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, t KubeTarget) (kubeChange, error)

// kubeOp is what the deployment actions share: resolve each target, dry-run
// or apply its patch, and account for every target whatever happens.
type kubeOp struct {
	verb, past string
	client     kubernetes.Interface
	targets    []KubeTarget
	check      func() error
	plan       kubePlanner
	item       func(KubeTargetResult) string // one success, for the summary
}

func (o kubeOp) validate() error {
	if o.client == nil {
		return errors.New("no Kubernetes client: check [kubernetes] in the config")
	}
	if len(o.targets) == 0 {
		return fmt.Errorf("no deployments to %s: name them in the runbook step", strings.ToLower(o.verb))
	}
	for _, t := range o.targets {
		if t.Namespace == "" || t.Name == "" {
			return fmt.Errorf("deployment %q: both namespace and name are needed", t.String())
		}
	}
	if o.check != nil {
		return o.check()
	}
	return nil
}

// resolve reads the deployment and works out its change. Errors are already
// in the words an operator reads.
func (o kubeOp) resolve(ctx context.Context, t KubeTarget) (kubeChange, error) {
	d, err := o.client.AppsV1().Deployments(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return kubeChange{}, kubeExplain(ctx, t, err)
	}
	ch, err := o.plan(ctx, o.client, d, t)
	if err != nil {
		return kubeChange{}, kubeExplain(ctx, t, err)
	}
	ch.res.Namespace, ch.res.Name = t.Namespace, t.Name
	return ch, nil
}

func (o kubeOp) title() string {
	names := make([]string, len(o.targets))
	for i, t := range o.targets {
		names[i] = t.String()
	}
	return o.verb + " " + strings.Join(names, ", ")
}

func (o kubeOp) preview(ctx context.Context) (Preview, error) {
	p := Preview{Title: o.title()}
	if err := o.validate(); err != nil {
		return p, err
	}
	lines := make([]string, len(o.targets))
	errs := make([]error, len(o.targets))
	var wg sync.WaitGroup
	for i, t := range o.targets {
		wg.Go(func() {
			ch, err := o.resolve(ctx, t)
			if err == nil && ch.patch != nil {
				_, err = o.client.AppsV1().Deployments(t.Namespace).Patch(ctx, t.Name, ch.patchType, ch.patch,
					metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: kubeFieldManager})
				if err != nil {
					err = kubeExplain(ctx, t, err)
					err = &kubeTargetError{target: t, msg: ch.line + "; the server's dry run refused it: " + err.Error(), short: kubeShort(err), err: err}
				}
			}
			if err != nil {
				lines[i], errs[i] = t.String()+": problem: "+err.Error(), err
				return
			}
			lines[i] = t.String() + ": " + ch.line
		})
	}
	wg.Wait()
	p.Lines = lines
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		p.Title += fmt.Sprintf(" (%d of %d with problems)", len(failed), len(o.targets))
	}
	if len(failed) == len(o.targets) {
		return p, &kubeTargetsError{verb: strings.ToLower(o.verb), total: len(o.targets), failed: failed}
	}
	return p, nil
}

func (o kubeOp) run(ctx context.Context) (Result, error) {
	start := time.Now()
	results := make([]KubeTargetResult, len(o.targets))
	errs := make([]error, len(o.targets))
	if err := o.validate(); err != nil {
		for i, t := range o.targets {
			results[i] = KubeTargetResult{Namespace: t.Namespace, Name: t.Name, Error: err.Error()}
		}
		detail, _ := json.Marshal(results)
		return Result{Summary: "not run: " + err.Error(), Detail: detail}, err
	}
	var wg sync.WaitGroup
	for i, t := range o.targets {
		wg.Go(func() {
			results[i], errs[i] = o.apply(ctx, t)
			results[i].TookMS = time.Since(start).Milliseconds()
		})
	}
	wg.Wait()

	var failed []error
	var done, bad []string
	for i, res := range results {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			bad = append(bad, fmt.Sprintf("%s (%s)", o.label(o.targets[i]), kubeShort(errs[i])))
			continue
		}
		done = append(done, o.item(res))
	}
	summary := fmt.Sprintf("%s %d/%d", o.past, len(o.targets)-len(failed), len(o.targets))
	if len(done) > 0 {
		summary += ": " + strings.Join(done, ", ")
	}
	if len(bad) > 0 {
		summary += "; failed: " + strings.Join(bad, ", ")
	}
	detail, _ := json.Marshal(results)
	res := Result{OK: len(failed) == 0, Summary: summary, Detail: detail}
	if len(failed) > 0 {
		return res, &kubeTargetsError{verb: strings.ToLower(o.verb), total: len(o.targets), failed: failed}
	}
	return res, nil
}

func (o kubeOp) apply(ctx context.Context, t KubeTarget) (KubeTargetResult, error) {
	ch, err := o.resolve(ctx, t)
	if err != nil {
		return KubeTargetResult{Namespace: t.Namespace, Name: t.Name, Error: err.Error()}, err
	}
	res := ch.res
	if ch.patch != nil {
		_, err := o.client.AppsV1().Deployments(t.Namespace).Patch(ctx, t.Name, ch.patchType, ch.patch,
			metav1.PatchOptions{FieldManager: kubeFieldManager})
		if err != nil {
			err = kubeExplain(ctx, t, err)
			res.Error = err.Error()
			return res, err
		}
	}
	res.OK = true
	return res, nil
}

// label names a target in the summary: the bare name when every target
// shares its namespace, which is the usual case and keeps the line short.
func (o kubeOp) label(t KubeTarget) string {
	for _, u := range o.targets {
		if u.Namespace != t.Namespace {
			return t.String()
		}
	}
	return t.Name
}

// kubeTargetError is one deployment's failure, in words, keeping the API
// error underneath for errors.As and apierrors.IsForbidden.
type kubeTargetError struct {
	target KubeTarget
	msg    string
	short  string // a word or two for the one-line summary
	err    error
}

func (e *kubeTargetError) Error() string { return e.msg }

// kubeRefuse is a reason of flightdeck's own not to touch a deployment.
func kubeRefuse(short, msg string) error { return &kubeTargetError{msg: msg, short: short} }
func (e *kubeTargetError) Unwrap() error { return e.err }

// kubeTargetsError names every deployment that failed, and why.
type kubeTargetsError struct {
	verb   string
	total  int
	failed []error
}

func (e *kubeTargetsError) Error() string {
	parts := make([]string, len(e.failed))
	for i, err := range e.failed {
		var te *kubeTargetError
		if errors.As(err, &te) {
			parts[i] = te.target.String() + ": " + te.msg
		} else {
			parts[i] = err.Error()
		}
	}
	return fmt.Sprintf("could not %s %d of %d deployments: %s", e.verb, len(e.failed), e.total, strings.Join(parts, "; "))
}

func (e *kubeTargetsError) Unwrap() []error { return e.failed }

var kubeForbiddenRE = regexp.MustCompile(`User "([^"]*)" cannot (\S+) resource "([^"]+)"`)

// kubeExplain turns an API error about target t into what an operator can
// act on.
func kubeExplain(ctx context.Context, t KubeTarget, err error) error {
	var te *kubeTargetError
	if errors.As(err, &te) {
		if te.target == (KubeTarget{}) {
			te.target = t
		}
		return err
	}
	e := &kubeTargetError{target: t, err: err, msg: err.Error(), short: "failed"}
	switch {
	case apierrors.IsForbidden(err):
		e.short = "forbidden"
		if m := kubeForbiddenRE.FindStringSubmatch(err.Error()); m != nil {
			e.msg = fmt.Sprintf("forbidden: %s cannot %s %s in %s (a cluster admin can grant it with a Role)", m[1], m[2], m[3], t.Namespace)
		} else {
			e.msg = "forbidden: " + err.Error()
		}
	case apierrors.IsNotFound(err):
		e.short = "not found"
		e.msg = fmt.Sprintf("deployment %s not found in namespace %s: check the name and namespace in the runbook", t.Name, t.Namespace)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		e.short = "rejected"
		e.msg = "the API server rejected the change: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		e.short = "timed out"
		e.msg = "no answer from the API server in time (" + err.Error() + "); check the deployment before trying again"
	case apierrors.IsUnauthorized(err):
		e.short = "unauthorized"
		e.msg = "the API server did not accept the credentials (" + err.Error() + "); log in to the cluster again"
	}
	return e
}

// kubeShort is the summary's word for why a target failed.
func kubeShort(err error) string {
	var te *kubeTargetError
	if errors.As(err, &te) {
		return te.short
	}
	return "failed"
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

func kubeRevision(m metav1.Object) int64 {
	n, _ := strconv.ParseInt(m.GetAnnotations()[kubeRevisionAnnotation], 10, 64)
	return n
}

// kubeImage is the template's first container's image: the application's,
// by the convention the rollout pane follows too.
func kubeImage(t corev1.PodTemplateSpec) string {
	if len(t.Spec.Containers) == 0 {
		return ""
	}
	return t.Spec.Containers[0].Image
}

func kubeReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func kubeBaseResult(d *appsv1.Deployment) KubeTargetResult {
	img := kubeImage(d.Spec.Template)
	return KubeTargetResult{Namespace: d.Namespace, Name: d.Name, FromImage: img, ToImage: img,
		FromRevision: kubeRevision(d), ToRevision: kubeRevision(d), Paused: d.Spec.Paused}
}

func kubeNameItem(res KubeTargetResult) string {
	if res.Unchanged != "" {
		return res.Name + " " + res.Unchanged
	}
	return res.Name
}

func kubeMergeChange(patch map[string]any, line string, res KubeTargetResult) (kubeChange, error) {
	b, err := json.Marshal(patch)
	return kubeChange{patchType: types.MergePatchType, patch: b, line: line, res: res}, err
}

// kubeProgress says when a rollout is still under way, since acting on a
// deployment mid-rollout is worth a second look. A spec the controller has
// not yet observed is left alone: its status still counts the old one.
func kubeProgress(d *appsv1.Deployment) string {
	want, s := kubeReplicas(d), d.Status
	if s.ObservedGeneration < d.Generation || (s.UpdatedReplicas >= want && s.Replicas <= s.UpdatedReplicas) {
		return ""
	}
	word := "mid-rollout"
	if d.Spec.Paused {
		word = "paused mid-rollout"
	}
	return fmt.Sprintf("%s (%d of %d updated)", word, s.UpdatedReplicas, want)
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
