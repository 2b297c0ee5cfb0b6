package panes

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

var (
	errT0      = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	errStart   = time.Date(2026, 11, 23, 10, 2, 20, 0, time.UTC)
	errRollbck = time.Date(2026, 11, 23, 10, 9, 40, 0, time.UTC)
)

// errSeries is an hour of a healthy release, a bad release from 10:02 and
// a rollback at 10:09, up to (not including) end.
func errSeries(end time.Time) []snapshot.ErrorPoint {
	var pts []snapshot.ErrorPoint
	for at, i := errT0, 0; at.Before(end); at, i = at.Add(time.Minute), i+1 {
		n := 2 + (i*7)%5 // 2…6 a minute
		switch {
		case !at.Before(errStart.Truncate(time.Minute).Add(time.Minute)) && at.Before(errRollbck.Truncate(time.Minute)):
			n = 38 + (i*13)%23
		case at.Equal(errStart.Truncate(time.Minute)):
			n = 19
		case at.Equal(errRollbck.Truncate(time.Minute)):
			n = 27
		}
		pts = append(pts, snapshot.ErrorPoint{At: at, Count: n})
	}
	return pts
}

func errIssues() []snapshot.SentryIssue {
	return []snapshot.SentryIssue{
		{ID: "31", ShortID: "VETSPIRE-1F", Title: "KeyError: key :clinic_id not found in: %{appointment_id: 4412, patient_id: 9120}", Events: 212, Users: 23, FirstSeen: errStart.Add(41 * time.Second), FirstRelease: "2026.11.23"},
		{ID: "32", ShortID: "VETSPIRE-1G", Title: "Ecto.Query.CastError: value `\"undefined\"` in `where` cannot be cast to type :id in query", Events: 97, Users: 11, FirstSeen: errStart.Add(65 * time.Second), FirstRelease: "2026.11.23"},
		{ID: "33", ShortID: "VETSPIRE-1H", Title: "FunctionClauseError: no function clause matching in App.Billing.line_total/1", Events: 38, Users: 4, FirstSeen: errStart.Add(3 * time.Minute)},
		{ID: "34", ShortID: "VETSPIRE-1J", Title: "DBConnection.ConnectionError: connection not available and request was dropped from queue after 2000ms", Events: 40, Users: 9, FirstSeen: errStart.Add(2 * time.Minute)},
	}
}

func errRule() snapshot.ErrorRule {
	return snapshot.ErrorRule{Baseline: time.Hour, Factor: 3, Floor: 10, Intervals: 2, Interval: time.Minute,
		Ignore: []*regexp.Regexp{regexp.MustCompile(`^DBConnection\.`)}}
}

func errorsView(end time.Time, rollbacks ...time.Time) ErrorsView {
	st := snapshot.BuildErrorRate(snapshot.ErrorInput{
		Series: errSeries(end), Issues: errIssues(), Excluded: 1,
		Marks: snapshot.DeployMarks{Start: errStart, Release: "2026.11.23", Rollbacks: rollbacks},
	}, errRule())
	london, _ := time.LoadLocation("Europe/London")
	return ErrorsView{
		Source: SourceView{Number: 5, Title: "Errors", Section: "sentry", Configured: true,
			Health: snapshot.Health{Source: "sentry", State: snapshot.OK}},
		State: st, HasData: true, Loc: london,
	}
}

func errorFixtures() map[string]ErrorsView {
	down := errorsView(time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), errRollbck)
	down.Source.Health = snapshot.Health{Source: "sentry", State: snapshot.Down, Reason: "Sentry rate limit reached: GET /api/0/organizations/vetspire/events-stats/: 429 Too Many Requests; waiting 30s before asking again"}
	return map[string]ErrorsView{
		"spike":     errorsView(time.Date(2026, 11, 23, 10, 8, 0, 0, time.UTC)),
		"recovered": errorsView(time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), errRollbck),
		"down":      down,
		"predeploy": func() ErrorsView {
			v := errorsView(errStart.Truncate(time.Minute))
			v.State = snapshot.BuildErrorRate(snapshot.ErrorInput{Series: errSeries(errStart.Truncate(time.Minute))}, errRule())
			return v
		}(),
	}
}

func TestRenderErrorsGolden(t *testing.T) {
	for name, v := range errorFixtures() {
		for _, w := range widths {
			t.Run(fmt.Sprintf("%s/w%d", name, w), func(t *testing.T) {
				out := RenderErrors(v, w, 20, dark)
				assertBox(t, out, w, 20)
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestRenderErrorsSaysWhatMatters(t *testing.T) {
	out := ansi.Strip(RenderErrors(errorFixtures()["spike"], 120, 24, dark))
	for _, want := range []string{
		"58/min at 10:07", "14.5× baseline 4 ± 1.4/min over 60m before 10:02",
		"SPIKE  over 12/min for 6 intervals, since 10:02", "peak 58/min at 10:07",
		"3 new since 10:02, 1 ignored", "VETSPIRE-1F", "212ev", "23u", "10:03",
		"▲ deploy 10:02",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the pane lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"VETSPIRE-1J", "DBConnection"} {
		if strings.Contains(out, not) {
			t.Errorf("the pane shows the ignored %q:\n%s", not, out)
		}
	}
	out = ansi.Strip(RenderErrors(errorFixtures()["recovered"], 120, 24, dark))
	for _, want := range []string{"✓ no spike", "↺ rollback 10:09"} {
		if !strings.Contains(out, want) {
			t.Errorf("after the rollback the pane lacks %q:\n%s", want, out)
		}
	}
}

// TestErrorChartMarksLineUp: the deploy and rollback marks sit under the
// columns of the intervals they happened in, and the spike's bars reach
// the top while the baseline's stay low.
func TestErrorChartMarksLineUp(t *testing.T) {
	v := errorFixtures()["recovered"] // 90 intervals from 09:00
	lines := renderErrorChart(v.State, 100, 6, func(t time.Time) string { return t.UTC().Format("15:04") }, dark)
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 6 rows, the axis and the times", len(lines))
	}
	axis := []rune(ansi.Strip(lines[6]))
	top := []rune(ansi.Strip(lines[0]))
	// The axis starts at the label's corner, then 97 - 90 = 7 columns of
	// padding before the first interval (09:00).
	corner := 0
	for i, r := range axis {
		if r == '└' {
			corner = i
			break
		}
	}
	first := corner + 1 + 7
	if got := axis[first+62]; got != '▲' {
		t.Errorf("column of 10:02 on the axis is %q, want ▲:\n%s", got, ansi.Strip(strings.Join(lines, "\n")))
	}
	if got := axis[first+69]; got != '↺' {
		t.Errorf("column of 10:09 on the axis is %q, want ↺", got)
	}
	for i := first; i < first+60; i++ {
		if top[i] != ' ' && top[i] != '╌' {
			t.Fatalf("a baseline minute reaches the top row at column %d: %q", i, string(top))
		}
	}
	peak := 0
	for i := first + 63; i < first+69; i++ {
		if top[i] != ' ' && top[i] != '╌' {
			peak++
		}
	}
	if peak == 0 {
		t.Errorf("no spike minute reaches the top row: %q", string(top))
	}
}

// TestErrorChartFoldsKeepingPeaks: a day of intervals in 40 columns keeps
// a single bad minute visible.
func TestErrorChartFoldsKeepingPeaks(t *testing.T) {
	pts := make([]snapshot.ErrorPoint, 1440)
	for i := range pts {
		pts[i] = snapshot.ErrorPoint{At: errT0.Add(time.Duration(i) * time.Minute), Count: 3}
	}
	pts[777].Count = 90
	st := snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts}, errRule())
	lines := renderErrorChart(st, 40, 4, func(t time.Time) string { return t.Format("15:04") }, dark)
	top := ansi.Strip(lines[0])
	if strings.Count(top, "█") != 1 {
		t.Errorf("the one bad minute is not one full column on the top row: %q", top)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line is %d cells wide: %q", w, ansi.Strip(l))
		}
	}
}

func TestRenderErrorsIsABoxAtEverySize(t *testing.T) {
	for _, v := range errorFixtures() {
		for w := 2; w <= 130; w += 9 {
			for h := 2; h <= 30; h += 3 {
				assertBox(t, RenderErrors(v, w, h, dark), w, h)
			}
		}
	}
}

func TestErrorsPane(t *testing.T) {
	p := NewErrors(ErrorsSettings{ConfigPath: "/etc/flightdeck/vetspire.toml", Configured: true,
		Org: "vetspire", Projects: []string{"vetspire"}, Environment: "production",
		Baseline: time.Hour, SpikeFactor: 3, SpikeFloor: 10, SpikeIntervals: 3, Ignore: []string{`^DBConnection\.`},
	}, dark)
	var _ Pane = p
	p.Show(snapshot.Feed[snapshot.ErrorRate]{Reach: []snapshot.Reach{{Section: "sentry", Target: "https://sentry.io", Detail: "organization Vetspire"}},
		Health: snapshot.Health{Source: "sentry", State: snapshot.OK}})
	before := ansi.Strip(p.View(80, 12))
	if !strings.Contains(before, "organization Vetspire") || !strings.Contains(before, "ignored: ^DBConnection") {
		t.Errorf("before data the pane shows the source:\n%s", before)
	}
	v := errorFixtures()["spike"]
	p.Show(snapshot.Feed[snapshot.ErrorRate]{Data: v.State, HasData: true, Health: snapshot.Health{Source: "sentry", State: snapshot.OK}})
	p.SetFocused(true)
	after := ansi.Strip(p.View(80, 20))
	if !strings.Contains(after, "SPIKE") || strings.Contains(after, "organization Vetspire") {
		t.Errorf("with data the pane shows the error rate:\n%s", after)
	}
	if got, _ := p.Update(nil); got != Pane(p) {
		t.Error("Update returned another pane")
	}
}

func BenchmarkRenderErrorsChart(b *testing.B) {
	pts := make([]snapshot.ErrorPoint, 1440)
	for i := range pts {
		n := 2 + (i*7)%5
		if i > 1300 && i < 1330 {
			n = 50 + i%17
		}
		pts[i] = snapshot.ErrorPoint{At: errT0.Add(time.Duration(i) * time.Minute), Count: n}
	}
	st := snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts, Issues: errIssues(),
		Marks: snapshot.DeployMarks{Start: errT0.Add(1300 * time.Minute), Rollbacks: []time.Time{errT0.Add(1330 * time.Minute)}}}, errRule())
	v := errorsView(errT0)
	v.State = st
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderErrors(v, 200, 40, dark)
	}
}
