package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// KubeVerb is what a Kube action does to each of its deployments; the
// action's kind is "kube." and the verb.
type KubeVerb string

// The verbs, as kubectl names them.
const (
	KubePause   KubeVerb = "pause"
	KubeResume  KubeVerb = "resume"
	KubeRestart KubeVerb = "restart"
	KubeScale   KubeVerb = "scale"
)

// KubeVerbOf is the verb of an action kind such as "kube.pause"; ok is
// false for any kind Kube does not run, the rollback among them.
func KubeVerbOf(kind string) (v KubeVerb, ok bool) {
	rest, found := strings.CutPrefix(kind, "kube.")
	if !found {
		return "", false
	}
	_, ok = kubeVerbs[KubeVerb(rest)]
	return KubeVerb(rest), ok
}

// Kube pauses, resumes, restarts or scales deployments: one patch per
// deployment, sent as a server-side dry run for the preview. The rollback
// is a type of its own because it reads the history, where these only read
// the deployment.
type Kube struct {
	Verb    KubeVerb
	Client  kubernetes.Interface
	Clients map[string]kubernetes.Interface // by cluster, for targets that name one
	Targets []KubeTarget
	StepID  string
	// Replicas is what a scale sets every target to.
	Replicas int32
	// Now stamps a restart; nil is time.Now.
	Now func() time.Time
}

// Kind implements Action.
func (k *Kube) Kind() string { return "kube." + string(k.Verb) }

// Step implements Action.
func (k *Kube) Step() string { return k.StepID }

// Dangerous implements Action: each verb changes which pods run, or (a
// pause) holds back the change that would.
func (k *Kube) Dangerous() bool { return true }

// Preview implements Action.
func (k *Kube) Preview(ctx context.Context) (Preview, error) { return k.op().preview(ctx) }

// Run implements Action.
func (k *Kube) Run(ctx context.Context) (Result, error) { return k.op().run(ctx) }

// kubeVerb is what differs between the verbs: the words, and the change
// worked out from the deployment as it is now.
type kubeVerb struct {
	title, past string
	plan        func(k *Kube, d *appsv1.Deployment) (kubeChange, error)
	item        func(KubeTargetResult) string
}

var kubeVerbs = map[KubeVerb]kubeVerb{
	KubePause:   {title: "Pause", past: "paused", plan: (*Kube).planPause, item: kubeNameItem},
	KubeResume:  {title: "Resume", past: "resumed", plan: (*Kube).planResume, item: kubeNameItem},
	KubeRestart: {title: "Restart", past: "restarted", plan: (*Kube).planRestart, item: kubeNameItem},
	KubeScale:   {title: "Scale", past: "scaled", plan: (*Kube).planScale, item: kubeScaleItem},
}

func (k *Kube) op() kubeOp {
	v, ok := kubeVerbs[k.Verb]
	if !ok {
		return kubeOp{verb: "Change", past: "changed", client: k.Client, clients: k.Clients, targets: k.Targets, check: func() error {
			return fmt.Errorf("unknown Kubernetes action %q: the cockpit can pause, resume, restart, scale or roll back", k.Kind())
		}}
	}
	return kubeOp{
		verb: v.title, past: v.past, client: k.Client, clients: k.Clients, targets: k.Targets, check: k.check, item: v.item,
		plan: func(_ context.Context, _ kubernetes.Interface, d *appsv1.Deployment, _ KubeTarget) (kubeChange, error) {
			return v.plan(k, d)
		},
	}
}

func (k *Kube) check() error {
	if k.Verb == KubeScale && k.Replicas < 0 {
		return fmt.Errorf("cannot scale to %d replicas: the count must be 0 or more", k.Replicas)
	}
	return nil
}

func (k *Kube) planPause(d *appsv1.Deployment) (kubeChange, error) {
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
}

func (k *Kube) planResume(d *appsv1.Deployment) (kubeChange, error) {
	res := kubeBaseResult(d)
	if !d.Spec.Paused {
		res.Unchanged = "not paused"
		return kubeChange{line: "not paused, nothing to resume", res: res}, nil
	}
	res.Resumed = true
	line := fmt.Sprintf("resume the rollout of %s", res.FromImage)
	return kubeMergeChange(map[string]any{"spec": map[string]any{"paused": false}}, line, res)
}

// planRestart stamps the pod template as `kubectl rollout restart` does,
// so the controller replaces every pod with a fresh one of the same image.
func (k *Kube) planRestart(d *appsv1.Deployment) (kubeChange, error) {
	if d.Spec.Paused {
		// As kubectl: the new template would wait for a resume nobody
		// asked for.
		return kubeChange{}, kubeRefuse("paused", "paused: a restart would not roll out until resumed; resume it first")
	}
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	res := kubeBaseResult(d)
	res.RestartedAt = now().Format(time.RFC3339)
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{kubeRestartedAtAnnotation: res.RestartedAt}},
	}}})
	line := fmt.Sprintf("replace all %d pods of %s, one step at a time", kubeReplicas(d), res.FromImage)
	return kubeChange{patchType: types.StrategicMergePatchType, patch: patch, line: line, res: res}, err
}

func (k *Kube) planScale(d *appsv1.Deployment) (kubeChange, error) {
	res := kubeBaseResult(d)
	from, to := kubeReplicas(d), k.Replicas
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
}

func kubeScaleItem(res KubeTargetResult) string {
	if res.Unchanged != "" || res.FromReplicas == nil || res.ToReplicas == nil {
		return kubeNameItem(res)
	}
	return fmt.Sprintf("%s %d→%d", res.label(), *res.FromReplicas, *res.ToReplicas)
}
