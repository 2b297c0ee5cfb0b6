package sources_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// smokeRun runs a Smoke source until the test ends and hands out what it
// emits.
type smokeRun struct {
	src  *sources.Smoke
	mu   sync.Mutex
	last snapshot.Smoke
	n    int
	seen chan struct{}
}

func startSmoke(t *testing.T, checks []config.Smoke, started time.Time) *smokeRun {
	t.Helper()
	src, err := sources.NewSmoke(checks, map[string]string{"release": "2026.11.23"}, sources.SmokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.SetStarted(started)
	r := &smokeRun{src: src, seen: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(s sources.Snapshot[snapshot.Smoke]) {
			if s.Err != nil {
				t.Errorf("smoke emitted an error: %v", s.Err)
			}
			r.mu.Lock()
			r.last, r.n = s.Data, r.n+1
			r.mu.Unlock()
			select {
			case r.seen <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return when its context ended")
		}
	})
	return r
}

func (r *smokeRun) latest() snapshot.Smoke {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// await waits until the latest reading satisfies ok.
func (r *smokeRun) await(t *testing.T, what string, ok func(snapshot.Smoke) bool) snapshot.Smoke {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if s := r.latest(); ok(s) {
			return s
		}
		select {
		case <-r.seen:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("never: %s; last reading %+v", what, r.latest())
		}
	}
}

func ran(n int) func(snapshot.Smoke) bool {
	return func(s snapshot.Smoke) bool {
		for _, c := range s.Checks {
			if c.Runs < n {
				return false
			}
		}
		return len(s.Checks) > 0
	}
}

func check(name, url string) config.Smoke {
	return config.Smoke{Name: name, URL: url, Interval: config.Duration(20 * time.Millisecond), Timeout: config.Duration(2 * time.Second)}
}

// TestSmokeJudgesAnswers: status and body as configured pass; a wrong
// status, a body that does not match, a timeout and a refused connection
// each fail with their reason, and the gate names the failing checks.
func TestSmokeJudgesAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"status": "ok", "release": "` + r.URL.Query().Get("r") + `"}`))
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"degraded"}`))
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/health"
	ln.Close()

	ok := check("api health", srv.URL+"/ok?r={{release}}")
	ok.Body = `"status":\s*"ok", "release": "2026\.11\.23"`
	down := check("down", srv.URL+"/down")
	mismatch := check("mismatch", srv.URL+"/ok")
	mismatch.Body = `"status":\s*"degraded"`
	moved := check("moved", srv.URL+"/moved")
	slow := check("slow", srv.URL+"/slow")
	slow.Timeout = config.Duration(100 * time.Millisecond)
	gone := check("gone", refused)

	started := time.Now()
	r := startSmoke(t, []config.Smoke{ok, down, mismatch, moved, slow, gone}, started)
	s := r.await(t, "every check ran twice", ran(2))

	if !s.Started.Equal(started) {
		t.Errorf("Started = %v, want %v", s.Started, started)
	}
	want := map[string]string{
		"api health": "",
		"down":       "503, want 200",
		"mismatch":   "body does not match `\"status\":\\s*\"degraded\"`",
		"moved":      "302, want 200",
		"slow":       "timeout after 100ms",
		"gone":       "connection refused",
	}
	for _, c := range s.Checks {
		why, known := want[c.Name]
		if !known {
			t.Errorf("unexpected check %q", c.Name)
			continue
		}
		if c.Passing != (why == "") || c.Last.Why != why {
			t.Errorf("%s: passing %v, last failure %q; want failure %q", c.Name, c.Passing, c.Last.Why, why)
		}
		if why != "" && (c.Failures < 2 || c.Since.IsZero() || c.Since.After(c.Last.At)) {
			t.Errorf("%s: %d failures in a row since %v, last at %v", c.Name, c.Failures, c.Since, c.Last.At)
		}
	}
	byName := map[string]snapshot.SmokeCheck{}
	for _, c := range s.Checks {
		byName[c.Name] = c
	}
	if c := byName["api health"]; c.Status != 200 || c.Latency <= 0 || c.Failures != 0 || !c.Last.At.IsZero() || c.URL != srv.URL+"/ok?…" {
		t.Errorf("passing check: %+v", c)
	}
	if c := byName["down"]; c.Status != 503 {
		t.Errorf("down: status %d", c.Status)
	}
	if c := byName["gone"]; c.Status != 0 {
		t.Errorf("refused: status %d", c.Status)
	}
	f := s.Facts()["smoke.passing"]
	if !f.Known || f.Bool {
		t.Fatalf("smoke.passing = %+v with five checks failing", f)
	}
	for _, name := range []string{"down (503, want 200)", "slow (timeout after 100ms)", "gone (connection refused)", "moved", "mismatch"} {
		if !strings.Contains(f.Detail, name) {
			t.Errorf("detail %q does not name %q", f.Detail, name)
		}
	}
	if strings.Contains(f.Detail, "api health") {
		t.Errorf("detail %q names the passing check", f.Detail)
	}
}

// TestSmokeRecovers: a check that fails and then passes clears its run of
// failures and keeps the last one for the record.
func TestSmokeRecovers(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	r := startSmoke(t, []config.Smoke{check("api", srv.URL)}, time.Now())
	s := r.await(t, "three failures in a row", func(s snapshot.Smoke) bool { return len(s.Checks) == 1 && s.Checks[0].Failures >= 3 })
	since := s.Checks[0].Since
	healthy.Store(true)
	s = r.await(t, "passing again", func(s snapshot.Smoke) bool { return len(s.Checks) == 1 && s.Checks[0].Passing })
	c := s.Checks[0]
	if c.Failures != 0 || !c.Since.IsZero() || c.Last.Why != "503, want 200" || c.Last.At.Before(since) {
		t.Errorf("after recovering: %+v", c)
	}
	if f := s.Facts()["smoke.passing"]; !f.Known || !f.Bool || f.Detail != "1 check passing" {
		t.Errorf("smoke.passing = %+v", f)
	}
}

// TestSmokeIdlesUntilStarted: before the deploy starts nothing is
// requested and the gate says why it is unknown; SetStarted starts the
// checks.
func TestSmokeIdlesUntilStarted(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	r := startSmoke(t, []config.Smoke{check("api", srv.URL)}, time.Time{})
	s := r.await(t, "the first reading", func(s snapshot.Smoke) bool { return len(s.Checks) == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests before the deploy started", n)
	}
	if !s.Waiting() || s.Checks[0].Runs != 0 {
		t.Fatalf("before the start: %+v", s)
	}
	if f := s.Facts()["smoke.passing"]; f.Known || f.Detail != "waits for the deploy to start" {
		t.Fatalf("smoke.passing before the start = %+v", f)
	}
	at := time.Now()
	r.src.SetStarted(at)
	s = r.await(t, "a run after the start", ran(1))
	if hits.Load() == 0 || !s.Started.Equal(at) {
		t.Fatalf("after SetStarted: %d requests, started %v", hits.Load(), s.Started)
	}
}

// TestSmokeNeverOverlapsACheck: a check slower than its interval is not
// asked again while it is in flight; another check runs beside it on its
// own interval.
func TestSmokeNeverOverlapsACheck(t *testing.T) {
	var inFlight, most, fast atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			fast.Add(1)
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(80 * time.Millisecond)
	}))
	defer srv.Close()
	slow := check("slow", srv.URL+"/slow")
	slow.Interval = config.Duration(time.Millisecond)
	r := startSmoke(t, []config.Smoke{slow, check("fast", srv.URL+"/fast")}, time.Now())
	r.await(t, "four runs of the slow check", ran(4))
	if m := most.Load(); m != 1 {
		t.Fatalf("%d requests of one check in flight at once", m)
	}
	if fast.Load() < 4 {
		t.Errorf("the fast check ran %d times beside the slow one", fast.Load())
	}
}

// TestSmokeBodyIsCapped: a body is read up to 64 KiB, so a match past it
// fails instead of the check holding the whole answer.
func TestSmokeBodyIsCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10) + "ok"))
	}))
	defer srv.Close()
	c := check("big", srv.URL)
	c.Body = "ok"
	r := startSmoke(t, []config.Smoke{c}, time.Now())
	s := r.await(t, "a run", ran(1))
	if s.Checks[0].Passing {
		t.Fatal("matched past 64 KiB")
	}
}

// TestShownURL: the huddle never sees credentials or query values.
func TestShownURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ci:s3cret@api.example.com/health?token=abc#x": "https://api.example.com/health?…",
		"http://127.0.0.1:8080/app/health":                     "http://127.0.0.1:8080/app/health",
	} {
		if got := sources.ShownURL(in); got != want {
			t.Errorf("ShownURL(%q) = %q, want %q", in, got, want)
		}
	}
}
