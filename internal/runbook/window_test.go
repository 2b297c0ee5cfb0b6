package runbook

import (
	"strings"
	"testing"
	"time"
)

func TestWindowPhases(t *testing.T) {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	start, end := day.Add(9*time.Hour), day.Add(12*time.Hour+30*time.Minute)
	cases := []struct {
		name      string
		now       time.Time
		remaining time.Duration
		finished  bool
		want      WindowPhase
		words     string
	}{
		{"before, fits", day.Add(8 * time.Hour), 2 * time.Hour, false, BeforeWindow, "opens in 1h00m"},
		{"before, cannot fit", day.Add(8 * time.Hour), 5 * time.Hour, false, AtRisk, "AT RISK"},
		{"on track", day.Add(10 * time.Hour), time.Hour, false, InWindow, "2h30m left"},
		{"exactly fits", day.Add(11 * time.Hour), 90 * time.Minute, false, InWindow, "1h30m left"},
		{"at risk", day.Add(11 * time.Hour), 2 * time.Hour, false, AtRisk, "AT RISK: 2h00m of steps, 1h30m left"},
		{"past deadline", day.Add(12*time.Hour + 35*time.Minute), 10 * time.Minute, false, RollBack, "ROLL BACK: 5m past the 12:30 deadline"},
		{"finished late is finished", day.Add(13 * time.Hour), 0, true, Finished, "all steps closed"},
	}
	for _, c := range cases {
		w := Window(c.now, start, end, time.Time{}, c.remaining, c.finished)
		if w.Phase != c.want {
			t.Errorf("%s: phase %s, want %s", c.name, w.Phase, c.want)
		}
		if !strings.Contains(w.Summary(), c.words) {
			t.Errorf("%s: summary %q, want it to contain %q", c.name, w.Summary(), c.words)
		}
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Second:                 "40s",
		5 * time.Minute:                  "5m",
		5*time.Minute + 7*time.Second:    "5m07s",
		14 * time.Minute:                 "14m",
		2*time.Hour + 5*time.Minute:      "2h05m",
		-(3 * time.Minute):               "3m",
		1500 * time.Millisecond:          "2s",
		59*time.Minute + 59*time.Second:  "59m",
		119*time.Minute + 59*time.Second: "1h59m",
	} {
		if got := Short(d); got != want {
			t.Errorf("Short(%s) = %q, want %q", d, got, want)
		}
	}
}
