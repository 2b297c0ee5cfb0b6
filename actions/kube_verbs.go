package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

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
