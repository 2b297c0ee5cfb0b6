package sentrystub

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRateLimitAsSentrysMiddlewareAnswers follows Sentry's Rate Limits page
// (docs.sentry.io/api/ratelimits/, sentry-docs docs/api/ratelimits.mdx) and
// the middleware that answers (getsentry/sentry
// src/sentry/middleware/ratelimit.py, reset time from
// src/sentry/ratelimits/redis.py): every answer carries the five
// X-Sentry-Rate-Limit-* headers; a refusal is a 429 with no Retry-After,
// labelled text/html, whose body is a bare JSON string.
func TestRateLimitAsSentrysMiddlewareAnswers(t *testing.T) {
	_, ts, clk := newStub(t, Options{RateLimit: 2})
	nextWindow := strconv.FormatInt(clk.Now().Unix()+1, 10)
	for i, left := range []string{"1", "0"} {
		resp, body := get(t, ts, testToken, "/api/0/organizations/acme/")
		mustStatus(t, resp, body, http.StatusOK)
		h := resp.Header
		if h.Get("X-Sentry-Rate-Limit-Limit") != "2" || h.Get("X-Sentry-Rate-Limit-Remaining") != left ||
			h.Get("X-Sentry-Rate-Limit-Reset") != nextWindow ||
			h.Get("X-Sentry-Rate-Limit-ConcurrentLimit") != "25" || h.Get("X-Sentry-Rate-Limit-ConcurrentRemaining") != "24" {
			t.Errorf("answer %d headers %v", i, h)
		}
	}
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/")
	mustStatus(t, resp, body, http.StatusTooManyRequests)
	h := resp.Header
	if _, ok := h["Retry-After"]; ok {
		t.Errorf("Retry-After %q: Sentry sends none", h.Get("Retry-After"))
	}
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want Django's default for an HttpResponse", ct)
	}
	var msg string
	if err := json.Unmarshal(body, &msg); err != nil || msg != "You are attempting to use this endpoint too frequently. Limit is 2 requests in 1 seconds" {
		t.Errorf("body %s: want the middleware's message as a bare JSON string", body)
	}
	if h.Get("X-Sentry-Rate-Limit-Remaining") != "0" || h.Get("X-Sentry-Rate-Limit-Reset") != nextWindow {
		t.Errorf("429 headers %v", h)
	}
	// The wait is measured against the answer's own clock.
	if d, err := http.ParseTime(h.Get("Date")); err != nil || !d.Equal(clk.Now().Truncate(time.Second)) {
		t.Errorf("Date %q, want the stand-in's clock %v", h.Get("Date"), clk.Now())
	}

	// Each endpoint has its own budget.
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/issues/")
	mustStatus(t, resp, body, http.StatusOK)
	// The next window admits again.
	clk.Add(time.Second)
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/")
	mustStatus(t, resp, body, http.StatusOK)
}

// TestConcurrentLimitAsSentrysRateLimitsPage: "the concurrent rate limiter
// will reject requests if the caller has too many requests in progress at
// the same time" (docs.sentry.io/api/ratelimits/). The refusal is the
// middleware's same 429, with requests left in the window and none at once.
func TestConcurrentLimitAsSentrysRateLimitsPage(t *testing.T) {
	s, ts, _ := newStub(t, Options{RateLimit: 10, ConcurrentLimit: 1})
	const path = "/api/0/organizations/acme/releases/"
	// A body that has not arrived keeps the first request in flight.
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	first := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			first <- nil
			return
		}
		resp.Body.Close()
		first <- resp
	}()
	key := testToken + " POST /api/0/organizations/{org}/releases/"
	deadline := time.Now().Add(5 * time.Second)
	for s.inFlight(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first request never arrived")
		}
		time.Sleep(time.Millisecond)
	}

	resp, body := do(t, ts, testToken, http.MethodPost, path, map[string]any{"version": "v1", "projects": []string{"app"}})
	mustStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("X-Sentry-Rate-Limit-ConcurrentRemaining") != "0" || resp.Header.Get("X-Sentry-Rate-Limit-Remaining") == "0" {
		t.Errorf("concurrent refusal headers %v", resp.Header)
	}
	if !strings.Contains(string(body), "too frequently") {
		t.Errorf("body %s", body)
	}

	pw.Write([]byte(`{"version":"v1","projects":["app"]}`))
	pw.Close()
	if r := <-first; r != nil && r.StatusCode != http.StatusCreated {
		t.Errorf("first request: %d", r.StatusCode)
	}
	if s.inFlight(key) != 0 {
		t.Error("a finished request is still counted in flight")
	}
}

// inFlight is how many requests under key are being answered.
func (s *Server) inFlight(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[key]
}
