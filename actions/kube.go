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

// KubeTarget is one deployment an action applies to.
type KubeTarget struct {
	// Cluster is the configured cluster's name when there are several; its
	// client is the action's Clients[Cluster].
	Cluster         string
	Namespace, Name string
	// For rollback: the revision to return to; 0 means the previous revision (as `kubectl rollout undo`).
	ToRevision int64
	// For rollback: alternatively the image the last-known-good template ran; used to find the ReplicaSet when ToRevision is 0 or its ReplicaSet is gone. Empty = ignore.
	ToImage string
}

func (t KubeTarget) String() string {
	if t.Cluster != "" {
		return t.Namespace + "/" + t.Name + "@" + t.Cluster
	}
	return t.Namespace + "/" + t.Name
}

// KubeTargetResult is what an action did to one deployment. Result.Detail
// holds one per target, in the order of the targets, whatever happened.
type KubeTargetResult struct {
	Cluster      string `json:"cluster,omitempty"`
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
	client     kubernetes.Interface            // for targets with no cluster
	clients    map[string]kubernetes.Interface // by cluster name
	targets    []KubeTarget
	check      func() error
	plan       kubePlanner
	item       func(KubeTargetResult) string // one success, for the summary
}

// clientOf is the client of the target's cluster.
func (o kubeOp) clientOf(t KubeTarget) kubernetes.Interface {
	if t.Cluster == "" {
		return o.client
	}
	return o.clients[t.Cluster]
}

func (o kubeOp) validate() error {
	for _, t := range o.targets {
		if o.clientOf(t) != nil {
			continue
		}
		if t.Cluster != "" {
			return fmt.Errorf("no Kubernetes client for cluster %s: check its [[kubernetes.cluster]] in the config", t.Cluster)
		}
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
	c := o.clientOf(t)
	d, err := c.AppsV1().Deployments(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return kubeChange{}, kubeExplain(ctx, t, err)
	}
	ch, err := o.plan(ctx, c, d, t)
	if err != nil {
		return kubeChange{}, kubeExplain(ctx, t, err)
	}
	ch.res.Cluster, ch.res.Namespace, ch.res.Name = t.Cluster, t.Namespace, t.Name
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
				_, err = o.clientOf(t).AppsV1().Deployments(t.Namespace).Patch(ctx, t.Name, ch.patchType, ch.patch,
					metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: kubeFieldManager})
				if err != nil {
					err = kubeExplain(ctx, t, err)
					err = &kubeTargetError{target: t, msg: ch.line + "; the server's dry run refused it: " + err.Error(), short: kubeShort(err), err: err}
				}
			}
			if err != nil {
				lines[i], errs[i] = o.previewName(t)+": problem: "+err.Error(), err
				return
			}
			lines[i] = o.previewName(t) + ": " + ch.line
		})
	}
	wg.Wait()
	p.Lines = o.perCluster(lines)
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

// previewName names a target in its preview line: without its cluster
// when the lines are grouped under one heading per cluster.
func (o kubeOp) previewName(t KubeTarget) string {
	if o.severalClusters() {
		return t.Namespace + "/" + t.Name
	}
	return t.String()
}

func (o kubeOp) severalClusters() bool {
	for _, t := range o.targets {
		if t.Cluster != o.targets[0].Cluster {
			return true
		}
	}
	return false
}

// perCluster groups a preview's lines (one per target, in target order)
// under a line per cluster, when the targets span several: each cluster is
// then seen on its own before y.
func (o kubeOp) perCluster(lines []string) []string {
	var order []string
	by := map[string][]string{}
	for i, t := range o.targets {
		if _, ok := by[t.Cluster]; !ok {
			order = append(order, t.Cluster)
		}
		by[t.Cluster] = append(by[t.Cluster], lines[i])
	}
	if !o.severalClusters() {
		return lines
	}
	var out []string
	for _, c := range order {
		name := c
		if name == "" {
			name = "(default)"
		}
		out = append(out, "cluster "+name+":")
		for _, l := range by[c] {
			out = append(out, "  "+l)
		}
	}
	return out
}

func (o kubeOp) run(ctx context.Context) (Result, error) {
	start := time.Now()
	results := make([]KubeTargetResult, len(o.targets))
	errs := make([]error, len(o.targets))
	if err := o.validate(); err != nil {
		for i, t := range o.targets {
			results[i] = KubeTargetResult{Cluster: t.Cluster, Namespace: t.Namespace, Name: t.Name, Error: err.Error()}
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
		return KubeTargetResult{Cluster: t.Cluster, Namespace: t.Namespace, Name: t.Name, Error: err.Error()}, err
	}
	res := ch.res
	if ch.patch != nil {
		_, err := o.clientOf(t).AppsV1().Deployments(t.Namespace).Patch(ctx, t.Name, ch.patchType, ch.patch,
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
	return t.Name + clusterSuffix(t.Cluster)
}

func clusterSuffix(cluster string) string {
	if cluster == "" {
		return ""
	}
	return "@" + cluster
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
		return res.label() + " " + res.Unchanged
	}
	return res.label()
}

// label names the deployment in a summary: "api", or "api@standby".
func (res KubeTargetResult) label() string { return res.Name + clusterSuffix(res.Cluster) }

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
