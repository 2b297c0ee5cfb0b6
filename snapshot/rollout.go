package snapshot

import (
	"errors"
	"fmt"
	"slices"
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
	// Clusters are the configured clusters in config order, when the deploy
	// spans several; nil for one.
	Clusters []Cluster
}

// Cluster is how one of several clusters is doing.
type Cluster struct {
	Name, Role string
	Context    string
	Server     string
	// Read says its watches have synced at least once; before that it has
	// no deployments to show.
	Read bool
	// Err is why it is down now; its deployments are then the last seen.
	Err string
}

// Down says which clusters are down, when some are and others answer: the
// source as a whole then shows as down, naming them, while the pane keeps
// showing what the others read.
func (s Rollout) Down() error {
	var down []string
	for _, c := range s.Clusters {
		if c.Err != "" {
			down = append(down, "cluster "+c.Name+": "+OneLine(c.Err))
		}
	}
	if len(down) == 0 {
		return nil
	}
	return errors.New(strings.Join(down, "; "))
}

// Unseen lists the clusters that are down or not read yet, as "standby:
// why"; empty when all answer.
func (s Rollout) Unseen() []string {
	var out []string
	for _, c := range s.Clusters {
		switch {
		case c.Err != "":
			out = append(out, c.Name+": "+OneLine(c.Err))
		case !c.Read:
			out = append(out, c.Name+": not read yet")
		}
	}
	return out
}

// Deployment is a deployment, its rollout and its pods.
type Deployment struct {
	// Cluster is the configured cluster's name when there are several.
	Cluster         string
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

// Label names the deployment in a line about several: "api", or
// "api@standby" when there are several clusters.
func (d Deployment) Label() string {
	if d.Cluster == "" {
		return d.Name
	}
	return d.Name + "@" + d.Cluster
}

// Key names the deployment uniquely: "production/api", and
// "production/api@standby" when there are several clusters.
func (d Deployment) Key() string { return clusterKey(d.Cluster, d.Namespace, d.Name) }

func clusterKey(cluster, namespace, name string) string {
	if cluster == "" {
		return namespace + "/" + name
	}
	return namespace + "/" + name + "@" + cluster
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
	Cluster string // when there are several
	At      time.Time
	Object  string // Kind/name
	Reason  string
	Message string
	Count   int32
}

// WhatRunsWhere says which release runs in each cluster, Deployinator's
// "what is where": "4f1c2d3 on primary, standby" when they agree, else
// "primary bad-1203 · standby 4f1c2d3", naming the deployments of a cluster
// whose images differ ("standby api bad-1203 worker 4f1c2d3"). Empty for
// one cluster.
func (s Rollout) WhatRunsWhere() string {
	if len(s.Clusters) == 0 {
		return ""
	}
	same, names := s.Runs(s.Clusters[0].Name), []string{}
	for _, c := range s.Clusters {
		if c.Err != "" || s.Runs(c.Name) != same || same == "" || strings.Contains(same, " ") {
			same = ""
			break
		}
		names = append(names, c.Name)
	}
	if same != "" {
		return same + " on " + strings.Join(names, ", ")
	}
	var parts []string
	for _, c := range s.Clusters {
		runs := s.Runs(c.Name)
		switch {
		case c.Err != "":
			runs = "down"
		case runs == "":
			runs = "?"
		}
		parts = append(parts, c.Name+" "+runs)
	}
	return strings.Join(parts, " · ")
}

// Runs is the image tag the cluster's deployments run, or each one's when
// they differ ("api bad-1203 worker 4f1c2d3"); empty when none is seen.
func (s Rollout) Runs(cluster string) string {
	var tags, named []string
	for _, d := range s.Deployments {
		if d.Cluster != cluster {
			continue
		}
		t := Tag(d.Image)
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
		named = append(named, d.Name+" "+t)
	}
	if len(tags) > 1 {
		return strings.Join(named, " ")
	}
	return strings.Join(tags, "")
}

// InCluster names the cluster of every deployment and event; "" leaves
// them unnamed, as for a deploy to one cluster.
func (s Rollout) InCluster(name string) Rollout {
	if name == "" {
		return s
	}
	for i := range s.Deployments {
		s.Deployments[i].Cluster = name
	}
	for i := range s.Events {
		s.Events[i].Cluster = name
	}
	return s
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
			dips = append(dips, d.Label()+": "+d.Dip)
		}
		if d.Phase != Complete {
			notDone = append(notDone, fmt.Sprintf("%s %d/%d %s", d.Label(), d.Ready, d.Desired, d.Phase))
		}
	}
	detail := "all complete"
	if len(notDone) > 0 {
		detail = strings.Join(notDone, ", ")
	}
	if down := s.Unseen(); len(down) > 0 {
		// A gate must not pass on a cluster the cockpit cannot see.
		f := gates.Fact{Detail: "cluster " + strings.Join(down, "; ")}
		return gates.Facts{"rollout.complete": f, "rollout.no_crashloops": f, "rollout.old_pods_gone": f}
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
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Image     string `json:"image"`
	Revision  int64  `json:"revision"`
}

// Key names the deployment.
func (l LastKnownGood) Key() string { return clusterKey(l.Cluster, l.Namespace, l.Name) }

// LastKnownGood reads the rollback targets off the state as first seen: a
// finished rollout's current template, or, for one still rolling out, the
// revision before it.
func (s Rollout) LastKnownGood() []LastKnownGood {
	var out []LastKnownGood
	for _, d := range s.Deployments {
		l := LastKnownGood{Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name, Image: d.Image, Revision: d.Revision}
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
