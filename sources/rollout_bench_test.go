package sources

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// bigRollout is one deployment of n pods, all of the current revision.
func bigRollout(n int, now time.Time) (*appsv1.Deployment, *appsv1.ReplicaSet, []*corev1.Pod) {
	replicas := int32(n)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "production", UID: "dep-uid", Generation: 2,
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.local/acme/app:release-4f2a9c1"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "api-5c6b", Namespace: "production", UID: "rs-uid",
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "2"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", UID: "dep-uid"}}},
		Spec: appsv1.ReplicaSetSpec{Template: d.Spec.Template},
	}
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-5c6b-%05d", i), Namespace: "production", UID: types.UID(fmt.Sprint("pod-", i)),
				CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)), ResourceVersion: "1",
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", UID: "rs-uid"}}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("kwok-node-%d", i%10), Containers: d.Spec.Template.Spec.Containers},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.8.%d.%d", i/250, i%250),
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true}}},
		}
	}
	return d, rs, pods
}

// BenchmarkPodEvents applies 10,000 pod updates to 5,000 pods the way the
// source does: each event goes through the cache transform into an
// informer store and pokes the snapshot; a snapshot of the whole state is
// built every 1,000 events (at 10,000 events a second that is the 100 ms
// coalescing). One op is all 10,000 events and their 10 snapshots.
func BenchmarkPodEvents(b *testing.B) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d, rs, pods := bigRollout(5000, now)
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	for _, p := range pods {
		store.Add(p)
	}
	dirty := make(chan struct{}, 1)
	updates := make([]*corev1.Pod, 10000)
	for i := range updates {
		p := pods[i%len(pods)].DeepCopy()
		p.ResourceVersion = fmt.Sprint(i + 2)
		p.Status.ContainerStatuses[0].RestartCount = int32(i / len(pods))
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
		updates[i] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range updates {
			obj, _ := stripForCache(p)
			store.Update(obj)
			select {
			case dirty <- struct{}{}:
			default:
			}
			if (i+1)%1000 == 0 {
				<-dirty
				list := store.List()
				cur := make([]*corev1.Pod, len(list))
				for j, o := range list {
					cur[j] = o.(*corev1.Pod)
				}
				BuildRollout([]*appsv1.Deployment{d}, []*appsv1.ReplicaSet{rs}, cur, nil, now, 10*time.Minute)
			}
		}
	}
}

// BenchmarkBuildRollout is one snapshot of 5,000 pods.
func BenchmarkBuildRollout(b *testing.B) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d, rs, pods := bigRollout(5000, now)
	b.ReportAllocs()
	for b.Loop() {
		BuildRollout([]*appsv1.Deployment{d}, []*appsv1.ReplicaSet{rs}, pods, nil, now, 10*time.Minute)
	}
}
