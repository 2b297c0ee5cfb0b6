// Package config loads the cockpit's TOML configuration: the runbook (phases
// and steps), the deploy window, and the sections that point the live sources
// at Kubernetes, Postgres, Jira, git, Sentry and Slack.
//
// Loading is strict and reports every problem at once, each with file, line,
// column and key, because the person reading the errors is about to start a
// production deploy and should fix the file in one pass.
package config

import (
	"slices"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Config is a loaded, validated configuration.
type Config struct {
	Path       string            `toml:"-"` // absolute path it was loaded from
	Deploy     Deploy            `toml:"deploy"`
	Window     Window            `toml:"window"`
	Vars       map[string]string `toml:"vars"`
	Phases     []Phase           `toml:"phase"`
	Kubernetes *Kubernetes       `toml:"kubernetes"`
	Postgres   *Postgres         `toml:"postgres"`
	Jira       *Jira             `toml:"jira"`
	Git        *Git              `toml:"git"`
	Sentry     *Sentry           `toml:"sentry"`
	Slack      *Slack            `toml:"slack"`
	Share      *Share            `toml:"share"`
	Migrations *Migrations       `toml:"migrations"`
	Lock       *Lock             `toml:"lock"`
	Smoke      []Smoke           `toml:"smoke"`
	Rehearsal  *Rehearsal        `toml:"rehearsal"`

	// SecretErrors holds, per section, the secrets that could not be
	// resolved when loading with DeferSecretErrors.
	SecretErrors map[string]Errors `toml:"-"`

	pos *index // where each key was written, for Sources and late errors
}

// Deploy names the deploy and sets defaults for the commands it runs.
type Deploy struct {
	Name        string `toml:"name"`
	Environment string `toml:"environment"`
	// Release may use {{date}} and [vars].
	Release string `toml:"release"`
	// Operator defaults to $USER, else "operator".
	Operator string `toml:"operator"`
	// Shell runs step commands as Shell -c COMMAND; default /bin/sh.
	Shell string `toml:"shell"`
	// Workdir is where commands run; default the config file's directory.
	// Absolute after loading.
	Workdir        string   `toml:"workdir"`
	CommandTimeout Duration `toml:"command_timeout"` // default 10m
	// Env is added to the environment of every command step. Values may
	// use template variables. Credentials go the tools' own way: a file
	// such as PGPASSFILE, never a password here.
	Env map[string]string `toml:"env"`
}

// Window is the part of the day the deploy must fit in.
type Window struct {
	Start    string `toml:"start"`    // "09:00"
	End      string `toml:"end"`      // "12:30"; after Start on the same day
	Timezone string `toml:"timezone"` // IANA name, e.g. "Europe/London"
	// RollbackBy is the last time a rollback still fits in the window
	// ("12:05"). Default: the end less the estimates of the rollback
	// steps (the disaster-recovery phase) and RollbackMargin.
	RollbackBy     string   `toml:"rollback_by"`
	RollbackMargin Duration `toml:"rollback_margin"` // default 10m

	Location    *time.Location `toml:"-"`
	StartMinute int            `toml:"-"` // minutes after midnight
	EndMinute   int            `toml:"-"`
	// RollbackMinute is rollback_by in minutes after midnight; -1 when it
	// is to be worked out from the runbook's estimates.
	RollbackMinute int `toml:"-"`
}

// On returns the window's start and end on the calendar day, in the window's
// zone, that contains t. Wall-clock times are kept across DST changes: a 09:00
// window starts at 09:00 local time on both sides of the clock change.
func (w Window) On(t time.Time) (start, end time.Time) {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	start = time.Date(y, m, d, w.StartMinute/60, w.StartMinute%60, 0, 0, loc)
	end = time.Date(y, m, d, w.EndMinute/60, w.EndMinute%60, 0, 0, loc)
	return start, end
}

// Length is the window's duration on the day containing t (DST days differ).
func (w Window) Length(t time.Time) time.Duration {
	s, e := w.On(t)
	return e.Sub(s)
}

// Phase is a stage of the runbook.
type Phase struct {
	Name string `toml:"name"`
	// Contingency marks a phase that is not part of the normal flow, such as
	// disaster recovery: its steps are there to reach for, and their
	// estimates do not count against the window.
	Contingency bool   `toml:"contingency"`
	Steps       []Step `toml:"step"`
}

// StepKind is what a step does when it is started.
type StepKind string

const (
	// Manual steps are done by a person, who ticks them off.
	Manual StepKind = "manual"
	// Command steps run a shell command.
	Command StepKind = "command"
	// Gate steps pass when live data says so.
	Gate StepKind = "gate"
	// Action steps call one of ActionKinds.
	Action StepKind = "action"
)

// Step is one line of the runbook.
type Step struct {
	// ID is stable across edits of the title, so the journal can be replayed
	// against a changed file. Default: slug(phase name)/slug(title).
	ID       string            `toml:"id"`
	Title    string            `toml:"title"`
	Estimate Duration          `toml:"estimate"`
	Notes    string            `toml:"notes"` // may use template variables
	Command  string            `toml:"command"`
	Timeout  Duration          `toml:"timeout"` // command only; default Deploy.CommandTimeout
	Workdir  string            `toml:"workdir"` // command only; absolute after loading
	Gate     string            `toml:"gate"`
	Action   string            `toml:"action"`
	Args     map[string]string `toml:"args"`
	// Requires names steps that must be closed (done, or skipped with a
	// reason) before this one runs or is ticked: the push waits for the
	// migrations' pre-flight.
	Requires []string `toml:"requires"`
	// StartsDeploy marks the step that starts the deploy proper (the push,
	// the rollout): deploy.start is journaled when it starts, and the
	// error baseline and "new since the deploy" hang on it.
	StartsDeploy bool `toml:"starts_deploy"`

	Kind     StepKind   `toml:"-"`
	GateExpr gates.Expr `toml:"-"`
	Line     int        `toml:"-"` // line of the [[phase.step]] header
}

// Kubernetes points the rollout source at the cluster.
type Kubernetes struct {
	// Kubeconfig is a path; empty means client-go's default loading rules
	// (KUBECONFIG, then ~/.kube/config). Absolute after loading.
	Kubeconfig      string   `toml:"kubeconfig"`
	Context         string   `toml:"context"`
	Namespaces      []string `toml:"namespaces"`
	Deployments     []string `toml:"deployments"`
	Selector        string   `toml:"selector"`
	ProgressTimeout Duration `toml:"progress_timeout"` // default 10m
	// Clusters, when there are several: each [[kubernetes.cluster]] takes
	// what it leaves unset from the table above.
	Clusters []KubeCluster `toml:"cluster"`

	// Name and Role are set on the entries ClusterList returns when the
	// config names clusters; empty for the one cluster of a plain table.
	Name string `toml:"-"`
	Role string `toml:"-"`

	list []*Kubernetes
}

// KubeCluster is one of several clusters the deploy goes to, e.g. a
// primary and the standby kept for a fast rollback.
type KubeCluster struct {
	Name        string   `toml:"name"`
	Role        string   `toml:"role"` // primary, standby, canary…: shown, and the primary holds the lock
	Kubeconfig  string   `toml:"kubeconfig"`
	Context     string   `toml:"context"`
	Namespaces  []string `toml:"namespaces"`
	Deployments []string `toml:"deployments"`
	Selector    string   `toml:"selector"`
}

// ClusterList is every cluster to watch, each a complete [kubernetes]
// table: the table itself when it names no clusters.
func (k *Kubernetes) ClusterList() []*Kubernetes {
	if k == nil {
		return nil
	}
	if len(k.list) == 0 {
		return []*Kubernetes{k}
	}
	return k.list
}

// Several says whether the deploy spans more than one cluster; views then
// name the cluster of every deployment.
func (k *Kubernetes) Several() bool { return k != nil && len(k.list) > 1 }

// Primary is the cluster that holds the team lock and is asked what the
// user may do: the one with role "primary", else the first.
func (k *Kubernetes) Primary() *Kubernetes {
	list := k.ClusterList()
	for _, c := range list {
		if c.Role == "primary" {
			return c
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

// AllDeployments are the deployment names any cluster watches by name.
func (k *Kubernetes) AllDeployments() []string {
	var out []string
	for _, c := range k.ClusterList() {
		for _, d := range c.Deployments {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// AnySelector says whether some cluster watches by label, so a deployment
// name cannot be checked against a list.
func (k *Kubernetes) AnySelector() bool {
	for _, c := range k.ClusterList() {
		if c.Selector != "" {
			return true
		}
	}
	return false
}

// Postgres points the lock watcher at one or more databases.
type Postgres struct {
	Poll          Duration         `toml:"poll"`           // default 1s
	LockThreshold Duration         `toml:"lock_threshold"` // default 30s
	LongQuery     Duration         `toml:"long_query"`     // default 60s
	Targets       []PostgresTarget `toml:"target"`
}

// PostgresTarget is one database to watch.
type PostgresTarget struct {
	Name string `toml:"name"`
	// DSN is a libpq URL or key=value string. It may use template
	// variables; expand it with TemplateVars before connecting. It must not
	// contain a password.
	DSN string `toml:"dsn"`
	// Password is optional; without it libpq rules apply (PGPASSWORD,
	// .pgpass).
	Password Secret `toml:"password"`
}

// Jira points the board source at the sprint board.
type Jira struct {
	URL        string   `toml:"url"`
	Flavor     string   `toml:"flavor"` // "cloud" (default) or "datacenter"
	Email      string   `toml:"email"`  // cloud only
	Token      Secret   `toml:"token"`
	Board      int      `toml:"board"`
	Project    string   `toml:"project"`
	Poll       Duration `toml:"poll"`        // default 60s
	FixVersion string   `toml:"fix_version"` // may use template variables
	Sprint     string   `toml:"sprint"`
	// SprintField is the custom field holding sprints, as customfield_NNNNN;
	// empty finds it in the site's field list. Its id differs per site.
	SprintField       string       `toml:"sprint_field"`
	BlockerLabels     []string     `toml:"blocker_labels"`     // default ["blocker"]
	BlockerPriorities []string     `toml:"blocker_priorities"` // default ["Blocker", "Highest"]
	Columns           []JiraColumn `toml:"column"`
	Moves             []JiraMove   `toml:"move"`
}

// Jira flavors.
const (
	JiraCloud      = "cloud"
	JiraDatacenter = "datacenter"
)

// JiraColumn is a board column and the rules its cards must satisfy.
type JiraColumn struct {
	Name         string `toml:"name"`
	MergedTo     string `toml:"merged_to"`
	NotMergedTo  string `toml:"not_merged_to"`
	CheckRelease bool   `toml:"check_release"`
	NoBlockers   bool   `toml:"no_blockers"`
}

// JiraMove moves every card in the From columns to the To column.
type JiraMove struct {
	From []string `toml:"from"`
	To   string   `toml:"to"`
}

// Git points the branch source at a local clone.
type Git struct {
	Repo     string   `toml:"repo"`     // absolute after loading
	Remote   string   `toml:"remote"`   // default "origin"
	Branches []string `toml:"branches"` // default master, staging, production
}

// Sentry points the error-rate source at the projects being deployed.
type Sentry struct {
	URL            string   `toml:"url"` // default https://sentry.io
	Org            string   `toml:"org"`
	Projects       []string `toml:"projects"`
	Environment    string   `toml:"environment"`
	Token          Secret   `toml:"token"`
	Poll           Duration `toml:"poll"`            // default 30s
	Baseline       Duration `toml:"baseline"`        // default 60m
	SpikeFactor    float64  `toml:"spike_factor"`    // default 3
	SpikeFloor     float64  `toml:"spike_floor"`     // default 10 errors/min
	SpikeIntervals int      `toml:"spike_intervals"` // default 3 one-minute intervals in a row
	// Ignore holds regular expressions matched against issue titles;
	// matching issues count neither as new nor towards a spike.
	Ignore []string `toml:"ignore"`
	// AdvisoryNewIssues is how many new issues since the deploy's start
	// recommend a rollback (default 1: any).
	AdvisoryNewIssues int `toml:"advisory_new_issues"`
	// DSN, if set, reports the cockpit's own errors to Sentry.
	DSN Secret `toml:"dsn"`
}

// Slack is where the cockpit posts.
type Slack struct {
	Webhook         Secret `toml:"webhook"`
	Channel         string `toml:"channel"`
	IncidentChannel string `toml:"incident_channel"`
	// Advisory posts "ROLLBACK RECOMMENDED" and its clearing to
	// IncidentChannel.
	Advisory bool `toml:"advisory"`
}

// Share serves live, read-only views of the deploy over SSH.
type Share struct {
	// Listen is host:port; a bare :port binds localhost only. The
	// --share flag overrides it.
	Listen string `toml:"listen"`
	// AuthorizedKeys lists the keys that may watch, in OpenSSH's
	// authorized_keys format; each key's comment names its viewer.
	// Absolute after loading.
	AuthorizedKeys string   `toml:"authorized_keys"`
	MaxViewers     int      `toml:"max_viewers"`  // default 20
	IdleTimeout    Duration `toml:"idle_timeout"` // default 30m: a viewer that sends nothing for this long is let go
}

// Migrations says where the deploy's pending migrations come from, so that
// the pre-flight can judge each statement before it runs.
type Migrations struct {
	// Files are globs of .sql files, taken in order (each glob's matches
	// sorted by name). Relative to deploy.workdir; absolute after loading.
	Files []string `toml:"files"`
	// Command prints the pending SQL (a framework's dry run); it runs in
	// deploy.workdir like a command step.
	Command string `toml:"command"`
	// Target is the [[postgres.target]] that is production: the pre-flight
	// asks it how the touched objects are used. Default: the first.
	Target string `toml:"target"`
	// LockTimeout is set before each statement of a dry run, so a
	// statement that would queue fails instead. Default 5s.
	LockTimeout Duration `toml:"lock_timeout"`
	// Poll is how often the files are read again and production asked
	// again. Default 30s.
	Poll Duration `toml:"poll"`
}

// Lock is the team's deploy lock: a Kubernetes Lease per deploy and
// environment, so two people cannot drive the same deploy from two
// machines. It needs [kubernetes].
type Lock struct {
	// Namespace holds the Lease; default the first [kubernetes] namespace.
	Namespace string `toml:"namespace"`
	// Duration is how long a lease lasts without renewal: a driver that
	// vanished loses it after this long. Default 1m.
	Duration Duration `toml:"duration"`
}

// Smoke is one HTTP check run continuously from the deploy's start: the
// gate smoke.passing holds while every check passes.
type Smoke struct {
	Name     string   `toml:"name"`
	URL      string   `toml:"url"`
	Status   int      `toml:"status"`   // expected status; default 200
	Body     string   `toml:"body"`     // a regular expression the body must match; empty matches anything
	Interval Duration `toml:"interval"` // default 10s
	Timeout  Duration `toml:"timeout"`  // default 5s
}

// SourceConfig says whether a source section is present, for the UI.
type SourceConfig struct {
	Section    string // "kubernetes"
	Configured bool
	Line       int // line of the section header; 0 when absent
}

var sourceSections = []string{"kubernetes", "postgres", "jira", "git", "sentry", "slack"}

// Sources lists the source sections in a fixed order: kubernetes, postgres,
// jira, git, sentry, slack.
func (c *Config) Sources() []SourceConfig {
	var out []SourceConfig
	for _, name := range sourceSections {
		sc := SourceConfig{Section: name, Configured: c.configured(name)}
		if sc.Configured && c.pos != nil {
			sc.Line = c.pos.line(name)
		}
		out = append(out, sc)
	}
	return out
}

// configured reports whether the named source section is present.
func (c *Config) configured(section string) bool {
	switch section {
	case "kubernetes":
		return c.Kubernetes != nil
	case "postgres":
		return c.Postgres != nil
	case "jira":
		return c.Jira != nil
	case "git":
		return c.Git != nil
	case "sentry":
		return c.Sentry != nil
	case "slack":
		return c.Slack != nil
	case "migrations":
		return c.Migrations != nil
	case "smoke":
		return len(c.Smoke) > 0
	case "lock":
		return c.Lock != nil
	}
	return false
}

// Steps returns every step of every phase, in order.
func (c *Config) Steps() []*Step {
	var out []*Step
	for i := range c.Phases {
		for j := range c.Phases[i].Steps {
			out = append(out, &c.Phases[i].Steps[j])
		}
	}
	return out
}

// Estimate is the sum of the phase's step estimates.
func (p Phase) Estimate() time.Duration {
	var sum time.Duration
	for _, s := range p.Steps {
		sum += s.Estimate.D()
	}
	return sum
}

// PlannedEstimate is the sum of the estimates of the normal (not contingency)
// phases: what has to fit in the window.
func (c *Config) PlannedEstimate() time.Duration {
	var sum time.Duration
	for _, p := range c.Phases {
		if !p.Contingency {
			sum += p.Estimate()
		}
	}
	return sum
}
