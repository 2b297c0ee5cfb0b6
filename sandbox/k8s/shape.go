package k8s

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The production stand-in. Tests and the demo runbook refer to these names.
const (
	Namespace = "production"
	// ImageRepo is the repository every production Deployment runs from; a
	// tag containing "bad" makes pods crash-loop (see stages.yaml).
	ImageRepo = "registry.local/acme/app"
	// InitialTag is the release every Deployment starts at.
	InitialTag = "release-4f2a9c1"
	// ChangeCauseAnnotation is what `kubectl rollout history` shows.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// Replicas of each production Deployment.
	Replicas = 6
	// ProgressDeadlineSeconds is how long a stalled rollout takes to be
	// reported as ProgressDeadlineExceeded.
	ProgressDeadlineSeconds = 60
	// ContainerName is the single container of each production pod.
	ContainerName = "app"

	fieldManager = "flightdeck-sandbox"
	// fakeNodeAnnotation is what kwok-controller, as kwokctl configures it,
	// selects the nodes it plays the kubelet for by.
	fakeNodeAnnotation = "kwok.x-k8s.io/node"
)

// Deployments are the production Deployments, with their tier label.
var Deployments = []struct{ Name, Tier string }{
	{"api", "frontend"},
	{"worker", "backend"},
}

// NodeNames are the fake nodes the production pods are spread over.
var NodeNames = []string{"kwok-node-1", "kwok-node-2", "kwok-node-3"}

// Image returns the production image at tag.
func Image(tag string) string { return ImageRepo + ":" + tag }

// ApplyProductionShape makes the cluster look like production: three nodes,
// the production namespace and its Deployments at the initial release. It
// is idempotent and resets the Deployments to their initial spec, so a demo
// always starts from the same place. It returns once every Deployment is
// fully rolled out and available.
func ApplyProductionShape(ctx context.Context, kubeconfig string) error {
	return applyShape(ctx, kubeconfig, false)
}

// applyShape is ApplyProductionShape; with keep, Deployments that exist are
// left alone and not waited for.
func applyShape(ctx context.Context, kubeconfig string, keep bool) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	for i, name := range NodeNames {
		if err := applyNode(ctx, cs, name, fmt.Sprintf("10.0.1.%d", 11+i)); err != nil {
			return fmt.Errorf("sandbox node %s: %w", name, err)
		}
	}
	ns := coreac.Namespace(Namespace).WithLabels(map[string]string{"env": "production"})
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, ns, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("sandbox namespace %s: %w", Namespace, err)
	}
	var applied []string
	for _, d := range Deployments {
		if keep {
			if _, err := cs.AppsV1().Deployments(Namespace).Get(ctx, d.Name, metav1.GetOptions{}); err == nil {
				continue
			}
		}
		if _, err := cs.AppsV1().Deployments(Namespace).Apply(ctx, deployment(d.Name, d.Tier), metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("sandbox deployment %s/%s: %w", Namespace, d.Name, err)
		}
		applied = append(applied, d.Name)
	}
	for _, name := range applied {
		if err := WaitRolledOut(ctx, kubeconfig, Namespace, name, 3*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// applyNode registers a fake node with its capacity and address; pods on
// it get the address as their hostIP. A new node is created whole, status
// included, because kwok-controller initializes it from the first version
// it sees and would otherwise make up an address of its own.
func applyNode(ctx context.Context, cs kubernetes.Interface, name, ip string) error {
	labels := map[string]string{
		"kubernetes.io/hostname":         name,
		"kubernetes.io/os":               "linux",
		"kubernetes.io/arch":             "amd64",
		"node-role.kubernetes.io/worker": "",
		"topology.kubernetes.io/zone":    "zone-" + name[len(name)-1:],
		"type":                           "kwok",
	}
	annotations := map[string]string{
		fakeNodeAnnotation:             "fake",
		"node.alpha.kubernetes.io/ttl": "0",
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	addresses := []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: ip},
		{Type: corev1.NodeHostName, Address: name},
	}

	_, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity, Addresses: addresses},
	}, metav1.CreateOptions{FieldManager: fieldManager})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		return err
	}

	node := coreac.Node(name).WithLabels(labels).WithAnnotations(annotations)
	if _, err := cs.CoreV1().Nodes().Apply(ctx, node, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return err
	}
	status := coreac.NodeStatus().WithCapacity(capacity).WithAllocatable(capacity)
	for _, a := range addresses {
		status = status.WithAddresses(coreac.NodeAddress().WithType(a.Type).WithAddress(a.Address))
	}
	_, err = cs.CoreV1().Nodes().ApplyStatus(ctx, coreac.Node(name).WithStatus(status), metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
}

func deployment(name, tier string) *appsac.DeploymentApplyConfiguration {
	labels := map[string]string{"app": name, "tier": tier}
	container := coreac.Container().
		WithName(ContainerName).
		WithImage(Image(InitialTag)).
		WithArgs(name).
		WithResources(coreac.ResourceRequirements().
			WithRequests(corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			}).
			WithLimits(corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("256Mi"),
			}))
	if name == "api" {
		container = container.
			WithPorts(coreac.ContainerPort().WithName("http").WithContainerPort(8080)).
			WithReadinessProbe(coreac.Probe().
				WithHTTPGet(coreac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("http"))).
				WithPeriodSeconds(5))
	}
	return appsac.Deployment(name, Namespace).
		WithLabels(labels).
		WithAnnotations(map[string]string{ChangeCauseAnnotation: "initial release " + InitialTag}).
		WithSpec(appsac.DeploymentSpec().
			WithReplicas(Replicas).
			WithRevisionHistoryLimit(10).
			WithProgressDeadlineSeconds(ProgressDeadlineSeconds).
			WithSelector(metaac.LabelSelector().WithMatchLabels(map[string]string{"app": name})).
			WithStrategy(appsac.DeploymentStrategy().
				WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsac.RollingUpdateDeployment().
					// Never below full strength: a bad release stalls with
					// the old pods still serving, as production would.
					WithMaxUnavailable(intstr.FromInt32(0)).
					WithMaxSurge(intstr.FromString("25%")))).
			WithTemplate(coreac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(coreac.PodSpec().
					WithContainers(container).
					WithTerminationGracePeriodSeconds(30))))
}

// SetImage points every container of a Deployment at image and records the
// change cause, as `kubectl set image` with a change-cause annotation does.
func SetImage(ctx context.Context, kubeconfig, namespace, deployment, image string) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("set image of %s/%s: %w", namespace, deployment, err)
	}
	type container struct {
		Name  string `json:"name"`
		Image string `json:"image"`
	}
	var containers []container
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		containers = append(containers, container{Name: c.Name, Image: image})
		names = append(names, c.Name+"="+image)
	}
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{
			ChangeCauseAnnotation: "set image " + strings.Join(names, ","),
		}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": containers,
		}}},
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	if _, err := cs.AppsV1().Deployments(namespace).Patch(ctx, deployment, types.StrategicMergePatchType, body,
		metav1.PatchOptions{FieldManager: "flightdeck-sandbox-set-image"}); err != nil {
		return fmt.Errorf("set image of %s/%s to %s: %w", namespace, deployment, image, err)
	}
	return nil
}

// ErrProgressDeadline is returned by WaitRolledOut for a rollout that the
// Deployment controller has given up on.
var ErrProgressDeadline = errors.New("rollout exceeded its progress deadline")

// WaitRolledOut waits until the Deployment's latest spec is fully rolled out
// and available with no old pods left, as `kubectl rollout status` does. It
// fails early when the controller reports the progress deadline exceeded.
func WaitRolledOut(ctx context.Context, kubeconfig, namespace, name string, limit time.Duration) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last string
	for {
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			done, why := rolledOut(d)
			if done {
				return nil
			}
			last = why
			// A condition from before the latest spec says nothing about it.
			c := condition(d, appsv1.DeploymentProgressing)
			if d.Status.ObservedGeneration >= d.Generation && c != nil && c.Reason == "ProgressDeadlineExceeded" {
				return fmt.Errorf("deployment %s/%s: %w: %s", namespace, name, ErrProgressDeadline, c.Message)
			}
		case apierrors.IsNotFound(err):
			last = "not found"
		default:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not rolled out within %s: %s", namespace, name, limit, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func rolledOut(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.ObservedGeneration < d.Generation:
		return false, "waiting for the controller to observe the new spec"
	case s.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d new replicas updated", s.UpdatedReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < want:
		return false, fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, want)
	}
	return true, ""
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}
