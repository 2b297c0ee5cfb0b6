package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestNoColorAlarmsAreReverseAndWorded: under NO_COLOR the states the
// huddle must act on are told apart by their words, and each stands out in
// reverse video, as nothing else in its line does by colour.
func TestNoColorAlarmsAreReverseAndWorded(t *testing.T) {
	th := theme.New(true, true)
	now := time.Date(2026, 11, 23, 10, 8, 0, 0, time.UTC)
	atRisk := huddleModel(t, false, 200, 40)
	rollBack := huddleModel(t, false, 200, 40)
	rollBack.now = time.Date(2026, 11, 23, 12, 40, 0, 0, time.UTC)
	spike := panes.RenderErrors(panes.ErrorsView{
		Source:  panes.SourceView{Number: 5, Title: "Errors", Section: "sentry", Configured: true, Health: snapshot.Health{Source: "sentry", State: snapshot.OK}},
		HasData: true, Loc: time.UTC,
		State: snapshot.ErrorRate{Interval: time.Minute, Threshold: 12, Streak: 3, Spike: true, SpikeSince: now.Add(-3 * time.Minute),
			Rule: snapshot.ErrorRule{Intervals: 3}},
	}, 100, 12, th)
	stalled := panes.RenderRollout(panes.RolloutView{
		Source:  panes.SourceView{Number: 2, Title: "Rollout", Section: "kubernetes", Configured: true, Health: snapshot.Health{Source: "kubernetes", State: snapshot.OK}},
		HasData: true, Now: now,
		State: snapshot.Rollout{Deployments: []snapshot.Deployment{{Namespace: "production", Name: "api", Desired: 6, Updated: 1, Ready: 6, Phase: snapshot.Stalled}}},
	}, 100, 12, th)
	cases := []struct{ word, screen string }{
		{"AT RISK", atRisk.statusBar(200)},
		{"ROLL BACK", rollBack.statusBar(200)},
		{"SPIKE", spike},
		{"STALLED", stalled},
	}
	plains := map[string]string{}
	for _, c := range cases {
		line := lineWith(c.screen, c.word)
		if line == "" {
			t.Fatalf("%s is not on the screen:\n%s", c.word, ansi.Strip(c.screen))
		}
		if !reversed(line, c.word) {
			t.Errorf("%s is not in reverse video: %q", c.word, line)
		}
		plains[c.word] = ansi.Strip(line)
	}
	for a, pa := range plains {
		for b := range plains {
			if a != b && strings.Contains(pa, b) {
				t.Errorf("the line with %s also says %s: %q", a, b, pa)
			}
		}
	}
}

func lineWith(screen, word string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(ansi.Strip(l), word) {
			return l
		}
	}
	return ""
}

// reversed reports whether word appears in s while reverse video (SGR 7)
// is on.
func reversed(s, word string) bool {
	on := false
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "\x1b[") {
			end := strings.IndexByte(s[i:], 'm')
			if end < 0 {
				return false
			}
			for _, p := range strings.Split(s[i+2:i+end], ";") {
				switch p {
				case "", "0":
					on = false
				case "7":
					on = true
				case "27":
					on = false
				}
			}
			i += end + 1
			continue
		}
		if on && strings.HasPrefix(s[i:], word) {
			return true
		}
		i++
	}
	return false
}
