package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/view"
)

// TestMessageGivesWayToKeyHints: a message that is not an error hides the
// key hints for a few seconds of the engine's clock, then goes.
func TestMessageGivesWayToKeyHints(t *testing.T) {
	m := sizedModel(t, 120, 40)
	start := m.now
	tick := func(d time.Duration) string {
		m.applyBatch(view.Batch{Status: &view.Status{Now: start.Add(d)}})
		return ansi.Strip(m.bottomLine(120))
	}
	m.setFlash("done: rolled back production/api", false)
	if line := tick(2 * time.Second); !strings.Contains(line, "rolled back") || strings.Contains(line, "? help") {
		t.Fatalf("after 2s: %q, want the message", line)
	}
	if line := tick(flashFor); strings.Contains(line, "rolled back") || !strings.Contains(line, "? help") {
		t.Fatalf("after %s: %q, want the key hints", flashFor, line)
	}
	if m.flash != nil {
		t.Fatal("the message is gone from the screen but esc would still dismiss it")
	}
	// A preview being prepared is still under way: its word stays.
	m.setFlash("rollback: preparing the preview…", false)
	m.preparing = m.flash
	if line := tick(flashFor + 10*time.Second); !strings.Contains(line, "preparing the preview") {
		t.Fatalf("a slow preview's message went: %q", line)
	}
}

// TestErrorKeepsTheHintsBesideIt: an error stays until dismissed, and the
// hints stay beside it, the message cut before "? help" is.
func TestErrorKeepsTheHintsBesideIt(t *testing.T) {
	for _, w := range []int{MinWidth, 80, 120, 200} {
		m := sizedModel(t, w, 24)
		m.setFlash("kube.rollback: production/api: deployments.apps \"api\" is forbidden: User \"ana@example.com\" cannot patch resource \"deployments\"", true)
		m.applyBatch(view.Batch{Status: &view.Status{Now: m.now.Add(time.Hour)}})
		line := m.bottomLine(w)
		plain := ansi.Strip(line)
		if ansi.StringWidth(line) != w {
			t.Fatalf("%d wide: the line is %d wide: %q", w, ansi.StringWidth(line), plain)
		}
		if !strings.HasPrefix(plain, "✕ kube.rollback") || !strings.HasSuffix(plain, "? help") {
			t.Fatalf("%d wide: %q, want the error and ? help", w, plain)
		}
	}
	m := sizedModel(t, 200, 24)
	m.setFlash("no such revision", true)
	if plain := ansi.Strip(m.bottomLine(200)); !strings.Contains(plain, "✕ no such revision") || !strings.HasSuffix(plain, "esc dismiss message • ? help") {
		t.Fatalf("a short error keeps both hints: %q", plain)
	}
}

// TestAdvisoryTakesTheBottomLine: ROLLBACK RECOMMENDED stays on screen
// with its reasons and R beside it, over a passing message but not over an
// error; a watcher sees it without the key it may not press.
func TestAdvisoryTakesTheBottomLine(t *testing.T) {
	m := sizedModel(t, 160, 40)
	adv := &view.Advisory{Since: m.now, Signals: []string{"api 4/6 pods failing to start", "errors 14× baseline (61/min)"}}
	m.applyBatch(view.Batch{Status: &view.Status{Now: m.now, Advisory: adv}})
	m.setFlash("done: ticked", false)
	line := ansi.Strip(m.bottomLine(160))
	if !strings.Contains(line, "ROLLBACK RECOMMENDED: api 4/6 pods failing to start; errors 14× baseline (61/min)") {
		t.Fatalf("no banner: %q", line)
	}
	if m.keys.Rollback.Enabled() && !strings.Contains(line, "R roll back") {
		t.Errorf("the banner does not offer R: %q", line)
	}
	m.setFlash("kube.rollback failed: forbidden", true)
	if line := ansi.Strip(m.bottomLine(160)); !strings.Contains(line, "forbidden") {
		t.Errorf("an error is hidden by the banner: %q", line)
	}
	m.flash = nil
	m.keys.Rollback.SetEnabled(false)
	if line := ansi.Strip(m.bottomLine(160)); strings.Contains(line, "R roll back") || !strings.Contains(line, "ROLLBACK RECOMMENDED") {
		t.Errorf("read-only: %q", line)
	}
	m.applyBatch(view.Batch{Status: &view.Status{Now: m.now}})
	if line := ansi.Strip(m.bottomLine(160)); strings.Contains(line, "ROLLBACK") {
		t.Errorf("cleared advisory still shown: %q", line)
	}
}
