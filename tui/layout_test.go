package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

func sizedModel(t *testing.T, w, h int) *Model {
	cfg := bigConfig(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: nopJournal{}, Day: now, Now: now, Theme: theme.New(true, false)})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// TestRenderFillsTheTerminal: from the smallest supported terminal to a
// large one, the frame is exactly the terminal's size, in every mode.
func TestRenderFillsTheTerminal(t *testing.T) {
	for _, sz := range [][2]int{{60, 15}, {80, 24}, {100, 30}, {120, 40}, {149, 45}, {150, 45}, {200, 60}, {250, 70}} {
		w, h := sz[0], sz[1]
		for _, md := range []mode{modeNormal, modeHelp, modeQuit} {
			m := sizedModel(t, w, h)
			m.mode = md
			for _, zoom := range []bool{false, true} {
				m.zoom = zoom
				out := m.Render()
				lines := strings.Split(out, "\n")
				if len(lines) != h {
					t.Fatalf("%dx%d mode %d zoom %v: %d lines", w, h, md, zoom, len(lines))
				}
				for i, l := range lines {
					if lw := ansi.StringWidth(l); lw != w {
						t.Fatalf("%dx%d mode %d zoom %v: line %d is %d wide: %q", w, h, md, zoom, i, lw, ansi.Strip(l))
					}
				}
			}
		}
	}
}

func TestRenderTooSmall(t *testing.T) {
	for _, sz := range [][2]int{{59, 24}, {80, 14}, {1, 1}, {20, 5}} {
		m := sizedModel(t, sz[0], sz[1])
		out := m.Render()
		if sz[0] >= 18 && sz[1] >= 3 && !strings.Contains(out, "terminal too small") {
			t.Fatalf("%v: %q", sz, out)
		}
		if n := strings.Count(out, "\n") + 1; n > sz[1] {
			t.Fatalf("%v: %d lines", sz, n)
		}
	}
}

func TestSixPanesAndStatusBar(t *testing.T) {
	m := sizedModel(t, 120, 40)
	out := ansi.Strip(m.Render())
	for _, want := range []string{"1 Checklist", "2 Rollout", "3 DB locks", "4 Jira", "5 Errors", "6 Output", "✈ Bench · production", "09:00–12:30"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestFocusKeys(t *testing.T) {
	m := sizedModel(t, 120, 40)
	press := func(s string) {
		var k tea.KeyPressMsg
		switch s {
		case "tab":
			k = tea.KeyPressMsg{Code: tea.KeyTab}
		case "shift+tab":
			k = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
		default:
			k = tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
		}
		m.Update(k)
	}
	press("tab")
	if m.focus != paneRollout {
		t.Fatalf("tab: focus %d", m.focus)
	}
	press("shift+tab")
	press("shift+tab")
	if m.focus != paneOutput {
		t.Fatalf("shift+tab wraps: focus %d", m.focus)
	}
	press("4")
	if m.focus != paneJira {
		t.Fatalf("4: focus %d", m.focus)
	}
	press("z")
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "4 Jira") || strings.Contains(out, "1 Checklist") {
		t.Fatal("zoom must show the focused pane alone")
	}
	press("?")
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "Everywhere") || !strings.Contains(out, "check off") {
		t.Fatal("? must show the full help")
	}
}

func TestWindowClockInStatusBar(t *testing.T) {
	m := sizedModel(t, 200, 50)
	// 60 steps × 3 min = 3h of work at 10:00 with the window closing 12:30.
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "AT RISK") {
		t.Fatalf("want AT RISK:\n%s", strings.SplitN(out, "\n", 2)[0])
	}
	m.applyBatch(view.Batch{Status: &view.Status{Now: time.Date(2026, 11, 23, 12, 40, 0, 0, time.UTC)}})
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "ROLL BACK") {
		t.Fatalf("want ROLL BACK:\n%s", strings.SplitN(out, "\n", 2)[0])
	}
}

// TestReadOnlyRefusesEveryMutatingKey: in read-only mode each key that would
// change the world says so and starts nothing.
func TestReadOnlyRefusesEveryMutatingKey(t *testing.T) {
	cfg := bigConfig(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rec := &recordingJournal{}
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: rec, Day: now, Now: now,
		Theme: theme.New(true, true), ReadOnly: true, Kube: fake.NewClientset()})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	ok := map[string]snapshot.Health{"kubernetes": {Source: "kubernetes", State: snapshot.OK}, "postgres": {Source: "postgres", State: snapshot.OK}}
	m.applyBatch(view.Batch{
		Status: &view.Status{Now: now, Health: ok,
			LKG: map[string]snapshot.LastKnownGood{"production/api": {Namespace: "production", Name: "api", Image: "app:release-1", Revision: 1}}},
		Updates: []snapshot.Update{
			{Source: "kubernetes", At: now, GoodAt: now, Data: snapshot.Rollout{Deployments: []snapshot.Deployment{{Namespace: "production", Name: "api", Desired: 6}}}},
			{Source: "postgres", At: now, GoodAt: now, Data: snapshot.DBState{Targets: []snapshot.TargetLocks{{Name: "production", At: now, GoodAt: now,
				Backend: []snapshot.Backend{{PID: 10, State: "active"}, {PID: 11, State: "active", BlockedBy: []int32{10}}},
				Waits:   []snapshot.Wait{{PID: 11, BlockedBy: []int32{10}, Mode: "AccessShareLock", For: time.Minute}},
				Tree:    []snapshot.TreeRow{{PID: 10}, {PID: 11, Depth: 1}}}}}},
		}})
	press := func(s string) {
		k := tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
		if s == "enter" {
			k = tea.KeyPressMsg{Code: tea.KeyEnter}
		}
		_, cmd := m.Update(k)
		// Run what the key asked for, as the program would.
		for cmd != nil {
			msg := cmd()
			if msg == nil {
				break
			}
			if _, isBatch := msg.(tea.BatchMsg); isBatch {
				break
			}
			_, cmd = m.Update(msg)
		}
	}
	cases := []struct{ pane, key string }{
		{"1", "enter"}, // run the first (command) step
		{"2", "p"}, {"2", "r"}, {"2", "S"}, {"2", "u"},
		{"1", "R"}, {"2", "R"},
		{"3", "c"}, {"3", "K"},
	}
	for _, c := range cases {
		m.flash = nil
		press(c.pane)
		press(c.key)
		if m.flash == nil || !strings.Contains(m.flash.text, "read-only") {
			t.Errorf("pane %s key %s: flash %+v, want a read-only refusal", c.pane, c.key, m.flash)
		}
		if m.mode != modeNormal || len(m.status.Running) != 0 {
			t.Errorf("pane %s key %s: mode %d, %d running", c.pane, c.key, m.mode, len(m.status.Running))
		}
	}
	for _, r := range rec.records {
		if r.Type == runbook.RecIntent {
			t.Fatalf("read-only mode journaled an intent: %+v", r)
		}
	}
}

type recordingJournal struct{ records []journal.Record }

func (r *recordingJournal) Append(rec journal.Record) (journal.Record, error) {
	r.records = append(r.records, rec)
	return rec, nil
}

// TestUndoAsksForARevisionFromTheHistory: u on a deployment asks which
// revision to go back to, refuses one not in its history, and previews the
// rollback to the one given.
func TestUndoAsksForARevisionFromTheHistory(t *testing.T) {
	cfg := bigConfig(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: &recordingJournal{}, Day: now, Now: now,
		Theme: theme.New(true, true), Kube: fake.NewClientset()})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.applyBatch(view.Batch{Status: &view.Status{Now: now, Health: map[string]snapshot.Health{"kubernetes": {Source: "kubernetes", State: snapshot.OK}}},
		Updates: []snapshot.Update{{Source: "kubernetes", At: now, GoodAt: now, Data: snapshot.Rollout{Deployments: []snapshot.Deployment{{
			Namespace: "production", Name: "api", Desired: 6, Revision: 3,
			History: []snapshot.Revision{{Number: 3}, {Number: 2}, {Number: 1}}}}}}}})
	send := func(msg tea.Msg) tea.Cmd {
		_, cmd := m.Update(msg)
		for cmd != nil {
			next := cmd()
			if _, ok := next.(panes.KubeRequest); !ok {
				return cmd
			}
			_, cmd = m.Update(next)
		}
		return nil
	}
	typeText := func(s string) {
		for _, r := range s {
			send(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
	}
	send(tea.KeyPressMsg{Code: '2', Text: "2"})
	send(tea.KeyPressMsg{Code: 'u', Text: "u"})
	if m.mode != modeInput || !strings.Contains(m.input.Placeholder, "2, 1") {
		t.Fatalf("u: mode %d, placeholder %q; want a question listing revisions 2, 1", m.mode, m.input.Placeholder)
	}
	typeText("3")
	send(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.mode != modeInput || m.flash == nil || !strings.Contains(m.flash.text, "one of 2, 1") {
		t.Fatalf("the current revision was accepted: mode %d flash %+v", m.mode, m.flash)
	}
	m.input.Reset()
	typeText("1")
	if cmd := send(tea.KeyPressMsg{Code: tea.KeyEnter}); cmd == nil || m.mode != modeNormal {
		t.Fatalf("revision 1 started no preview (mode %d)", m.mode)
	}
	if !strings.Contains(m.flash.text, "preparing the preview") {
		t.Errorf("flash %q", m.flash.text)
	}
}

// TestEscReachesThePaneWhenThereIsNothingToDismiss: esc first dismisses a
// message; with none, it goes to the pane (it leaves the locks detail view).
func TestEscReachesThePaneWhenThereIsNothingToDismiss(t *testing.T) {
	cfg := bigConfig(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: &recordingJournal{}, Day: now, Now: now, Theme: theme.New(true, true)})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.applyBatch(view.Batch{Status: &view.Status{Now: now, Health: map[string]snapshot.Health{"postgres": {Source: "postgres", State: snapshot.OK}}},
		Updates: []snapshot.Update{{Source: "postgres", At: now, GoodAt: now, Data: snapshot.DBState{Targets: []snapshot.TargetLocks{{Name: "production", At: now, GoodAt: now,
			Backend: []snapshot.Backend{{PID: 10, State: "active"}, {PID: 11, State: "active", BlockedBy: []int32{10}}},
			Waits:   []snapshot.Wait{{PID: 11, BlockedBy: []int32{10}, For: time.Minute}}}}}}}})
	m.Update(tea.KeyPressMsg{Code: '3', Text: "3"})
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if !m.locks.Data.Detail {
		t.Fatal("enter did not open the detail view")
	}
	m.setFlash("something", false)
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.flash != nil || !m.locks.Data.Detail {
		t.Fatalf("the first esc should dismiss the message only (flash %v, detail %v)", m.flash, m.locks.Data.Detail)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.locks.Data.Detail {
		t.Error("esc with nothing to dismiss did not leave the detail view")
	}
}

// TestSentryWithNoEventsYetIsUpAndSaysSo: an environment Sentry has no
// event in yet is not Sentry down; the status bar says which it is.
func TestSentryWithNoEventsYetIsUpAndSaysSo(t *testing.T) {
	cfg, err := config.Parse("s.toml", []byte(`
[deploy]
name = "S"
environment = "production"
[window]
start = "00:00"
end = "23:59"
timezone = "UTC"
[sentry]
url = "http://127.0.0.1:1"
org = "acme"
projects = ["app"]
environment = "production"
token = "env:FD_TEST_SENTRY_TOKEN"
[[phase]]
name = "P"
[[phase.step]]
title = "Look"
estimate = "1m"
`), config.LoadOptions{DeferSecretErrors: true, Getenv: func(string) string { return "t" }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: &recordingJournal{}, Day: now, Now: now, Theme: theme.New(true, true)})
	m.applyBatch(view.Batch{Status: &view.Status{Now: now, Health: map[string]snapshot.Health{"sentry": {Source: "sentry", State: snapshot.OK}}},
		Updates: []snapshot.Update{{Source: "sentry", Seq: 1, At: now, GoodAt: now,
			Data: snapshot.ErrorRate{NoEvents: true, Environment: "production"}}}})
	if bar := ansi.Strip(m.healthMarks(healthFull)); !strings.Contains(bar, "● no events yet (production)") {
		t.Fatalf("status bar %q", bar)
	}
}
