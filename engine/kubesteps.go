package engine

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// kubeStep builds the action of a kube.pause, kube.resume, kube.restart or
// kube.scale step: on every watched deployment, or on those named
// args.deployment.
func (e *Engine) kubeStep(st *runbook.Step, verb actions.KubeVerb) (actions.Action, string, error) {
	if e.opts.Kube == nil {
		if e.opts.KubeErr != nil {
			return nil, "", fmt.Errorf("cannot change deployments: %v", e.opts.KubeErr)
		}
		return nil, "", fmt.Errorf("Kubernetes is not usable: %v", e.sectionProblem("kubernetes"))
	}
	targets, err := e.kubeStepTargets(st.Args["deployment"])
	if err != nil {
		return nil, "", err
	}
	a := &actions.Kube{Verb: verb, Client: e.opts.Kube, Clients: e.opts.Clusters, Targets: targets, StepID: st.ID}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.String()
	}
	summary := string(verb) + " " + strings.Join(names, ", ")
	if verb == actions.KubeScale {
		n, err := strconv.ParseUint(st.Args["replicas"], 10, 31)
		if err != nil {
			return nil, "", fmt.Errorf("replicas %q is not a count of pods: use a whole number, 0 or more", st.Args["replicas"])
		}
		a.Replicas = int32(n)
		summary += fmt.Sprintf(" to %d", n)
	}
	return a, summary, nil
}

// kubeStepTargets are the deployments the rollout pane shows, as of its
// latest good reading, or only those called name. Before the first reading
// they are the rollback targets the journal kept from an earlier run: the
// same deployments, as first seen, which is better than refusing a step in
// an incident because the cockpit has just been restarted.
func (e *Engine) kubeStepTargets(name string) ([]actions.KubeTarget, error) {
	var all []actions.KubeTarget
	if u, ok := e.updates["kubernetes"]; ok && !u.GoodAt.IsZero() {
		if rs, ok := u.Data.(snapshot.Rollout); ok {
			for _, d := range rs.Deployments {
				all = append(all, actions.KubeTarget{Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name})
			}
		}
	} else if e.lkg != nil {
		for _, l := range e.lkg {
			all = append(all, actions.KubeTarget{Cluster: l.Cluster, Namespace: l.Namespace, Name: l.Name})
		}
	} else {
		return nil, errors.New("no deployments known yet: waiting for the first reading of the deployments")
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Cluster != all[j].Cluster {
			return all[i].Cluster < all[j].Cluster
		}
		return all[i].String() < all[j].String()
	})
	if name == "" {
		if len(all) == 0 {
			return nil, errors.New("no deployment is watched: check [kubernetes] namespaces, deployments and selector")
		}
		return all, nil
	}
	var out []actions.KubeTarget
	for _, t := range all {
		if t.Name == name {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no deployment %q is watched: check the step's args.deployment and [kubernetes]", name)
	}
	return out, nil
}
