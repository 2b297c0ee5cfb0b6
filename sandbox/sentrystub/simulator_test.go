package sentrystub

import (
	"context"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSimulatorRate(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	const speed = 3000 // 50 simulated minutes per real second
	sim := &Simulator{
		DSN:         s.DSN(ts.URL, "app"),
		Environment: "production",
		Profile:     func() (Profile, string) { return GoodProfile(), "v1" },
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Speed:       speed,
		Start:       t0.Add(-2 * time.Hour),
	}
	const run = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	began := time.Now()
	if err := sim.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Two seconds on an idle machine; more leaves room for a loaded CI
	// runner under the race detector.
	if took := time.Since(began); took > 6*time.Second {
		t.Errorf("run and flush took %v", took)
	}

	// By the wall clock: a second of running carries about 50 minutes
	// of traffic. A loaded machine notices the end of the run late and
	// sends a little more, never much less.
	simMinutes := run.Minutes() * speed
	want := GoodProfile().ErrorsPerMinute * simMinutes
	got := float64(s.Events())
	t.Logf("%v events over %.0f simulated minutes, expected %.0f", got, simMinutes, want)
	if got < 0.7*want || got > 1.6*want {
		t.Fatalf("%v events, want about %.0f", got, want)
	}

	// By the events' own timestamps, which is what Sentry charts: the
	// rate over the span they cover is the profile's.
	var last time.Time
	for _, i := range listIssues(t, ts, url.Values{"query": {""}}) {
		at, err := time.Parse(time.RFC3339Nano, i.LastSeen)
		if err != nil {
			t.Fatal(err)
		}
		if at.After(last) {
			last = at
		}
	}
	span := last.Sub(sim.Start).Minutes()
	if rate := got / span; math.Abs(rate-4) > 1.2 {
		t.Errorf("%.2f errors per simulated minute over %.0f minutes, want about 4", rate, span)
	}

	// The per-minute series holds every event.
	sb := eventsStats(t, ts, url.Values{"statsPeriod": {"3h"}, "interval": {"1m"}, "environment": {"production"}})
	total := 0
	for _, c := range sb.points(t) {
		total += c
	}
	if total != s.Events() {
		t.Errorf("events-stats counts %d of %d events", total, s.Events())
	}

	// The good profile's kinds become a handful of issues, the varying
	// numbers inside messages notwithstanding.
	issues := listIssues(t, ts, url.Values{"environment": {"production"}})
	if len(issues) == 0 || len(issues) > len(GoodProfile().Kinds) {
		t.Errorf("%d issues from %d kinds: %v", len(issues), len(GoodProfile().Kinds), titles(issues))
	}
	for _, i := range issues {
		if i.UserCount == 0 || i.UserCount > 25 {
			t.Errorf("issue %q has %d users", i.Title, i.UserCount)
		}
	}
}

func TestBadProfileIntroducesNewIssues(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	var bad atomic.Bool
	sim := &Simulator{
		DSN:         s.DSN(ts.URL, "app"),
		Environment: "production",
		Profile: func() (Profile, string) {
			if bad.Load() {
				return ProfileForImage("registry.local:5000/app:v2-bad"), "v2"
			}
			return ProfileForImage("registry.local:5000/app:v1"), "v1"
		},
		Rand:         rand.New(rand.NewPCG(3, 4)),
		Speed:        600,
		Start:        t0.Add(-time.Hour),
		RefreshEvery: 10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	time.Sleep(700 * time.Millisecond) // about 7 simulated minutes of v1
	bad.Store(true)
	time.Sleep(300 * time.Millisecond) // about 3 simulated minutes of v2
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	good := titles(listIssues(t, ts, url.Values{"query": {"firstRelease:v1"}}))
	fresh := titles(listIssues(t, ts, url.Values{"query": {"firstRelease:v2"}}))
	t.Logf("v1 issues %q\nv2 issues %q", good, fresh)
	if len(good) == 0 || len(fresh) == 0 {
		t.Fatalf("v1 issues %q, v2 issues %q", good, fresh)
	}
	inGood := map[string]bool{}
	for _, g := range good {
		inGood[g] = true
	}
	var keyErrors int
	for _, f := range fresh {
		if inGood[f] {
			t.Errorf("%q is both old and new", f)
		}
		if strings.HasPrefix(f, "DBConnection.ConnectionError") {
			t.Errorf("the DBConnection noise counts as new under v2")
		}
		if strings.HasPrefix(f, "KeyError: key :clinic_id not found") {
			keyErrors++
		}
	}
	if keyErrors != 1 {
		t.Errorf("%d KeyError issues under v2, want exactly one", keyErrors)
	}

	// The spike is visible against the baseline: v2's minutes carry far
	// more errors than v1's.
	v1 := eventsStats(t, ts, url.Values{"statsPeriod": {"2h"}, "interval": {"1m"}, "query": {"release:v1"}})
	v2 := eventsStats(t, ts, url.Values{"statsPeriod": {"2h"}, "interval": {"1m"}, "query": {"release:v2"}})
	rate := func(sb statsBody) float64 {
		total, active := 0, 0
		for _, c := range sb.points(t) {
			total += c
			if c > 0 {
				active++
			}
		}
		return float64(total) / math.Max(float64(active), 1)
	}
	if r1, r2 := rate(v1), rate(v2); r2 < 4*r1 {
		t.Errorf("errors per active minute: v1 %.1f, v2 %.1f; want a spike", r1, r2)
	}
}

func TestProfileForImage(t *testing.T) {
	for image, wantBad := range map[string]bool{
		"app:v2-bad":                           true,
		"registry.local:5000/team/app:BAD":     true,
		"registry.local:5000/bad/app:v1":       false,
		"app":                                  false,
		"app@sha256:0123":                      false,
		"registry.local:5000/app:v3@sha256:ab": false,
	} {
		if got := ProfileForImage(image).ErrorsPerMinute == BadProfile().ErrorsPerMinute; got != wantBad {
			t.Errorf("ProfileForImage(%q) bad = %v", image, got)
		}
	}
	goodTypes := map[string]bool{}
	for _, k := range GoodProfile().Kinds {
		goodTypes[k.Type] = true
	}
	var novel int
	for _, k := range BadProfile().Kinds {
		if !goodTypes[k.Type] {
			novel++
		}
	}
	if novel < 2 {
		t.Errorf("BadProfile has %d kinds absent from GoodProfile", novel)
	}
}
