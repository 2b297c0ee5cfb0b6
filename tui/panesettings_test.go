package tui

import (
	"reflect"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestPaneSettings: each source pane is given every field it shows of its
// section, and only the path while the section is missing.
func TestPaneSettings(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	const path = "/etc/flightdeck/acme.toml"
	cfg := &config.Config{
		Path:   path,
		Window: config.Window{Location: london},
		Kubernetes: &config.Kubernetes{Context: "prod", Namespaces: []string{"production"}, Deployments: []string{"api"},
			Selector: "app=acme", ProgressTimeout: config.Duration(10 * time.Minute)},
		Postgres: &config.Postgres{Poll: config.Duration(time.Second), LockThreshold: config.Duration(30 * time.Second),
			LongQuery: config.Duration(time.Minute), Targets: []config.PostgresTarget{{Name: "production"}, {Name: "clone"}}},
		Jira: &config.Jira{Board: 12, Project: "ACME",
			Columns: []config.JiraColumn{{Name: "Staging", MergedTo: "staging", NotMergedTo: "production", CheckRelease: true, NoBlockers: true}},
			Moves:   []config.JiraMove{{From: []string{"Staging"}, To: "Production"}}},
		Sentry: &config.Sentry{Org: "acme", Projects: []string{"app"}, Environment: "production", Baseline: config.Duration(time.Hour),
			SpikeFactor: 3, SpikeFloor: 10, SpikeIntervals: 3, Ignore: []string{"^DBConnection"}},
	}
	for name, c := range map[string]struct{ got, want any }{
		"rollout": {RolloutSettings(cfg), panes.RolloutSettings{ConfigPath: path, Configured: true, Context: "prod",
			Namespaces: []string{"production"}, Deployments: []string{"api"}, Selector: "app=acme", ProgressTimeout: 10 * time.Minute, Location: london}},
		"locks": {LocksSettings(cfg), panes.LocksSettings{ConfigPath: path, Configured: true, Targets: []string{"production", "clone"},
			LockThreshold: 30 * time.Second, LongQuery: time.Minute, Poll: time.Second}},
		"jira": {JiraSettings(cfg), panes.JiraSettings{ConfigPath: path, Configured: true, Board: 12, Project: "ACME",
			Columns: []snapshot.ColumnRules{{Name: "Staging", MergedTo: "staging", NotMergedTo: "production", CheckRelease: true, NoBlockers: true}},
			Moves:   []panes.JiraMove{{From: []string{"Staging"}, To: "Production"}}}},
		"errors": {ErrorsSettings(cfg), panes.ErrorsSettings{ConfigPath: path, Configured: true, Org: "acme", Projects: []string{"app"},
			Environment: "production", Baseline: time.Hour, SpikeFactor: 3, SpikeFloor: 10, SpikeIntervals: 3,
			Ignore: []string{"^DBConnection"}, Location: london}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, c.got, c.want)
		}
	}

	bare := &config.Config{Path: path}
	for name, c := range map[string]struct{ got, want any }{
		"rollout": {RolloutSettings(bare), panes.RolloutSettings{ConfigPath: path}},
		"locks":   {LocksSettings(bare), panes.LocksSettings{ConfigPath: path}},
		"jira":    {JiraSettings(bare), panes.JiraSettings{ConfigPath: path}},
		"errors":  {ErrorsSettings(bare), panes.ErrorsSettings{ConfigPath: path}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s without its section:\n got %+v\nwant %+v", name, c.got, c.want)
		}
	}
}
