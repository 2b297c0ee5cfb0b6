package sandbox

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// TestConfigSmoke: with the daemon's health endpoint the written config
// checks it from the deploy's start and gates the post-deploy phase on it,
// right after the crash-loop gate; a daemon from before the endpoint gets
// a config with neither, which still loads.
func TestConfigSmoke(t *testing.T) {
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
	load := func() *config.Config {
		t.Helper()
		cfg, err := config.Parse(filepath.Join(dir, ConfigFile), []byte(renderConfig(info, "/bin/true", time.Now())), config.LoadOptions{})
		if err != nil {
			t.Fatalf("the written config does not load:\n%v", err)
		}
		return cfg
	}

	cfg := load()
	if len(cfg.Smoke) != 1 {
		t.Fatalf("%d smoke checks, want 1", len(cfg.Smoke))
	}
	sm := cfg.Smoke[0]
	if sm.Name != "api health" || sm.URL != info.AppHealthURL || sm.Status != 200 || sm.Body != `"status":\s*"ok"` {
		t.Errorf("smoke check: %+v", sm)
	}
	var ids []string
	gate := ""
	for _, s := range cfg.Steps() {
		ids = append(ids, s.ID)
		if s.ID == "post/smoke" {
			gate = s.Gate
		}
	}
	if gate != "smoke.passing" {
		t.Errorf("post/smoke gate = %q", gate)
	}
	for i, id := range ids {
		if id == "post/no-crashloops" && (i+1 >= len(ids) || ids[i+1] != "post/smoke") {
			t.Errorf("post/smoke does not follow post/no-crashloops: %v", ids)
		}
	}

	info.AppHealthURL = ""
	cfg = load()
	if len(cfg.Smoke) != 0 {
		t.Errorf("smoke checks without an endpoint: %+v", cfg.Smoke)
	}
	for _, s := range cfg.Steps() {
		if s.ID == "post/smoke" {
			t.Error("a smoke gate without smoke checks")
		}
	}
}
