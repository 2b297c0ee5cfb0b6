package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

func TestDefaults(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Run: the thing!"
estimate = "1m"
command = "true"

[[phase.step]]
title = "Own timeout"
estimate = "1m"
command = "true"
timeout = "30s"
workdir = "sub"

[[phase.step]]
title = "Gate"
estimate = "1m"
gate = "locks.max_wait<30s"

[[phase.step]]
title = "Action"
estimate = "1m"
action = "git.fetch"

[kubernetes]
namespaces = ["production"]
deployments = ["api"]

[[postgres.target]]
name = "production"
dsn = "postgres://deploy@db/app"

[jira]
url = "https://acme.atlassian.net/"
email = "a@acme.com"
token = "env:JIRA_TOKEN"
board = 1
project = "VET"

[git]
repo = "~/src/app"

[sentry]
org = "acme"
projects = ["api"]
token = "env:SENTRY_TOKEN"

[slack]
webhook = "env:SLACK_WEBHOOK"
`
	dir := t.TempDir()
	path := filepath.Join(dir, "fd.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, LoadOptions{SkipSecrets: true, Getenv: envMap(map[string]string{"USER": "tomasz", "HOME": "/home/tomasz"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	d := c.Deploy
	if d.Operator != "tomasz" || d.Shell != "/bin/sh" || d.Workdir != dir || d.CommandTimeout.D() != 10*time.Minute {
		t.Errorf("deploy defaults: %+v", d)
	}
	w := c.Window
	if w.StartMinute != 9*60 || w.EndMinute != 12*60+30 || w.Location == nil || w.Location.String() != "Europe/London" {
		t.Errorf("window: %+v", w)
	}

	steps := c.Phases[0].Steps
	wantSteps := []struct {
		id   string
		kind StepKind
	}{
		{"main/do-it", Manual},
		{"main/run-the-thing", Command},
		{"main/own-timeout", Command},
		{"main/gate", Gate},
		{"main/action", Action},
	}
	for i, w := range wantSteps {
		if steps[i].ID != w.id || steps[i].Kind != w.kind {
			t.Errorf("step %d: id %q kind %q, want %q %q", i, steps[i].ID, steps[i].Kind, w.id, w.kind)
		}
	}
	if steps[0].Line != 13 {
		t.Errorf("first step Line = %d, want 13", steps[0].Line)
	}
	if steps[1].Timeout.D() != 10*time.Minute || steps[1].Workdir != dir {
		t.Errorf("command defaults: timeout %s workdir %q", steps[1].Timeout, steps[1].Workdir)
	}
	if steps[2].Timeout.D() != 30*time.Second || steps[2].Workdir != filepath.Join(dir, "sub") {
		t.Errorf("own timeout/workdir: %s %q", steps[2].Timeout, steps[2].Workdir)
	}
	if want := (gates.Expr{Raw: "locks.max_wait<30s", Name: "locks.max_wait", Op: gates.Less, Duration: 30 * time.Second}); steps[3].GateExpr != want {
		t.Errorf("GateExpr = %+v", steps[3].GateExpr)
	}

	if c.Kubernetes.ProgressTimeout.D() != 10*time.Minute {
		t.Errorf("kubernetes: %+v", c.Kubernetes)
	}
	p := c.Postgres
	if p.Poll.D() != time.Second || p.LockThreshold.D() != 30*time.Second || p.LongQuery.D() != time.Minute {
		t.Errorf("postgres: %+v", p)
	}
	j := c.Jira
	if j.Flavor != JiraCloud || j.Poll.D() != time.Minute || j.URL != "https://acme.atlassian.net" ||
		!reflect.DeepEqual(j.BlockerLabels, []string{"blocker"}) ||
		!reflect.DeepEqual(j.BlockerPriorities, []string{"Blocker", "Highest"}) {
		t.Errorf("jira: %+v", j)
	}
	g := c.Git
	if g.Repo != "/home/tomasz/src/app" || g.Remote != "origin" || !reflect.DeepEqual(g.Branches, []string{"master", "staging", "production"}) {
		t.Errorf("git: %+v", g)
	}
	s := c.Sentry
	if s.URL != "https://sentry.io" || s.Poll.D() != 30*time.Second || s.Baseline.D() != time.Hour ||
		s.SpikeFactor != 3 || s.SpikeFloor != 10 || s.SpikeIntervals != 3 {
		t.Errorf("sentry: %+v", s)
	}
	if c.Jira.Token.Value() != "" || c.Jira.Token.Resolved() {
		t.Error("SkipSecrets resolved a secret")
	}
}

func TestOperatorFallback(t *testing.T) {
	c := mustParse(t, minimal, LoadOptions{Getenv: noEnv})
	if c.Deploy.Operator != "operator" {
		t.Errorf("Operator = %q", c.Deploy.Operator)
	}
}

func TestExplicitZeroIsNotDefault(t *testing.T) {
	doc := minimal + `
[sentry]
org = "acme"
projects = ["api"]
token = "env:SENTRY_TOKEN"
spike_factor = 0 # FACTOR
poll = "0s" # POLL
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "sentry.spike_factor", lineOf(t, doc, "# FACTOR"), "spike_factor must be more than 1")
	wantErr(t, errs, "sentry.poll", lineOf(t, doc, "# POLL"), "poll must be more than 0", "remove it for the default of 30s")
}

func TestWindowOn(t *testing.T) {
	c := mustParse(t, minimal, LoadOptions{})
	w := c.Window
	tests := []struct {
		at         string
		start, end string
	}{
		{"2024-01-15T08:00:00Z", "2024-01-15T09:00:00Z", "2024-01-15T12:30:00Z"},
		{"2024-07-01T08:00:00Z", "2024-07-01T08:00:00Z", "2024-07-01T11:30:00Z"},
		// 23:30 UTC on 30 June is already 1 July in London.
		{"2024-06-30T23:30:00Z", "2024-07-01T08:00:00Z", "2024-07-01T11:30:00Z"},
		// The clocks go forward at 01:00 UTC on 31 March 2024.
		{"2024-03-31T10:00:00Z", "2024-03-31T08:00:00Z", "2024-03-31T11:30:00Z"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		s, e := w.On(at)
		if got := s.UTC().Format(time.RFC3339); got != tt.start {
			t.Errorf("On(%s) start = %s, want %s", tt.at, got, tt.start)
		}
		if got := e.UTC().Format(time.RFC3339); got != tt.end {
			t.Errorf("On(%s) end = %s, want %s", tt.at, got, tt.end)
		}
		if w.Length(at) != 3*time.Hour+30*time.Minute {
			t.Errorf("Length(%s) = %s", tt.at, w.Length(at))
		}
	}
}

func TestSources(t *testing.T) {
	doc := minimal + `
[slack] # SLACK
webhook = "env:SLACK_WEBHOOK"

[git] # GIT
repo = "."
`
	c := mustParse(t, doc, LoadOptions{SkipSecrets: true})
	got := c.Sources()
	want := []SourceConfig{
		{Section: "kubernetes"},
		{Section: "postgres"},
		{Section: "jira"},
		{Section: "git", Configured: true, Line: lineOf(t, doc, "# GIT")},
		{Section: "sentry"},
		{Section: "slack", Configured: true, Line: lineOf(t, doc, "# SLACK")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sources() = %+v\nwant %+v", got, want)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.D() != 90*time.Minute {
		t.Fatalf("UnmarshalText: %v %v", d, err)
	}
	b, _ := d.MarshalText()
	if string(b) != "1h30m" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Error("UnmarshalText accepted soon")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Pre-Deployment": "pre-deployment",
		"Deploy changes from staging into production": "deploy-changes-from-staging-into",
		"  Run: the thing!  ":                         "run-the-thing",
		"Übergabe":                                    "bergabe",
		"":                                            "",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeysAt(t *testing.T) {
	if got := keysAt("phase[0].step[2]"); !strings.HasPrefix(strings.Join(got, ","), "id,title,estimate,notes,command") {
		t.Errorf("keysAt(step) = %v", got)
	}
	if got := keysAt("jira.move[0]"); !reflect.DeepEqual(got, []string{"from", "to"}) {
		t.Errorf("keysAt(jira.move) = %v", got)
	}
}

func TestShareSection(t *testing.T) {
	cfg, err := Parse("s.toml", []byte(minimal+`
[share]
listen = ":2222"
authorized_keys = "viewers"
`), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Share.MaxViewers != 20 || cfg.Share.IdleTimeout.D() != 30*time.Minute || !filepath.IsAbs(cfg.Share.AuthorizedKeys) {
		t.Fatalf("defaults: %+v", cfg.Share)
	}
	for _, c := range []struct{ body, want string }{
		{"[share]\nlisten = \":2222\"\n", `missing required key "authorized_keys"`},
		{"[share]\nlisten = \"2222\"\nauthorized_keys = \"v\"\n", `share.listen: "2222" is not host:port`},
		{"[share]\nauthorized_keys = \"v\"\nmax_viewers = 0\n", "share.max_viewers: max_viewers must be more than 0"},
	} {
		_, err := Parse("s.toml", []byte(minimal+c.body), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want an error with %q, got %v", c.body, c.want, err)
		}
	}
}
