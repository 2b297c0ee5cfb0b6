package sources

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// revisionOf reads the revision annotation the deployment controller keeps.
func revisionOf(m metav1.Object) int64 {
	n, _ := strconv.ParseInt(m.GetAnnotations()["deployment.kubernetes.io/revision"], 10, 64)
	return n
}

func firstImage(spec corev1.PodSpec) string {
	if len(spec.Containers) == 0 {
		return ""
	}
	return spec.Containers[0].Image
}

// BuildRollout turns the watched objects into the pane's state. It is pure,
// so it is tested and benchmarked without a cluster. stallAfter is how long
// a rollout may go without progress before it counts as stalled even if the
// controller has not said so yet.
func BuildRollout(deps []*appsv1.Deployment, rss []*appsv1.ReplicaSet, pods []*corev1.Pod, events []*corev1.Event, now time.Time, stallAfter time.Duration) snapshot.Rollout {
	rsByOwner := map[string][]*appsv1.ReplicaSet{}
	for _, rs := range rss {
		for _, o := range rs.OwnerReferences {
			if o.Kind == "Deployment" {
				rsByOwner[string(o.UID)] = append(rsByOwner[string(o.UID)], rs)
			}
		}
	}
	podsByRS := map[string][]*corev1.Pod{}
	for _, p := range pods {
		for _, o := range p.OwnerReferences {
			if o.Kind == "ReplicaSet" {
				podsByRS[string(o.UID)] = append(podsByRS[string(o.UID)], p)
			}
		}
	}
	var st snapshot.Rollout
	for _, d := range deps {
		st.Deployments = append(st.Deployments, buildDeployment(d, rsByOwner[string(d.UID)], podsByRS, now, stallAfter))
	}
	sort.Slice(st.Deployments, func(i, j int) bool {
		a, b := st.Deployments[i], st.Deployments[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for _, e := range events {
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		if at.IsZero() {
			at = e.CreationTimestamp.Time
		}
		st.Events = append(st.Events, snapshot.WarningEvent{At: at, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
			Reason: e.Reason, Message: strings.TrimSpace(e.Message), Count: e.Count})
	}
	sort.Slice(st.Events, func(i, j int) bool { return st.Events[i].At.After(st.Events[j].At) })
	return st
}

func buildDeployment(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, podsByRS map[string][]*corev1.Pod, now time.Time, stallAfter time.Duration) snapshot.Deployment {
	ds := snapshot.Deployment{
		Namespace: d.Namespace, Name: d.Name, Image: firstImage(d.Spec.Template.Spec),
		Updated: d.Status.UpdatedReplicas, Ready: d.Status.ReadyReplicas, Available: d.Status.AvailableReplicas,
		Revision: revisionOf(d), Paused: d.Spec.Paused,
	}
	if d.Spec.Replicas != nil {
		ds.Desired = *d.Spec.Replicas
	} else {
		ds.Desired = 1
	}
	sort.Slice(rss, func(i, j int) bool { return revisionOf(rss[i]) > revisionOf(rss[j]) })
	for _, rs := range rss {
		ds.History = append(ds.History, snapshot.Revision{
			Number: revisionOf(rs), Image: firstImage(rs.Spec.Template.Spec), Created: rs.CreationTimestamp.Time,
			ChangeCause: rs.Annotations["kubernetes.io/change-cause"], Replicas: rs.Status.Replicas, Name: rs.Name,
		})
	}
	for _, h := range ds.History {
		if h.Number < ds.Revision && h.Image != ds.Image {
			ds.PrevImage = h.Image
			break
		}
	}
	total := 0
	for _, rs := range rss {
		total += len(podsByRS[string(rs.UID)])
	}
	all := make([]snapshot.Pod, 0, total)
	for _, rs := range rss {
		rev := revisionOf(rs)
		for _, p := range podsByRS[string(rs.UID)] {
			ps := buildPod(p, rev, now)
			if rev != ds.Revision {
				ds.OldPods++
			}
			all = append(all, ps)
		}
	}
	ds.Pods = orderPods(all)
	ds.Phase, ds.Why = rolloutPhase(d, now, stallAfter)
	return ds
}

// podsInOrder is how many healthy pods get a defined place after the
// problems: more than any screen shows. The rest follow in no particular
// order, which spares sorting thousands of pods on every snapshot.
const podsInOrder = 64

type podKey struct {
	revision int64
	name     string
	at       int32
}

// before orders pods newest revision first, then by name; names are unique,
// so the order is total and the same on every snapshot.
func (a podKey) before(b podKey) bool {
	if a.revision != b.revision {
		return a.revision > b.revision
	}
	return a.name < b.name
}

// orderPods puts the pods with problems first, all of them in order, then
// the first podsInOrder healthy ones in order, then the rest. Keys are
// sorted, not pods: a pod is a few hundred bytes.
func orderPods(all []snapshot.Pod) []snapshot.Pod {
	var problems, healthy []podKey
	for i := range all {
		k := podKey{all[i].Revision, all[i].Name, int32(i)}
		if all[i].Problem {
			problems = append(problems, k)
		} else {
			healthy = append(healthy, k)
		}
	}
	byOrder := func(a, b podKey) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	}
	slices.SortFunc(problems, byOrder)
	if len(healthy) > podsInOrder {
		// Keep the podsInOrder first in a max-heap on the last kept one,
		// so most pods cost one comparison.
		top := healthy[:0:0]
		rest := make([]podKey, 0, len(healthy)-podsInOrder)
		h := &podHeap{}
		for _, k := range healthy {
			switch {
			case h.Len() < podsInOrder:
				heap.Push(h, k)
			case k.before((*h)[0]):
				rest = append(rest, heap.Pop(h).(podKey))
				heap.Push(h, k)
			default:
				rest = append(rest, k)
			}
		}
		top = append(top, *h...)
		slices.SortFunc(top, byOrder)
		healthy = append(top, rest...)
	} else {
		slices.SortFunc(healthy, byOrder)
	}
	out := make([]snapshot.Pod, 0, len(all))
	for _, k := range problems {
		out = append(out, all[k.at])
	}
	for _, k := range healthy {
		out = append(out, all[k.at])
	}
	return out
}

// podHeap is a max-heap: the root is the last of the pods kept.
type podHeap []podKey

func (h podHeap) Len() int           { return len(h) }
func (h podHeap) Less(i, j int) bool { return h[j].before(h[i]) }
func (h podHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *podHeap) Push(x any)        { *h = append(*h, x.(podKey)) }
func (h *podHeap) Pop() any {
	old := *h
	k := old[len(old)-1]
	*h = old[:len(old)-1]
	return k
}

// rolloutPhase follows kubectl rollout status: a rollout is complete when the
// controller has seen the latest spec and every replica is updated and
// available with no old ones left.
func rolloutPhase(d *appsv1.Deployment, now time.Time, stallAfter time.Duration) (snapshot.RolloutPhase, string) {
	var progressing *appsv1.DeploymentCondition
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			progressing = &d.Status.Conditions[i]
		}
	}
	if d.Spec.Paused {
		return snapshot.Paused, "paused: new template changes do not roll out"
	}
	if d.Generation > d.Status.ObservedGeneration {
		// A spec just changed: its status, conditions included, still
		// speaks of the rollout before, whose last progress may be long
		// past. Calling that stalled would cry rollback at every push.
		return snapshot.Progressing, "the controller has not seen the new spec yet"
	}
	if progressing != nil && progressing.Reason == "ProgressDeadlineExceeded" {
		return snapshot.Stalled, "ProgressDeadlineExceeded: " + progressing.Message
	}
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	s := d.Status
	if d.Generation <= s.ObservedGeneration && s.UpdatedReplicas == desired && s.Replicas == desired && s.AvailableReplicas == desired {
		return snapshot.Complete, ""
	}
	why := ""
	if progressing != nil {
		why = progressing.Reason
		// NewReplicaSetAvailable is the rollout before, finished: the
		// controller has not yet written this one's first progress, and
		// the time since that finish says nothing of this rollout.
		if stallAfter > 0 && !progressing.LastUpdateTime.IsZero() && progressing.Reason != "NewReplicaSetAvailable" &&
			now.Sub(progressing.LastUpdateTime.Time) > stallAfter {
			return snapshot.Stalled, "no progress for " + now.Sub(progressing.LastUpdateTime.Time).Round(time.Second).String()
		}
	}
	return snapshot.Progressing, why
}

func buildPod(p *corev1.Pod, rev int64, now time.Time) snapshot.Pod {
	ps := snapshot.Pod{Name: p.Name, IP: p.Status.PodIP, Created: p.CreationTimestamp.Time, Node: p.Spec.NodeName, Revision: rev,
		Image: firstImage(p.Spec), Status: string(p.Status.Phase), Total: len(p.Spec.Containers)}
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ps.Ready++
		}
		ps.Restarts += c.RestartCount
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			ps.Status, ps.Reason = c.State.Waiting.Reason, c.State.Waiting.Message
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			ps.Status, ps.Reason = c.State.Terminated.Reason, c.State.Terminated.Message
		}
	}
	if p.Status.Phase == corev1.PodPending && ps.Reason == "" {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				ps.Reason = c.Reason + ": " + c.Message
			}
		}
	}
	if p.DeletionTimestamp != nil {
		ps.Status = "Terminating"
	}
	switch ps.Status {
	case "Running":
		ps.Problem = ps.Ready < ps.Total && now.Sub(ps.Created) > time.Minute
	case "Succeeded", "Terminating", "ContainerCreating", "PodInitializing":
	default:
		ps.Problem = true
	}
	if ps.Status == "Pending" && now.Sub(ps.Created) < 30*time.Second {
		ps.Problem = false
	}
	return ps
}

// CapacityWatch remembers, per deployment and revision, whether its ready
// count fell below the desired count while the rollout was under way: a
// snapshot alone cannot tell, since by the time the rollout completes the
// capacity is back. The rollout source keeps one; the zero value is not
// usable, use NewCapacityWatch.
type CapacityWatch struct{ seen map[string]capacityDip }

// NewCapacityWatch starts with nothing seen.
func NewCapacityWatch() *CapacityWatch { return &CapacityWatch{seen: map[string]capacityDip{}} }

type capacityDip struct {
	revision int64
	ready    int32 // at the previous reading, -1 before the first
	text     string
}

// Observe marks each deployment of s with its dip, if any, and returns s.
// A dip is the ready count falling, below the desired count, while a
// rollout has work left (pods to update, or old pods still running): old
// pods went before new ones were ready. A new deployment coming up, a
// scale-up, or a steady deployment losing a pod are not dips.
func (w *CapacityWatch) Observe(s snapshot.Rollout, now time.Time) snapshot.Rollout {
	for i := range s.Deployments {
		d := &s.Deployments[i]
		key := d.Namespace + "/" + d.Name
		seen, ok := w.seen[key]
		if !ok {
			seen = capacityDip{revision: d.Revision, ready: -1}
		}
		if seen.revision != d.Revision {
			seen = capacityDip{revision: d.Revision, ready: seen.ready}
		}
		rolling := d.Updated < d.Desired || d.OldPods > 0
		if seen.text == "" && rolling && d.Ready < d.Desired && d.Ready < seen.ready {
			seen.text = fmt.Sprintf("ready fell to %d/%d at %s while rolling out rev %d", d.Ready, d.Desired, now.Format("15:04:05"), d.Revision)
		}
		seen.ready = d.Ready
		w.seen[key] = seen
		d.Dip = seen.text
	}
	return s
}
