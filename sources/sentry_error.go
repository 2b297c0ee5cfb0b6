package sources

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// ErrSentryNoEvents is what a read of the error rate returns, wrapped in a
// SentryError, when Sentry has seen no event in the configured environment
// yet: Sentry knows an environment only once an event or a deploy has named
// it, and answers 404 for one it does not know. A quiet new environment is
// not Sentry being down.
var ErrSentryNoEvents = errors.New("no events yet")

// SentryError is a failed call to the Sentry web API, worded for the person
// watching the pane. It never holds the token.
type SentryError struct {
	Method string
	Path   string // the URL path, without the query
	Status int    // 0 when no answer came back
	Detail string // Sentry's own words, from the body
	// RetryAfter is how long Sentry asked the client to wait (429); zero
	// when the answer named no wait.
	RetryAfter time.Duration
	// NoEvents is set when the 404 means Sentry has no event in the
	// environment yet; errors.Is(err, ErrSentryNoEvents) then holds.
	NoEvents bool
	msg      string
	err      error
}

func (e *SentryError) Error() string { return e.msg }
func (e *SentryError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrSentryNoEvents) hold for a no-events answer.
func (e *SentryError) Is(target error) bool { return target == ErrSentryNoEvents && e.NoEvents }

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
		e.RetryAfter, e.msg = sentryRateLimit(resp.Header, what)
	case code >= 500:
		e.msg = fmt.Sprintf("Sentry is failing on its side: %s; nothing to change here, the next poll tries again", what)
	case code == http.StatusBadRequest:
		e.msg = fmt.Sprintf("Sentry refused the request: %s; check [sentry] projects and environment", what)
	default:
		e.msg = fmt.Sprintf("unexpected answer from Sentry: %s", what)
	}
	return e
}

// sentryRateLimit reads a 429 the way Sentry's rate-limit documentation
// describes it: no Retry-After, and five X-Sentry-Rate-Limit-* headers. A
// fixed window that is used up reopens at Reset; a refusal with requests
// left in the window but none left at once is the concurrency limit, which
// frees up as soon as a request in flight ends.
func sentryRateLimit(h http.Header, what string) (time.Duration, string) {
	num := func(name string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Sentry-Rate-Limit-" + name)))
		return n, err == nil
	}
	left, okLeft := num("Remaining")
	atOnce, okAtOnce := num("ConcurrentRemaining")
	if okLeft && left > 0 && okAtOnce && atOnce <= 0 {
		limit := "the concurrency limit"
		if n, ok := num("ConcurrentLimit"); ok {
			limit = fmt.Sprintf("%d at once", n)
		}
		return time.Second, fmt.Sprintf("Sentry refused a request while too many were in flight (%s): %s; asking again in 1s", limit, what)
	}
	if d, ok := RateLimitWait(h, time.Now()); ok {
		return d, fmt.Sprintf("Sentry rate limit reached: %s; its window reopens in %s", what, d.Round(time.Second))
	}
	return 0, fmt.Sprintf("Sentry rate limit reached: %s; Sentry named no wait, so the next poll asks again", what)
}

// sentryDetail pulls the human part out of an error body, whatever its
// Content-Type claims (Sentry labels its 429 text/html). The forms Sentry
// answers with: {"detail": "..."} from the REST framework; {"detail":
// {"code", "message", "extra"}} from SentryAPIException; field errors
// {"version": ["..."]}, nested for list fields ({"projects": {"0": [...]}});
// a bare JSON string from the rate limiter; {"info": "..."} or plain text
// from the catch-all route. An HTML page (a proxy's) says nothing useful.
func sentryDetail(body []byte) string {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return sentryClip(plainDetail(string(body)), 200)
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []any:
		s = firstString(v)
	case map[string]any:
		s = objectDetail(v)
	}
	return sentryClip(snapshot.OneLine(snapshot.Printable(strings.TrimSpace(s))), 200)
}

func objectDetail(m map[string]any) string {
	switch d := m["detail"].(type) {
	case string:
		return d
	case map[string]any:
		if msg, ok := d["message"].(string); ok && msg != "" {
			return msg
		}
		return firstString(d)
	}
	if info, ok := m["info"].(string); ok {
		return info
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if msg := firstString(m[k]); msg != "" {
			parts = append(parts, k+": "+msg)
		}
	}
	return strings.Join(parts, "; ")
}

// firstString finds the first message in a field error, however deeply the
// REST framework nested it.
func firstString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		for _, x := range v {
			if s := firstString(x); s != "" {
				return s
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s := firstString(v[k]); s != "" {
				return s
			}
		}
	}
	return ""
}

// plainDetail reads a text body: its lines with words in them, on one line
// (the catch-all draws a caret under the missing slash on a line of its
// own). HTML is left out.
func plainDetail(s string) string {
	if strings.HasPrefix(s, "<") {
		return ""
	}
	var words []string
	for _, line := range strings.Split(s, "\n") {
		if strings.IndexFunc(line, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			words = append(words, strings.TrimSpace(line))
		}
	}
	return snapshot.OneLine(snapshot.Printable(strings.Join(words, " ")))
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
