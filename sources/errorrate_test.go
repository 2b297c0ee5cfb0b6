package sources_test

import (
	"context"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

func rateSeries(from time.Time, counts ...int) []snapshot.ErrorPoint {
	out := make([]snapshot.ErrorPoint, len(counts))
	for i, c := range counts {
		out[i] = snapshot.ErrorPoint{At: from.Add(time.Duration(i) * time.Minute), Count: c}
	}
	return out
}

func rateRule(intervals int) snapshot.ErrorRule {
	return snapshot.ErrorRule{Baseline: 10 * time.Minute, Factor: 3, Floor: 10, Intervals: intervals, Interval: time.Minute}
}

func TestBuildErrorRateBaselineAndSpike(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 50, 0, 0, time.UTC)
	start := t0.Add(10*time.Minute + 20*time.Second) // 10:00:20
	// Ten minutes of baseline, the minute the deploy started in (not in
	// the baseline), a calm minute, then three bad ones.
	pts := rateSeries(t0, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 40, 14, 31, 35, 33)
	e := snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts, Marks: snapshot.DeployMarks{Start: start}}, rateRule(3))
	if e.Baseline.Samples != 10 || e.Baseline.Mean != 5 || e.Baseline.Spread != 1 {
		t.Fatalf("baseline %+v, want mean 5 ± 1 over 10", e.Baseline)
	}
	if e.Threshold != 15 {
		t.Errorf("threshold %v, want 15 (3 × 5)", e.Threshold)
	}
	if e.Current.Count != 33 || e.Streak != 3 || !e.Spike || !e.SpikeSince.Equal(t0.Add(12*time.Minute)) {
		t.Errorf("current %v streak %d spike %v since %v", e.Current, e.Streak, e.Spike, e.SpikeSince)
	}
	if r, ok := e.Ratio(); !ok || r != 6.6 {
		t.Errorf("ratio %v %v, want 6.6", r, ok)
	}
	if !e.HasPeak || e.Peak.Count != 40 {
		t.Errorf("peak %+v", e.Peak)
	}
	f := e.Facts()
	if fact := f["sentry.no_spike"]; !fact.Known || fact.Bool || !strings.Contains(fact.Detail, "spike: 33/min, over 15/min for 3 intervals") {
		t.Errorf("no_spike fact %+v", fact)
	}

	// One interval short of the rule is not a spike.
	e = snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts, Marks: snapshot.DeployMarks{Start: start}}, rateRule(4))
	if e.Spike || e.Streak != 3 {
		t.Errorf("4 intervals: spike %v streak %d", e.Spike, e.Streak)
	}
	if fact := e.Facts()["sentry.no_spike"]; !fact.Known || !fact.Bool {
		t.Errorf("no_spike fact %+v", fact)
	}
}

func TestBuildErrorRateFloor(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 50, 0, 0, time.UTC)
	// A quiet service: 1 a minute, then 8: eight times the baseline, but
	// under the floor of 10, so not a spike.
	pts := rateSeries(t0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 8, 8)
	e := snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts, Marks: snapshot.DeployMarks{Start: t0.Add(10 * time.Minute)}}, rateRule(2))
	if e.Spike || e.Streak != 0 || e.Threshold != 10 {
		t.Errorf("spike %v streak %d threshold %v", e.Spike, e.Streak, e.Threshold)
	}
	// Over the floor but the streak is broken by the newest interval.
	pts = rateSeries(t0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 12, 12, 12, 9)
	e = snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts, Marks: snapshot.DeployMarks{Start: t0.Add(10 * time.Minute)}}, rateRule(2))
	if e.Spike || e.Streak != 0 {
		t.Errorf("broken streak: spike %v streak %d", e.Spike, e.Streak)
	}
}

func TestBuildErrorRateBeforeDeploy(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 50, 0, 0, time.UTC)
	pts := rateSeries(t0, 5, 5, 5, 5, 5, 5, 5, 5, 30, 30)
	e := snapshot.BuildErrorRate(snapshot.ErrorInput{Series: pts}, rateRule(2))
	// The baseline is what came before the judged intervals.
	if e.Baseline.Mean != 5 || e.Baseline.Samples != 8 || !e.Spike {
		t.Errorf("baseline %+v spike %v", e.Baseline, e.Spike)
	}
	if e.HasPeak {
		t.Error("a peak since a deploy that has not started")
	}
	if f := e.Facts()["sentry.no_new_issues"]; f.Known {
		t.Errorf("new issues known before the deploy: %+v", f)
	}
	if f := (snapshot.ErrorRate{}).Facts()["sentry.no_spike"]; f.Known {
		t.Errorf("no_spike known without data: %+v", f)
	}
}

func TestBuildErrorRateIgnoresIssues(t *testing.T) {
	r := rateRule(2)
	r.Ignore = []*regexp.Regexp{regexp.MustCompile(`^DBConnection\.`)}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	issues := []snapshot.SentryIssue{
		{ID: "1", ShortID: "APP-1", Title: "DBConnection.ConnectionError: connection not available", Events: 90},
		{ID: "2", ShortID: "APP-2", Title: "KeyError: key :clinic_id not found", Events: 12},
		{ID: "3", ShortID: "APP-3", Title: "Ecto.Query.CastError: value cannot be cast", Events: 30},
	}
	e := snapshot.BuildErrorRate(snapshot.ErrorInput{Issues: issues, Marks: snapshot.DeployMarks{Start: start}}, r)
	if len(e.NewIssues) != 2 || e.NewIssues[0].ShortID != "APP-3" || e.NewIssues[1].ShortID != "APP-2" || e.HiddenNew != 1 {
		t.Fatalf("new %+v hidden %d", e.NewIssues, e.HiddenNew)
	}
	f := e.Facts()["sentry.no_new_issues"]
	if !f.Known || f.Bool || f.Detail != "2 new: APP-3, APP-2" {
		t.Errorf("fact %+v", f)
	}
	e = snapshot.BuildErrorRate(snapshot.ErrorInput{Issues: issues[:1], Marks: snapshot.DeployMarks{Start: start}}, r)
	if f := e.Facts()["sentry.no_new_issues"]; !f.Known || !f.Bool || f.Detail != "no new issues (1 ignored)" {
		t.Errorf("only ignored: %+v", f)
	}
}

func TestNewErrorRuleDefaults(t *testing.T) {
	r, err := sources.NewErrorRule(&config.Sentry{Ignore: []string{"^A"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Baseline != time.Hour || r.Factor != 3 || r.Floor != 0 || r.Intervals != 3 || !r.Ignored("AB") || r.Ignored("BA") {
		t.Errorf("rule %+v", r)
	}
	if _, err := sources.NewErrorRule(&config.Sentry{Ignore: []string{"("}}); err == nil {
		t.Error("a bad regexp compiled")
	}
}

// sentrySimClock runs simulated time at speed× real time from simStart, the
// mapping the traffic simulator uses for its event timestamps, so the
// stand-in, the simulator and the source agree on "now".
type sentrySimClock struct {
	realStart time.Time
	simStart  time.Time
	speed     float64
}

func (c sentrySimClock) Now() time.Time {
	return c.simStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.speed))
}

// TestSentrySourceFlagsBadRelease runs the deploy of a bad release through
// the real SDK: good traffic for the baseline, then the bad profile. The
// source must stay quiet on the good release, flag the spike within two
// intervals of the bad release's first full minute, list its new issue
// types, and hide what the ignore list names — both from the new issues
// and from the counts.
func TestSentrySourceFlagsBadRelease(t *testing.T) {
	// A simulated minute every 300 ms: slow enough that the SDK keeps up
	// with the bad release's 200 events a second under the race detector.
	const speed = 200
	clk := sentrySimClock{realStart: time.Now(), simStart: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), speed: speed}
	stub, ts := newSentryStub(t, sentrystub.Options{Now: clk.Now})

	var bad atomic.Bool
	sim := &sentrystub.Simulator{
		DSN: stub.DSN(ts.URL, "app"), Environment: "production",
		Profile: func() (sentrystub.Profile, string) {
			if bad.Load() {
				return sentrystub.BadProfile(), "v2"
			}
			return sentrystub.GoodProfile(), "v1"
		},
		Rand: rand.New(rand.NewPCG(7, 11)), Speed: speed, Start: clk.simStart, RefreshEvery: 5 * time.Millisecond,
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()
	endSim := sync.OnceFunc(func() {
		stopSim()
		if err := <-simDone; err != nil {
			t.Error(err)
		}
	})
	defer endSim()

	// Sentry knows the environment once the first event has named it.
	for stub.Events() == 0 {
		time.Sleep(time.Millisecond)
	}
	cfg := sentryCfg(ts.URL)
	cfg.Baseline = config.Duration(10 * time.Minute)
	cfg.SpikeIntervals = 2
	// 150 ms of real time is 30 s simulated: the default poll.
	cfg.Poll = config.Duration(150 * time.Millisecond)
	cfg.Ignore = []string{`^DBConnection\.`, `^FunctionClauseError`}
	src, err := sources.NewSentry(cfg, sources.SentryOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		snaps []sources.Snapshot[snapshot.ErrorRate]
	)
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() {
		runDone <- src.Run(runCtx, func(s sources.Snapshot[snapshot.ErrorRate]) {
			mu.Lock()
			snaps = append(snaps, s)
			mu.Unlock()
		})
	}()

	// Twelve minutes of the good release, then the deploy.
	time.Sleep(time.Duration(float64(12*time.Minute) / speed))
	start := clk.Now()
	src.SetDeploy(snapshot.DeployMarks{Start: start, Release: "v2"})
	bad.Store(true)
	mu.Lock()
	before := len(snaps)
	for _, s := range snaps {
		if s.Err != nil {
			t.Errorf("poll on the good release failed: %v", s.Err)
		}
		if s.Data.Spike {
			t.Errorf("spike flagged on the good release at %v: current %+v, threshold %v", s.At, s.Data.Current, s.Data.Threshold)
		}
	}
	mu.Unlock()
	if before < 10 {
		t.Fatalf("only %d polls in 12 simulated minutes at 30 s", before)
	}

	// The first full minute of the bad release, then two intervals, the
	// 15 s the source lets a closed minute settle, one poll to see them,
	// and the time a poll takes here.
	firstFull := start.Truncate(time.Minute).Add(time.Minute)
	deadline := firstFull.Add(2*time.Minute + 15*time.Second + 30*time.Second + 30*time.Second)
	var spike *sources.Snapshot[snapshot.ErrorRate]
	for spike == nil && clk.Now().Before(deadline.Add(2*time.Minute)) {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		for i := before; i < len(snaps); i++ {
			if snaps[i].Err == nil && snaps[i].Data.Spike {
				spike = &snaps[i]
				break
			}
		}
		mu.Unlock()
	}
	stopRun()
	<-runDone
	if spike == nil {
		mu.Lock()
		for _, s := range snaps[before:] {
			n := len(s.Data.Series)
			var tail []snapshot.ErrorPoint
			if n > 4 {
				tail = s.Data.Series[n-4:]
			}
			t.Logf("poll %v err %v thr %v tail %v", s.At.Format("15:04:05"), s.Err, s.Data.Threshold, tail)
		}
		mu.Unlock()
		t.Fatalf("no spike flagged by %v (deploy at %v)", clk.Now(), start)
	}
	t.Logf("deploy %v, spike flagged %v (%.1f min later), since %v, %d/min against %.1f/min",
		start.Format("15:04:05"), spike.At.Format("15:04:05"), spike.At.Sub(start).Minutes(),
		spike.Data.SpikeSince.Format("15:04"), spike.Data.Current.Count, spike.Data.Baseline.Mean)
	if spike.At.After(deadline) {
		t.Errorf("spike flagged at %v, after %v: more than two intervals after the bad release's first full minute", spike.At, deadline)
	}
	e := spike.Data
	if e.Baseline.Samples != 10 || e.Baseline.Mean <= 0 || e.Baseline.Mean > 4 {
		t.Errorf("baseline %+v: want 10 minutes of the good release without its ignored noise (≈2/min)", e.Baseline)
	}
	if e.Excluded == 0 {
		t.Error("the ignored DBConnection issue was not left out of the counts")
	}

	// New issue types are listed; old and ignored ones are not.
	endSim()
	// Two simulated minutes, so the last events' minute is complete and
	// settled.
	time.Sleep(time.Duration(float64(2*time.Minute) / speed))
	final, err := src.Read(sentryCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	for _, is := range final.NewIssues {
		typ, _, _ := strings.Cut(is.Title, ":")
		titles[typ] = true
		// An event the simulator was late sending carries the time it
		// was due, which can fall just before the deploy start: such an
		// issue is still new, found by its first release.
		if is.FirstRelease != "v2" || is.FirstSeen.Before(start.Add(-time.Minute)) || is.Events == 0 || is.Users == 0 {
			t.Errorf("new issue %+v", is)
		}
	}
	for _, want := range []string{"KeyError", "Ecto.Query.CastError"} {
		if !titles[want] {
			t.Errorf("%s is not listed as new: %v", want, titles)
		}
	}
	for _, not := range []string{"DBConnection.ConnectionError", "FunctionClauseError", "Postgrex.Error"} {
		if titles[not] {
			t.Errorf("%s is listed as new: %v", not, titles)
		}
	}
	if final.HiddenNew == 0 {
		t.Error("the ignored FunctionClauseError was not counted as hidden")
	}
	if f := final.Facts()["sentry.no_new_issues"]; !f.Known || f.Bool {
		t.Errorf("no_new_issues fact %+v", f)
	}

	// The counts leave out exactly the ignored issues' events.
	c := src.Client()
	span := clk.Now().Sub(clk.simStart) + time.Hour
	all, err := c.ErrorCounts(sentryCtx(t), span, nil)
	if err != nil {
		t.Fatal(err)
	}
	issues, err := c.Issues(sentryCtx(t), sources.IssueQuery{Period: span, Pages: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ignored []string
	ignoredEvents := 0
	for _, is := range issues {
		if strings.HasPrefix(is.Title, "DBConnection.") || strings.HasPrefix(is.Title, "FunctionClauseError") {
			ignored = append(ignored, is.ShortID)
			ignoredEvents += is.Events
		}
	}
	kept, err := c.ErrorCounts(sentryCtx(t), span, ignored)
	if err != nil {
		t.Fatal(err)
	}
	if sumCounts(all)-sumCounts(kept) != ignoredEvents || ignoredEvents == 0 {
		t.Errorf("all %d, without ignored %d, ignored issues' events %d", sumCounts(all), sumCounts(kept), ignoredEvents)
	}
}

func sumCounts(pts []snapshot.ErrorPoint) int {
	n := 0
	for _, p := range pts {
		n += p.Count
	}
	return n
}
