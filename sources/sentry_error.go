package sources

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SentryError is a failed call to the Sentry web API, worded for the person
// watching the pane. It never holds the token.
type SentryError struct {
	Method string
	Path   string // the URL path, without the query
	Status int    // 0 when no answer came back
	Detail string // Sentry's own words, from the body's "detail"
	// RetryAfter is how long Sentry asked the client to wait (429).
	RetryAfter time.Duration
	msg        string
	err        error
}

func (e *SentryError) Error() string { return e.msg }
func (e *SentryError) Unwrap() error { return e.err }

// RateLimited reports whether Sentry asked the client to slow down.
func (e *SentryError) RateLimited() bool { return e.Status == http.StatusTooManyRequests }

func (c *SentryClient) statusError(method, path string, resp *http.Response, body []byte, notFound string) *SentryError {
	e := &SentryError{Method: method, Path: path, Status: resp.StatusCode, Detail: sentryDetail(body)}
	what := fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	if e.Detail != "" {
		what += " (" + e.Detail + ")"
	}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		e.msg = fmt.Sprintf("Sentry did not accept the token: %s; check [sentry] token (%s): it may be mistyped, revoked or expired", what, c.token.Ref)
	case code == http.StatusForbidden:
		e.msg = fmt.Sprintf("the Sentry token may not do this: %s; give it the scopes project:read, event:read and project:releases, and membership of the projects' team", what)
	case code == http.StatusNotFound:
		e.msg = fmt.Sprintf("Sentry has no such thing: %s; %s", what, notFound)
	case code == http.StatusTooManyRequests:
		e.RetryAfter = sentryRetryAfter(resp.Header.Get("Retry-After"))
		e.msg = fmt.Sprintf("Sentry rate limit reached: %s; waiting %s before asking again", what, e.RetryAfter)
	case code >= 500:
		e.msg = fmt.Sprintf("Sentry is failing on its side: %s; nothing to change here, the next poll tries again", what)
	case code == http.StatusBadRequest:
		e.msg = fmt.Sprintf("Sentry refused the request: %s; check [sentry] projects and environment", what)
	default:
		e.msg = fmt.Sprintf("unexpected answer from Sentry: %s", what)
	}
	return e
}

// sentryRetryAfter reads a Retry-After header: seconds, or an HTTP date. Without
// one, a minute: Sentry's windows are short, and asking sooner only earns
// another 429.
func sentryRetryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if n, err := strconv.ParseFloat(h, 64); err == nil && n >= 0 && n < 86400 {
		return max(time.Duration(math.Ceil(n))*time.Second, time.Second)
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
		return time.Second
	}
	return time.Minute
}

// sentryDetail pulls the human part out of an error body: {"detail": "..."}
// from the REST framework, or field errors such as {"version": ["..."]}.
func sentryDetail(body []byte) string {
	var d struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal(body, &d) == nil {
		if s, ok := d.Detail.(string); ok && s != "" {
			return OneLine(sentryClip(s, 200))
		}
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil && len(fields) > 0 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			if list, ok := fields[k].([]any); ok && len(list) > 0 {
				if s, ok := list[0].(string); ok {
					parts = append(parts, k+": "+s)
				}
			}
		}
		return OneLine(sentryClip(strings.Join(parts, "; "), 200))
	}
	return ""
}

func sentryClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !sentryRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func sentryRuneStart(b byte) bool { return b&0xC0 != 0x80 }
