package sources_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

const stubToken = "sntrys_stub_secret_0123456789"

// stubClock is a settable clock shared by a test and the stand-in.
type stubClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stubClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stubClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var stubT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newSentryStub(t *testing.T, o sentrystub.Options) (*sentrystub.Server, *httptest.Server) {
	t.Helper()
	if o.Token == "" {
		o.Token = stubToken
	}
	s := sentrystub.New(o)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func sentryCfg(url string) *config.Sentry {
	return &config.Sentry{
		URL: url, Org: "acme", Projects: []string{"app"}, Environment: "production",
		Token: config.ResolvedSecret("env:SENTRY_TOKEN", stubToken),
		Poll:  config.Duration(30 * time.Second), Baseline: config.Duration(60 * time.Minute),
		SpikeFactor: 3, SpikeFloor: 10, SpikeIntervals: 3,
	}
}

// syncSDK is a sentry-go client whose captures have reached the stand-in
// when CaptureEvent returns.
func syncSDK(t *testing.T, dsn, env, release string) *sentry.Client {
	t.Helper()
	c, err := sentry.NewClient(sentry.ClientOptions{Dsn: dsn, Environment: env, Release: release, Transport: sentry.NewHTTPSyncTransport()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sendError(c *sentry.Client, typ, value, user string, at time.Time) {
	c.CaptureEvent(&sentry.Event{Level: sentry.LevelError, Timestamp: at, User: sentry.User{ID: user},
		Exception: []sentry.Exception{{Type: typ, Value: value}}}, nil, nil)
}

func sentryCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSentryClientReadsCountsAndIssues(t *testing.T) {
	clk := &stubClock{t: stubT0}
	s, ts := newSentryStub(t, sentrystub.Options{Now: clk.Now})
	sdk := syncSDK(t, s.DSN(ts.URL, "app"), "production", "v1")
	sendError(sdk, "Postgrex.Error", "statement timeout", "u1", stubT0.Add(-10*time.Minute+5*time.Second))
	sendError(sdk, "Postgrex.Error", "statement timeout", "u2", stubT0.Add(-10*time.Minute+15*time.Second))
	sendError(sdk, "KeyError", "key :clinic_id not found", "u3", stubT0.Add(-3*time.Minute+1*time.Second))
	// The current minute is incomplete and must not be read.
	sendError(sdk, "KeyError", "key :clinic_id not found", "u3", stubT0.Add(20*time.Second))
	clk.Add(30 * time.Second)

	c := sources.NewSentryClient(sentryCfg(ts.URL), nil)
	pts, err := c.ErrorCounts(sentryCtx(t), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 60 {
		t.Fatalf("%d points for an hour at 1m, want 60", len(pts))
	}
	byTime := map[time.Time]int{}
	total := 0
	for i, p := range pts {
		if i > 0 && p.At.Sub(pts[i-1].At) != time.Minute {
			t.Fatalf("points %d and %d are %v apart", i-1, i, p.At.Sub(pts[i-1].At))
		}
		byTime[p.At] = p.Count
		total += p.Count
	}
	if total != 3 || byTime[stubT0.Add(-10*time.Minute)] != 2 || byTime[stubT0.Add(-3*time.Minute)] != 1 {
		t.Errorf("counts %v (total %d), want 2 at -10m and 1 at -3m", byTime, total)
	}

	issues, err := c.Issues(sentryCtx(t), sources.IssueQuery{Query: "firstSeen:>=" + stubT0.Add(-5*time.Minute).Format("2006-01-02T15:04:05"), Period: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(issues) != 1 || !strings.HasPrefix(issues[0].Title, "KeyError") || issues[0].Events != 2 || issues[0].Users != 1 {
		t.Fatalf("new issues %+v, want the KeyError with 2 events from 1 user", issues)
	}
	if !issues[0].FirstSeen.Equal(stubT0.Add(-3*time.Minute + time.Second)) {
		t.Errorf("first seen %v", issues[0].FirstSeen)
	}

	// Leaving an issue out takes its events out of the counts.
	var pg string
	all, _ := c.Issues(sentryCtx(t), sources.IssueQuery{Query: "", Period: time.Hour})
	for _, is := range all {
		if strings.HasPrefix(is.Title, "Postgrex") {
			pg = is.ShortID
		}
	}
	pts, err = c.ErrorCounts(sentryCtx(t), time.Hour, []string{pg})
	if err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, p := range pts {
		total += p.Count
	}
	if total != 1 {
		t.Errorf("without %s the hour counts %d errors, want 1", pg, total)
	}
}

func TestSentryClientPagesIssues(t *testing.T) {
	clk := &stubClock{t: stubT0}
	s, ts := newSentryStub(t, sentrystub.Options{Now: clk.Now})
	sdk := syncSDK(t, s.DSN(ts.URL, "app"), "production", "v1")
	for i := range 130 {
		sendError(sdk, fmt.Sprintf("Err%03d", i), "boom", "u", stubT0.Add(-time.Duration(i+1)*time.Second))
	}
	c := sources.NewSentryClient(sentryCfg(ts.URL), nil)
	one, err := c.Issues(sentryCtx(t), sources.IssueQuery{Period: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	two, err := c.Issues(sentryCtx(t), sources.IssueQuery{Period: time.Hour, Pages: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 100 || len(two) != 130 {
		t.Fatalf("one page %d issues, three pages %d; want 100 and 130", len(one), len(two))
	}
}

func TestSentryClientErrorsAreSentences(t *testing.T) {
	clk := &stubClock{t: stubT0}
	s, ts := newSentryStub(t, sentrystub.Options{Now: clk.Now})
	sendError(syncSDK(t, s.DSN(ts.URL, "app"), "production", "v1"), "E", "x", "u", stubT0.Add(-time.Minute))

	cfg := sentryCfg(ts.URL)
	cfg.Token = config.ResolvedSecret("env:SENTRY_TOKEN", "sntrys_wrong_value_999")
	_, err := sources.NewSentryClient(cfg, nil).ErrorCounts(sentryCtx(t), time.Hour, nil)
	wantSentryErr(t, err, 401, "check [sentry] token (env:SENTRY_TOKEN)")
	if strings.Contains(err.Error(), "sntrys_wrong_value_999") {
		t.Fatalf("the token leaked: %v", err)
	}

	cfg = sentryCfg(ts.URL)
	cfg.Org = "nope"
	_, err = sources.NewSentryClient(cfg, nil).ErrorCounts(sentryCtx(t), time.Hour, nil)
	wantSentryErr(t, err, 404, `check [sentry] org "nope"`)

	// An environment Sentry has never seen: no events yet, with the
	// names Sentry does know, so a typo shows.
	cfg = sentryCfg(ts.URL)
	cfg.Environment = "prod"
	_, err = sources.NewSentryClient(cfg, nil).ErrorCounts(sentryCtx(t), time.Hour, nil)
	wantSentryErr(t, err, 404, `no events yet in environment "prod"`)
	if !errors.Is(err, sources.ErrSentryNoEvents) || !strings.Contains(err.Error(), "Sentry knows production") {
		t.Errorf("unknown environment: %v", err)
	}

	cfg = sentryCfg(ts.URL)
	cfg.Projects = []string{"api"}
	_, err = sources.NewSentryClient(cfg, nil).ErrorCounts(sentryCtx(t), time.Hour, nil)
	if err == nil || !strings.Contains(err.Error(), `no project "api"`) || !strings.Contains(err.Error(), "visible: app") {
		t.Errorf("unknown project: %v", err)
	}

	// One request a second per endpoint: the second in the same second
	// is refused.
	ls, limited := newSentryStub(t, sentrystub.Options{Now: clk.Now, RateLimit: 1})
	sendError(syncSDK(t, ls.DSN(limited.URL, "app"), "production", "v1"), "E", "x", "u", stubT0.Add(-time.Minute))
	c := sources.NewSentryClient(sentryCfg(limited.URL), nil)
	if _, err := c.ProjectIDs(sentryCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ErrorCounts(sentryCtx(t), time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.ErrorCounts(sentryCtx(t), time.Hour, nil)
	wantSentryErr(t, err, 429, "rate limit")
	var se *sources.SentryError
	if !errors.As(err, &se) || !se.RateLimited() || se.RetryAfter < time.Second {
		t.Errorf("429 as %+v", se)
	}

	for _, c := range []struct {
		status int
		want   string
	}{{403, "scopes project:read"}, {502, "failing on its side"}, {400, "refused the request"}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			fmt.Fprint(w, `{"detail":"nope"}`)
		}))
		_, err := sources.NewSentryClient(sentryCfg(srv.URL), nil).ProjectIDs(sentryCtx(t))
		srv.Close()
		wantSentryErr(t, err, c.status, c.want)
		if !strings.Contains(err.Error(), "(nope)") {
			t.Errorf("%d: Sentry's own words are missing: %v", c.status, err)
		}
	}

	_, err = sources.NewSentryClient(sentryCfg("http://deploy:hunter2pw@127.0.0.1:1"), nil).ProjectIDs(sentryCtx(t))
	if err == nil || !strings.Contains(err.Error(), "no answer from Sentry at http://127.0.0.1:1") || strings.Contains(err.Error(), "hunter2pw") {
		t.Errorf("unreachable: %v", err)
	}
}

// TestSentrySourceNoEventsYet: before the first event names the
// environment, the stand-in answers 404 as Sentry does; the source reads
// that as a quiet environment, not as Sentry down, and reads counts as soon
// as an event arrives.
func TestSentrySourceNoEventsYet(t *testing.T) {
	clk := &stubClock{t: stubT0}
	s, ts := newSentryStub(t, sentrystub.Options{Now: clk.Now})
	src, err := sources.NewSentry(sentryCfg(ts.URL), sources.SentryOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	src.SetDeploy(snapshot.DeployMarks{Start: stubT0.Add(-5 * time.Minute)})
	e, err := src.Read(sentryCtx(t))
	if err != nil || !e.NoEvents || e.Environment != "production" {
		t.Fatalf("before any event: %+v, %v", e, err)
	}
	if f := e.Facts()["sentry.no_new_issues"]; f.Known || f.Detail != "no events yet in environment production" {
		t.Errorf("no_new_issues fact %+v", f)
	}

	sendError(syncSDK(t, s.DSN(ts.URL, "app"), "production", "v1"), "KeyError", "boom", "u1", stubT0.Add(-2*time.Minute))
	e, err = src.Read(sentryCtx(t))
	if err != nil || e.NoEvents || len(e.Series) == 0 || len(e.NewIssues) != 1 {
		t.Fatalf("after the first event: %+v, %v", e, err)
	}
}

func wantSentryErr(t *testing.T, err error, status int, want string) {
	t.Helper()
	var se *sources.SentryError
	if !errors.As(err, &se) || se.Status != status {
		t.Fatalf("error %v, want a SentryError with status %d", err, status)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%d: %q does not say %q", status, err, want)
	}
	if strings.Contains(err.Error(), stubToken) {
		t.Errorf("%d: the token leaked into %q", status, err)
	}
}

func TestSentryClientReleasesAndDeploys(t *testing.T) {
	s, ts := newSentryStub(t, sentrystub.Options{})
	c := sources.NewSentryClient(sentryCfg(ts.URL), nil)
	_, err := c.CreateDeploy(sentryCtx(t), "2026.11.23", sources.DeployRequest{Name: "start"})
	wantSentryErr(t, err, 404, `does not know release "2026.11.23"`)
	if ok, err := c.ReleaseExists(sentryCtx(t), "2026.11.23"); ok || err != nil {
		t.Fatalf("ReleaseExists before creation = %v, %v", ok, err)
	}
	created, err := c.CreateRelease(sentryCtx(t), "2026.11.23")
	if err != nil || !created {
		t.Fatalf("CreateRelease = %v, %v", created, err)
	}
	created, err = c.CreateRelease(sentryCtx(t), "2026.11.23")
	if err != nil || created {
		t.Fatalf("second CreateRelease = %v, %v; want an existing release", created, err)
	}
	start := time.Date(2026, 11, 23, 9, 58, 0, 0, time.UTC)
	d, err := c.CreateDeploy(sentryCtx(t), "2026.11.23", sources.DeployRequest{Name: "start", DateStarted: start})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.Environment != "production" || d.Name != "start" || !d.DateStarted.Equal(start) {
		t.Errorf("deploy %+v", d)
	}
	got := s.Deploys("2026.11.23")
	if len(got) != 1 || got[0].Environment != "production" || got[0].Name != "start" || len(got[0].Projects) != 1 || got[0].Projects[0] != "app" {
		t.Errorf("recorded %+v", got)
	}
}

// TestSentrySourceWaitsForSentrysReset: after a 429 the source waits until
// the window Sentry names in X-Sentry-Rate-Limit-Reset reopens (Sentry sends
// no Retry-After), not its own poll interval; and with no wait named, its
// poll interval.
func TestSentrySourceWaitsForSentrysReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset int64 // seconds after the answer's Date; 0: no header
		want  time.Duration
		says  string
	}{
		{"reset named", 90, 90 * time.Second, "window reopens in 1m30s"},
		{"no wait named", 0, 10 * time.Second, "named no wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			date := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Date", date.Format(http.TimeFormat))
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if tc.reset > 0 {
					w.Header().Set("X-Sentry-Rate-Limit-Limit", "40")
					w.Header().Set("X-Sentry-Rate-Limit-Remaining", "0")
					w.Header().Set("X-Sentry-Rate-Limit-Reset", fmt.Sprint(date.Unix()+tc.reset))
				}
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `"You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds"`)
			}))
			defer srv.Close()
			cfg := sentryCfg(srv.URL)
			cfg.Poll = config.Duration(10 * time.Second)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waits := make(chan time.Duration, 1)
			src, err := sources.NewSentry(cfg, sources.SentryOptions{After: func(d time.Duration) <-chan time.Time {
				waits <- d
				cancel()
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			var snaps []sources.Snapshot[snapshot.ErrorRate]
			_ = src.Run(ctx, func(s sources.Snapshot[snapshot.ErrorRate]) { snaps = append(snaps, s) })
			if got := <-waits; got != tc.want {
				t.Errorf("waited %s after the 429, want %s", got, tc.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if len(snaps) != 1 || snaps[0].Err == nil || !strings.Contains(snaps[0].Err.Error(), tc.says) {
				t.Errorf("snapshots %+v", snaps)
			}
		})
	}
}
