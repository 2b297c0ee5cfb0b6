package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// huddleConfig has every source configured and a long deploy name, as a
// real runbook does.
const huddleConfig = `
[deploy]
name = "Vetspire production deploy"
environment = "production"
release = "release-{{date}}"
[window]
start = "09:00"
end = "12:30"
timezone = "Europe/London"
[kubernetes]
namespaces = ["production"]
selector = "app=vetspire"
[postgres]
[[postgres.target]]
name = "production"
dsn = "postgres:///app"
[jira]
url = "https://jira.example.com"
email = "deployer@example.com"
board = 42
project = "VET"
token = "env:FD_TEST_JIRA_TOKEN"
[git]
repo = "."
branches = ["master", "staging", "production"]
[sentry]
url = "https://sentry.example.com"
org = "vetspire"
projects = ["vetspire"]
environment = "production"
token = "env:FD_TEST_SENTRY_TOKEN"
[slack]
webhook = "env:FD_TEST_SLACK_WEBHOOK"
[[phase]]
name = "Deploy"
[[phase.step]]
title = "Merge staging into production"
estimate = "1h"
[[phase.step]]
title = "Migrate"
estimate = "2h"
`

// huddleModel is a view of a deploy with every source configured, one
// down and one stale, at 10:00 with three hours of steps before a 12:30
// deadline: AT RISK. A driver's view has two watchers.
func huddleModel(t *testing.T, readOnly bool, w, h int) *Model {
	t.Helper()
	cfg, err := config.Parse("huddle.toml", []byte(huddleConfig), config.LoadOptions{SkipSecrets: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: nopJournal{}, Day: now, Now: now,
		Theme: theme.New(true, true), ReadOnly: readOnly, Operator: "bob", Driver: "ana"})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	health := map[string]snapshot.Health{}
	for _, sec := range snapshot.Sections {
		health[sec] = snapshot.Health{Source: sec, State: snapshot.OK}
	}
	health["postgres"] = snapshot.Health{Source: "postgres", State: snapshot.Down, Reason: "dial unix /cloudsql/.s.PGSQL.5432: connect: no such file or directory"}
	health["jira"] = snapshot.Health{Source: "jira", State: snapshot.Stale, Age: 95 * time.Second}
	m.applyBatch(view.Batch{Status: &view.Status{Now: now, Health: health, Watchers: []string{"bob", "cleo\x1b]52;c;Zm9v\x07"}}})
	return m
}

// TestStatusBarKeepsEveryHealthMark: from the smallest terminal up, every
// configured source has its mark, a read-only view its banner and the
// driver its watchers, the bar exactly as wide as the terminal.
func TestStatusBarKeepsEveryHealthMark(t *testing.T) {
	for _, ro := range []bool{false, true} {
		for _, late := range []bool{false, true} {
			for w := MinWidth; w <= 260; w++ {
				m := huddleModel(t, ro, w, 24)
				if late {
					m.now = time.Date(2026, 11, 23, 12, 40, 0, 0, time.UTC)
				}
				bar := m.statusBar(w)
				plain := ansi.Strip(bar)
				if got := ansi.StringWidth(bar); got != w {
					t.Fatalf("read-only %v, %d wide: the bar is %d wide: %q", ro, w, got, plain)
				}
				for _, sec := range snapshot.Sections {
					if !strings.Contains(plain, shortName[sec]) {
						t.Fatalf("read-only %v, %d wide: no mark for %s: %q", ro, w, sec, plain)
					}
				}
				if !strings.Contains(plain, "✕") || !strings.Contains(plain, "◐") {
					t.Fatalf("read-only %v, %d wide: the down or the stale mark is missing: %q", ro, w, plain)
				}
				phase := "AT RISK"
				if late {
					phase = "ROLL BACK"
				}
				if !strings.Contains(plain, phase) {
					t.Fatalf("read-only %v, %d wide: the clock lost %s: %q", ro, w, phase, plain)
				}
				if w < 80 {
					continue
				}
				if ro && !strings.Contains(plain, "driven by ana") {
					t.Fatalf("%d wide: a viewer's banner must name the driver: %q", w, plain)
				}
				if !ro && !strings.Contains(plain, "👀 2") {
					t.Fatalf("%d wide: the driver must see two watchers: %q", w, plain)
				}
				if ro && strings.Contains(plain, "👀 2") {
					t.Fatalf("%d wide: a viewer is shown the watchers: %q", w, plain)
				}
			}
		}
	}
}

// TestStatusBarGivesWayInOrder: the release goes first, then the clock's
// detail, then the deploy's name; the marks say less only after that.
func TestStatusBarGivesWayInOrder(t *testing.T) {
	for w := MinWidth; w <= 300; w++ {
		m := huddleModel(t, false, w, 24)
		plain := ansi.Strip(m.statusBar(w))
		release := strings.Contains(plain, "release-2026-11-23")
		fullClock := strings.Contains(plain, "09:00–12:30 AT RISK:")
		someClock := strings.Contains(plain, "10:00 AT RISK")
		fullName := strings.Contains(plain, "Vetspire production deploy · production")
		fullMarks := strings.Contains(plain, "pg ✕ down: dial unix")
		switch {
		case release && !fullClock:
			t.Fatalf("%d wide: the clock gave way before the release: %q", w, plain)
		case fullClock && !strings.Contains(plain, "bob, cleo"):
			t.Fatalf("%d wide: the watchers' names gave way before the clock: %q", w, plain)
		case someClock && !fullName:
			t.Fatalf("%d wide: the name gave way before the clock: %q", w, plain)
		case fullMarks && !fullName:
			t.Fatalf("%d wide: the name gave way before the marks: %q", w, plain)
		}
	}
	m := huddleModel(t, false, 300, 24)
	if plain := ansi.Strip(m.statusBar(300)); !strings.Contains(plain, "release-2026-11-23") || !strings.Contains(plain, "pg ✕ down: dial unix") {
		t.Fatalf("300 wide says everything: %q", plain)
	}
}

// TestStatusBarBanner: a read-only view says whose deploy it watches, in
// reverse video; with no driver to attach to, that it follows the journal.
func TestStatusBarBanner(t *testing.T) {
	m := huddleModel(t, true, 200, 40)
	bar := m.statusBar(200)
	if !strings.Contains(bar, m.th.Banner.S(" watching Vetspire production deploy · driven by ana ")) {
		t.Fatalf("banner: %q", bar)
	}
	m.opts.Driver = ""
	m.touchAll()
	if plain := ansi.Strip(m.statusBar(200)); !strings.Contains(plain, " following the journal of Vetspire production deploy ") || strings.Contains(plain, "driven by") {
		t.Fatalf("no driver: %q", plain)
	}
	if plain := ansi.Strip(m.statusBar(80)); !strings.Contains(plain, " following the journal ") {
		t.Fatalf("no driver, 80 wide: %q", plain)
	}
}

// TestWatchersNamesAreCleaned: a watcher's name comes from an SSH key's
// comment: whatever it holds, no control sequence reaches the screen.
func TestWatchersNamesAreCleaned(t *testing.T) {
	m := huddleModel(t, false, 300, 40)
	bar := m.statusBar(300)
	if strings.ContainsAny(bar, "\x07") || strings.Contains(bar, "\x1b]") {
		t.Fatalf("a control sequence from a key comment reached the screen: %q", bar)
	}
	if plain := ansi.Strip(bar); !strings.Contains(plain, "👀 2: bob, cleo") {
		t.Fatalf("watchers: %q", plain)
	}
}

// TestStatusBarGolden: the bar at a huddle's 80×24, without colour.
func TestStatusBarGolden(t *testing.T) {
	for _, c := range []struct {
		name     string
		readOnly bool
	}{{"driver", false}, {"viewer", true}} {
		t.Run(c.name, func(t *testing.T) {
			m := huddleModel(t, c.readOnly, 80, 24)
			golden.RequireEqual(t, m.statusBar(80)+"\n")
		})
	}
}
