package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const examplePath = "../../config.example.toml"

func TestExampleLoadsWithoutSecrets(t *testing.T) {
	c, err := Load(examplePath, LoadOptions{SkipSecrets: true, Getenv: noEnv})
	if err != nil {
		t.Fatalf("config.example.toml:\n%v", err)
	}
	var names []string
	for _, p := range c.Phases {
		names = append(names, p.Name)
		if p.Contingency != (p.Name == "Disaster Recovery") {
			t.Errorf("phase %q: contingency = %v", p.Name, p.Contingency)
		}
	}
	want := []string{"Pre-Deployment", "Deployment Proper", "Post-Deployment", "Disaster Recovery"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("phases = %q, want %q", names, want)
	}

	// The planned phases must fit the 3.5 h window with room to spare.
	window := c.Window.Length(time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC))
	if window != 3*time.Hour+30*time.Minute {
		t.Errorf("window = %s", window)
	}
	if planned := c.PlannedEstimate(); planned > window*3/4 {
		t.Errorf("planned estimate %s does not fit comfortably in %s", planned, window)
	}

	kinds := map[StepKind]int{}
	ids := map[string]bool{}
	for _, s := range c.Steps() {
		kinds[s.Kind]++
		if !strings.Contains(s.ID, "/") || ids[s.ID] {
			t.Errorf("step id %q", s.ID)
		}
		ids[s.ID] = true
		if s.Estimate <= 0 || s.Line == 0 {
			t.Errorf("step %s: estimate %s line %d", s.ID, s.Estimate, s.Line)
		}
	}
	for _, k := range []StepKind{Manual, Command, Gate, Action} {
		if kinds[k] == 0 {
			t.Errorf("no %s steps in the example", k)
		}
	}
	for _, s := range c.Sources() {
		if !s.Configured {
			t.Errorf("example does not configure %s", s.Section)
		}
	}

	// Steps the runbook document names must be there, in order.
	mustHave := []string{
		"pre/clone-database", "pre/prune-clones", "pre/jira-columns", "pre/pull-branches", "pre/merge-down",
		"deploy/merge-staging", "deploy/diff-migrations", "deploy/clone-locks", "deploy/push-production",
		"deploy/merge-master", "deploy/push-staging",
		"post/jira-to-production", "post/jira-to-staging", "post/announce", "post/sentry-spikes",
		"dr/rollback", "dr/apply-deployment", "dr/watch-pods", "dr/cancel-backends", "dr/terminate-backends",
	}
	pos := map[string]int{}
	for i, s := range c.Steps() {
		pos[s.ID] = i
	}
	last := -1
	for _, id := range mustHave {
		i, ok := pos[id]
		if !ok {
			t.Errorf("missing step %s", id)
			continue
		}
		if i < last {
			t.Errorf("step %s out of order", id)
		}
		last = i
	}

	// Commands expand, with the clone named for the deploy day.
	day := time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC)
	vars := c.TemplateVars(day)
	for _, s := range c.Steps() {
		if s.Kind != Command {
			continue
		}
		cmd, err := Expand(s.Command, vars, true)
		if err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		if s.ID == "pre/clone-database" && cmd != "gcloud sql instances clone vetspire-production vetspire-production-clone-2024-07-01 --project=vetspire-app" {
			t.Errorf("clone command = %q", cmd)
		}
	}
	dsn, err := Expand(c.Postgres.Targets[1].DSN, vars, false)
	if err != nil || !strings.Contains(dsn, "vetspire-production-clone-2024-07-01") {
		t.Errorf("clone dsn = %q, %v", dsn, err)
	}
}

func TestExampleLoadsWithSecrets(t *testing.T) {
	env := map[string]string{
		"PGPASSWORD_PRODUCTION": "pg-prod-password",
		"PGPASSWORD_CLONE":      "pg-clone-password",
		"JIRA_API_TOKEN":        "jira-api-token",
		"SENTRY_AUTH_TOKEN":     "sentry-auth-token",
		"SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T/B/x",
	}
	c, err := Load(examplePath, LoadOptions{Getenv: envMap(env)})
	if err != nil {
		t.Fatalf("config.example.toml:\n%v", err)
	}
	r := c.Redactor()
	if r.Secrets() != len(env) {
		t.Errorf("Secrets() = %d, want %d", r.Secrets(), len(env))
	}
	for name, v := range env {
		if got := r.Redact("x " + v + " y"); got != "x [redacted:env:"+name+"] y" {
			t.Errorf("Redact(%s) = %q", name, got)
		}
	}

	// Without the variables, each secret is reported at its line.
	_, err = Load(examplePath, LoadOptions{Getenv: noEnv})
	var errs Errors
	if !asErrors(err, &errs) || len(errs) != len(env) {
		t.Fatalf("want %d missing-variable errors, got %v", len(env), err)
	}
	for _, e := range errs {
		if !strings.Contains(e.Error(), "is not set (export ") || e.Line == 0 {
			t.Errorf("unexpected error %v", e)
		}
	}
}
