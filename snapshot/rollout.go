package snapshot

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// RolloutPhase is where a deployment's rollout stands.
type RolloutPhase string

const (
	Progressing RolloutPhase = "progressing"
	Complete    RolloutPhase = "complete"
	Paused      RolloutPhase = "paused"
	Stalled     RolloutPhase = "stalled"
)

// Rollout is one reading of the watched deployments.
type Rollout struct {
	Deployments []Deployment
	Events      []WarningEvent // newest first
}

// Deployment is a deployment, its rollout and its pods.
type Deployment struct {
	Namespace, Name string
	Image           string // the template's image (first container)
	PrevImage       string // the image of the previous revision
	Desired         int32
	Updated         int32
	Ready           int32
	Available       int32
	Revision        int64
	Phase           RolloutPhase
	Why             string // for stalled and progressing: the condition's reason and message
	Paused          bool
	History         []Revision // newest first
	Pods            []Pod      // problems first
	OldPods         int        // pods of older revisions still present
	// Dip says when the rollout to this revision left fewer ready pods
	// than desired: old pods went before the new ones were live, which
	// the runbook forbids. Empty when it never happened.
	Dip string
}

// Revision is one entry of a deployment's history (a ReplicaSet).
type Revision struct {
	Number      int64
	Image       string
	Created     time.Time
	ChangeCause string
	Replicas    int32
	Name        string // the ReplicaSet
}

// Pod is one pod as the pane shows it.
type Pod struct {
	Name     string
	Ready    int
	Total    int
	Status   string // Running, Pending, CrashLoopBackOff, ImagePullBackOff, Terminating…
	Reason   string // why, when not fine: the waiting message or the scheduler's
	Restarts int32
	Created  time.Time
	Node     string
	IP       string // what a database sees as the client address
	Revision int64
	Image    string
	Problem  bool
}

// WarningEvent is a Warning event about a watched object.
type WarningEvent struct {
	At      time.Time
	Object  string // Kind/name
	Reason  string
	Message string
	Count   int32
}

// Complete reports whether every deployment finished rolling out.
func (s Rollout) Complete() bool {
	if len(s.Deployments) == 0 {
		return false
	}
	for _, d := range s.Deployments {
		if d.Phase != Complete {
			return false
		}
	}
	return true
}

// failingToStart are the waiting reasons of a container that will not run
// as things stand: it keeps crashing, or its image cannot be pulled.
var failingToStart = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true,
	"InvalidImageName": true, "CreateContainerConfigError": true, "CreateContainerError": true,
}

// CrashLooping counts pods that fail to start: crash-looping, or whose
// image cannot be pulled (ImagePullBackOff, ErrImagePull), or whose
// container cannot be created.
func (s Rollout) CrashLooping() int {
	n := 0
	for _, d := range s.Deployments {
		n += d.FailingToStart()
	}
	return n
}

// FailingToStart counts the deployment's pods that fail to start.
func (d Deployment) FailingToStart() int {
	n := 0
	for _, p := range d.Pods {
		if failingToStart[p.Status] {
			n++
		}
	}
	return n
}

// crashDetail names the failing pods by reason: "4 failing: 3
// CrashLoopBackOff, 1 ImagePullBackOff".
func (s Rollout) crashDetail() string {
	by := map[string]int{}
	n := 0
	for _, d := range s.Deployments {
		for _, p := range d.Pods {
			if failingToStart[p.Status] {
				by[p.Status]++
				n++
			}
		}
	}
	if n == 0 {
		return "0 crash-looping"
	}
	reasons := make([]string, 0, len(by))
	for r := range by {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", by[r], r)
	}
	return fmt.Sprintf("%d failing to start: %s", n, strings.Join(parts, ", "))
}

// Facts are the rollout gates' inputs.
func (s Rollout) Facts() gates.Facts {
	old, crash := 0, s.CrashLooping()
	var notDone, dips []string
	for _, d := range s.Deployments {
		old += d.OldPods
		if d.Dip != "" {
			dips = append(dips, d.Name+": "+d.Dip)
		}
		if d.Phase != Complete {
			notDone = append(notDone, fmt.Sprintf("%s %d/%d %s", d.Name, d.Ready, d.Desired, d.Phase))
		}
	}
	detail := "all complete"
	if len(notDone) > 0 {
		detail = strings.Join(notDone, ", ")
	}
	return gates.Facts{
		"rollout.complete":      {Known: true, Bool: s.Complete(), Detail: detail},
		"rollout.no_crashloops": {Known: true, Bool: crash == 0, Detail: s.crashDetail()},
		"rollout.old_pods_gone": oldPodsGone(old, dips),
	}
}

func oldPodsGone(old int, dips []string) gates.Fact {
	if len(dips) > 0 {
		return gates.Fact{Known: true, Bool: false, Detail: "old pods went before the new ones were ready: " + strings.Join(dips, "; ")}
	}
	return gates.Fact{Known: true, Bool: old == 0, Detail: fmt.Sprintf("%d old pods", old)}
}

// LastKnownGood is a deployment's rollback target: what ran before the
// deploy touched it.
type LastKnownGood struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Image     string `json:"image"`
	Revision  int64  `json:"revision"`
}

// Key names the deployment.
func (l LastKnownGood) Key() string { return l.Namespace + "/" + l.Name }

// LastKnownGood reads the rollback targets off the state as first seen: a
// finished rollout's current template, or, for one still rolling out, the
// revision before it.
func (s Rollout) LastKnownGood() []LastKnownGood {
	var out []LastKnownGood
	for _, d := range s.Deployments {
		l := LastKnownGood{Namespace: d.Namespace, Name: d.Name, Image: d.Image, Revision: d.Revision}
		if d.Phase != Complete {
			for _, h := range d.History {
				if h.Number < d.Revision && h.Image != d.Image {
					l.Image, l.Revision = h.Image, h.Number
					break
				}
			}
		}
		out = append(out, l)
	}
	return out
}

// Tag returns the part of an image after its last colon: what people call
// the release ("release-4f2a9c1").
func Tag(image string) string {
	if i := strings.LastIndex(image, ":"); i >= 0 && !strings.Contains(image[i:], "/") {
		return image[i+1:]
	}
	return image
}
