package sentrystub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Sentry's API rate limits, as its Rate Limits page documents them and its
// ratelimit middleware (src/sentry/middleware/ratelimit.py) answers them:
//
//   - a fixed window per caller and endpoint: requests are counted into
//     buckets of the window's length, and the bucket's count over the limit
//     is refused;
//   - a concurrent limit: a request while too many of the caller's are in
//     flight is refused;
//   - every answer of a limited endpoint carries X-Sentry-Rate-Limit-Limit,
//     -Remaining, -Reset (the UTC epoch second the next window starts, as
//     the limiter in src/sentry/ratelimits/redis.py computes it),
//     -ConcurrentLimit and -ConcurrentRemaining;
//   - a refusal is HttpResponse(orjson.dumps(message), status=429): a bare
//     JSON string under Django's default text/html Content-Type, and no
//     Retry-After.
//
// The stand-in keys its counts by token rather than by user, and by route
// pattern rather than view class; with one token per server they agree.

// rateMessage is the middleware's DEFAULT_ERROR_MESSAGE.
const rateMessage = "You are attempting to use this endpoint too frequently. Limit is %d requests in %d seconds"

// defaultConcurrentLimit applies when Options.ConcurrentLimit is zero.
const defaultConcurrentLimit = 25

// rateWindow counts requests in one fixed window.
type rateWindow struct {
	start int64
	n     int
}

// admit counts the request against its fixed window and its concurrent
// budget, writes the rate-limit headers, and writes the 429 itself when the
// request is refused. done must be called when a request it admitted ends.
func (s *Server) admit(w http.ResponseWriter, key string) (ok bool, done func()) {
	if s.rate <= 0 {
		return true, func() {}
	}
	const window = 1 // seconds
	now := s.now()
	bucket := now.Unix() / window
	s.mu.Lock()
	win := s.windows[key]
	if win == nil || win.start != bucket {
		win = &rateWindow{start: bucket}
		s.windows[key] = win
	}
	win.n++
	n := win.n
	s.inflight[key]++
	running := s.inflight[key]
	s.mu.Unlock()
	done = func() {
		s.mu.Lock()
		s.inflight[key]--
		s.mu.Unlock()
	}

	limited := n > s.rate
	remaining := s.rate - n
	if limited {
		remaining = 0
	}
	reset := (bucket + 1) * window
	h := w.Header()
	h.Set("X-Sentry-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Sentry-Rate-Limit-Limit", strconv.Itoa(s.rate))
	h.Set("X-Sentry-Rate-Limit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-Sentry-Rate-Limit-ConcurrentRemaining", strconv.Itoa(max(s.concurrent-running, 0)))
	h.Set("X-Sentry-Rate-Limit-ConcurrentLimit", strconv.Itoa(s.concurrent))
	if !limited && running <= s.concurrent {
		return true, done
	}
	done()
	body, _ := json.Marshal(fmt.Sprintf(rateMessage, s.rate, window))
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
	return false, nil
}

// setDate stamps an answer with the stand-in's clock, as Sentry's answers
// carry its own: a client reading X-Sentry-Rate-Limit-Reset measures it
// against this.
func (s *Server) setDate(w http.ResponseWriter) {
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
}
