package sources

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimitWait is how long a refused request (429) should wait before it is
// sent again, as the answer's headers say: Retry-After where the server sends
// one (Jira, most proxies), else X-Sentry-Rate-Limit-Reset, the UTC epoch
// second Sentry's next window opens (Sentry sends no Retry-After). Times are
// measured against the answer's own Date when it has one, so a client whose
// clock is off still waits what the server meant; now is the fallback. ok is
// false when the answer names no wait.
func RateLimitWait(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	ref := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		ref = d
	}
	if d, ok := ParseRetryAfter(h.Get("Retry-After"), ref); ok {
		return max(d, time.Second), true
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Sentry-Rate-Limit-Reset")), 10, 64)
	if err != nil || reset <= 0 {
		return 0, false
	}
	d := time.Unix(reset, 0).Sub(ref)
	if d > 24*time.Hour {
		// Not a window any endpoint has; a header from something else.
		return 0, false
	}
	// The window may have opened while the answer travelled; a second is
	// the resolution of both headers.
	return max(d, time.Second), true
}

// rateLimitAdvice ends a 429 sentence for a person: when to try again.
func rateLimitAdvice(h http.Header, now time.Time) string {
	if d, ok := RateLimitWait(h, now); ok {
		return fmt.Sprintf("retry in %s", d.Round(time.Second))
	}
	return "the answer named no wait (no Retry-After or X-Sentry-Rate-Limit-Reset): try again in a minute"
}
