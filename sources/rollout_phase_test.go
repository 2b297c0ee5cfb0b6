package sources_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// TestPushIsNotAStall: the moment after a push the deployment's status
// still speaks of the rollout before (observedGeneration behind), with a
// progress condition an hour old or a deadline exceeded back then. That is
// a rollout starting, not one stalled: judged stalled, it raised
// ROLLBACK RECOMMENDED for a second at every push.
func TestPushIsNotAStall(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	six := int32(6)
	for _, reason := range []string{"NewReplicaSetAvailable", "ProgressDeadlineExceeded"} {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "production", Name: "api", UID: "d1", Generation: 3},
			Spec:       appsv1.DeploymentSpec{Replicas: &six, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "app:new"}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 6, UpdatedReplicas: 6, ReadyReplicas: 6, AvailableReplicas: 6,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: reason,
					LastUpdateTime: metav1.NewTime(now.Add(-time.Hour))}}},
		}
		got := sources.BuildRollout([]*appsv1.Deployment{d}, nil, nil, nil, now, time.Minute).Deployments[0]
		if got.Phase != snapshot.Progressing {
			t.Errorf("%s, spec not yet observed: %s (%s)", reason, got.Phase, got.Why)
		}
		d.Status.ObservedGeneration = 3
		d.Status.UpdatedReplicas = 1
		got = sources.BuildRollout([]*appsv1.Deployment{d}, nil, nil, nil, now, time.Minute).Deployments[0]
		want := snapshot.Stalled
		if reason == "NewReplicaSetAvailable" {
			// Observed, but the condition is still the last rollout's
			// finish: this one has not reported progress yet.
			want = snapshot.Progressing
		}
		if got.Phase != want {
			t.Errorf("%s, observed and an hour since the condition changed: %s, want %s", reason, got.Phase, want)
		}
	}
	// A rollout that reported progress, then none for an hour, is stalled.
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "production", Name: "api", UID: "d1", Generation: 3},
		Spec:       appsv1.DeploymentSpec{Replicas: &six},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 7, UpdatedReplicas: 1, ReadyReplicas: 6, AvailableReplicas: 6,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ReplicaSetUpdated",
				LastUpdateTime: metav1.NewTime(now.Add(-time.Hour))}}},
	}
	if got := sources.BuildRollout([]*appsv1.Deployment{d}, nil, nil, nil, now, time.Minute).Deployments[0]; got.Phase != snapshot.Stalled {
		t.Errorf("an hour after its last progress: %s", got.Phase)
	}
}
