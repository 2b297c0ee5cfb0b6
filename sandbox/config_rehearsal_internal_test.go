package sandbox

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// writtenConfig is the sandbox's config as up writes it, loaded.
func writtenConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"jira-token", "sentry-token"} {
		if _, _, err := secret(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	info := &Info{Dir: dir, GitRepo: filepath.Join(dir, "repo"), Kubeconfig: filepath.Join(dir, "kubeconfig"), Kubectl: "kubectl",
		PostgresApp: "postgres://app:pw@127.0.0.1:5432/acme", PostgresClone: "postgres://app:pw@127.0.0.1:5432/acme_clone",
		PostgresAdmin: "postgres://admin@127.0.0.1:5432/postgres", CloneName: "acme_clone", MigrationFile: filepath.Join(dir, "m.sql"),
		JiraURL: "http://127.0.0.1:1", JiraEmail: JiraEmail, JiraTokenFile: filepath.Join(dir, "secrets", "jira-token"),
		SentryURL: "http://127.0.0.1:2", SentryTokenFile: filepath.Join(dir, "secrets", "sentry-token"),
		SlackWebhook: "http://127.0.0.1:3/services/sandbox/webhook", AppHealthURL: "http://127.0.0.1:4" + AppHealthPath}
	text := renderConfig(info, "/bin/true", time.Now())
	cfg, err := config.Parse(filepath.Join(dir, ConfigFile), []byte(text), config.LoadOptions{})
	if err != nil {
		t.Fatalf("the written config does not load:\n%v", err)
	}
	return cfg, text
}

// TestConfigCommandsVerbatim: the runbook's commands reach the config as
// written, their own % signs included: the prune step's LIKE pattern
// once came out as 'acme-clone-%!'(MISSING) and pruned nothing.
func TestConfigCommandsVerbatim(t *testing.T) {
	cfg, text := writtenConfig(t)
	if strings.Contains(text, "%!") {
		t.Errorf("a format verb was eaten in the written config:\n%s", text)
	}
	for _, s := range cfg.Steps() {
		if s.ID == "pre/prune-clones" && !strings.Contains(s.Command, "LIKE 'acme-clone-%' ORDER BY") {
			t.Errorf("pre/prune-clones: %s", s.Command)
		}
	}
}

// TestConfigRehearsal: the written config rehearses with its two
// deliberately red gates skipped, each with its reason, after [lock].
func TestConfigRehearsal(t *testing.T) {
	cfg, text := writtenConfig(t)
	r := cfg.Rehearsal
	if r == nil {
		t.Fatal("no [rehearsal] in the written config")
	}
	skips := map[string]string{}
	for _, s := range r.Skip {
		skips[s.Step] = s.Reason
	}
	if len(skips) != 2 || !strings.Contains(skips["pre/jira-columns"], "four deliberate inconsistencies") ||
		!strings.Contains(skips["deploy/preflight-migrations"], "deliberately unsafe") {
		t.Errorf("[rehearsal] skip: %+v", r.Skip)
	}
	if r.GateTimeout.D() != 2*time.Minute || r.History != config.DefaultHistory {
		t.Errorf("[rehearsal]: %+v", r)
	}
	if cfg.Lock == nil || strings.Index(text, "[rehearsal]") < strings.Index(text, "[lock]") {
		t.Error("[rehearsal] must come after [lock], which follows [share]")
	}
}
