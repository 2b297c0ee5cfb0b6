package config

import "sort"

// ActionSpec describes an action a step may call. The actions themselves live
// in actions/; config only checks that a step names one, with valid args,
// and that the section it needs is configured.
type ActionSpec struct {
	Name     string
	Needs    string   // config section the action uses
	Args     []string // accepted args
	Required []string // args that must be given
	Doc      string
}

// ActionKinds is the catalogue of actions, by name.
var ActionKinds = map[string]ActionSpec{
	"kube.rollback": {
		Name: "kube.rollback", Needs: "kubernetes", Args: []string{"deployment", "revision"},
		Doc: "roll the watched deployments (or just args.deployment) back to their previous revision (or args.revision)",
	},
	"kube.pause": {
		Name: "kube.pause", Needs: "kubernetes", Args: []string{"deployment"},
		Doc: "pause the rollout of the watched deployments (or just args.deployment)",
	},
	"kube.resume": {
		Name: "kube.resume", Needs: "kubernetes", Args: []string{"deployment"},
		Doc: "resume a paused rollout",
	},
	"kube.restart": {
		Name: "kube.restart", Needs: "kubernetes", Args: []string{"deployment"},
		Doc: "rolling restart, as kubectl rollout restart",
	},
	"kube.scale": {
		Name: "kube.scale", Needs: "kubernetes", Args: []string{"deployment", "replicas"}, Required: []string{"deployment", "replicas"},
		Doc: "set args.deployment to args.replicas pods, as kubectl scale",
	},
	"postgres.cancel": {
		Name: "postgres.cancel", Needs: "postgres", Args: []string{"target"},
		Doc: "pg_cancel_backend on a backend picked in the locks pane, on args.target (default: the first target)",
	},
	"postgres.terminate": {
		Name: "postgres.terminate", Needs: "postgres", Args: []string{"target"},
		Doc: "pg_terminate_backend on a backend picked in the locks pane, on args.target (default: the first target)",
	},
	"jira.move": {
		Name: "jira.move", Needs: "jira", Args: []string{"move"},
		Doc: "apply the [[jira.move]] rules: all of them, or only args.move (its index from 0, or its to column)",
	},
	"git.fetch": {
		Name: "git.fetch", Needs: "git",
		Doc: "fetch the remote so branch checks see its current state",
	},
	"sentry.deploy_marker": {
		Name: "sentry.deploy_marker", Needs: "sentry", Args: []string{"stage"}, Required: []string{"stage"},
		Doc: "record a deploy marker on the Sentry release: args.stage is start, finish or rollback",
	},
	"migrations.dry_run": {
		Name: "migrations.dry_run", Needs: "migrations", Args: []string{"target"}, Required: []string{"target"},
		Doc: "run the pending migrations statement by statement on args.target (a clone, never production) with [migrations] lock_timeout, recording the locks each statement really held and for how long",
	},
	"slack.notify": {
		Name: "slack.notify", Needs: "slack", Args: []string{"channel", "text"}, Required: []string{"text"},
		Doc: "post args.text (template variables allowed) to args.channel, default [slack] channel",
	},
}

// ActionNames lists the action names, sorted.
func ActionNames() []string {
	names := make([]string, 0, len(ActionKinds))
	for n := range ActionKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stages accepted by sentry.deploy_marker.
var sentryStages = []string{"start", "finish", "rollback"}
