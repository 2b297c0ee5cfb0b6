package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// ProbeSentry fetches the organization with the configured token.
func ProbeSentry(ctx context.Context, s *config.Sentry) Reach {
	u := strings.TrimRight(s.URL, "/") + "/api/0/organizations/" + url.PathEscape(s.Org) + "/"
	r := Reach{Target: s.URL}
	var org struct {
		Name string `json:"name"`
	}
	r.Err = getJSON(ctx, u, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+s.Token.Value())
	}, &org, "check [sentry] token and org")
	if r.Err == nil {
		r.Detail = "organization " + org.Name
	}
	return r
}

// ErrorPoint is one interval of the error series: the errors whose
// timestamps fall in [At, At+interval).
type ErrorPoint struct {
	At    time.Time
	Count int
}

// SentryIssue is one Sentry issue as the errors pane lists it.
type SentryIssue struct {
	ID        string
	ShortID   string // "APP-1F"
	Title     string
	Culprit   string
	Level     string
	Project   string // slug
	Permalink string
	Events    int // events in the requested date range
	Users     int
	FirstSeen time.Time // over the issue's life in the requested environment
	LastSeen  time.Time
	// FirstRelease is set when the issue was found by its first release;
	// the list endpoint does not carry it otherwise.
	FirstRelease string
}

// SentryDeploy is a deploy marker recorded against a release.
type SentryDeploy struct {
	ID           string
	Environment  string
	Name         string
	DateStarted  time.Time
	DateFinished time.Time
}

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

// SentryClient is a thin typed client over the parts of the Sentry web API
// the cockpit reads and writes. It works the same against sentry.io and a
// self-hosted Sentry: only the base URL differs. It is safe for concurrent use.
type SentryClient struct {
	base     string
	shown    string // base as errors may show it
	org      string
	projects []string
	env      string
	token    config.Secret
	http     *http.Client

	mu  sync.Mutex
	ids []string // project ids, resolved once from the slugs
}

// NewSentryClient returns a client for the [sentry] section; hc nil means a
// client with a 20 s timeout, since a poll must never hang the pane.
func NewSentryClient(cfg *config.Sentry, hc *http.Client) *SentryClient {
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	base := strings.TrimRight(cfg.URL, "/")
	shown := base
	if u, err := url.Parse(base); err == nil && u.User != nil {
		// Credentials in the URL are a secret config does not know of.
		u.User = nil
		shown = u.String()
	}
	return &SentryClient{
		base:     base,
		shown:    shown,
		org:      cfg.Org,
		projects: append([]string(nil), cfg.Projects...),
		env:      cfg.Environment,
		token:    cfg.Token,
		http:     hc,
	}
}

// Environment is the environment the client filters on and deploys to.
func (c *SentryClient) Environment() string { return c.env }

func (c *SentryClient) orgPath(rest string) string {
	return "/api/0/organizations/" + url.PathEscape(c.org) + "/" + rest
}

// call makes one request. notFound is the advice for a 404, which means
// something different for each endpoint.
func (c *SentryClient) call(ctx context.Context, method, path string, q url.Values, body any, notFound string) ([]byte, http.Header, int, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, 0, &SentryError{Method: method, Path: path, err: err,
			msg: fmt.Sprintf("Sentry URL %q is not usable; check [sentry] url", c.shown)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token.Value())
	req.Header.Set("User-Agent", "flightdeck")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error repeats the URL; say it once, in our own words.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, 0, &SentryError{Method: method, Path: path, err: err,
			msg: fmt.Sprintf("no answer from Sentry at %s (%s %s): %v; check [sentry] url and the network", c.shown, method, path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, nil, resp.StatusCode, &SentryError{Method: method, Path: path, Status: resp.StatusCode, err: err,
			msg: fmt.Sprintf("Sentry's answer to %s %s was cut off: %v; the next poll tries again", method, path, err)}
	}
	if resp.StatusCode/100 == 2 {
		return data, resp.Header, resp.StatusCode, nil
	}
	return nil, resp.Header, resp.StatusCode, c.statusError(method, path, resp, data, notFound)
}

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

// ProjectIDs resolves the configured project slugs to the numeric ids the
// stats and issues endpoints filter on. The answer is kept: ids never change.
func (c *SentryClient) ProjectIDs(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	ids := c.ids
	c.mu.Unlock()
	if ids != nil {
		return ids, nil
	}
	bySlug := map[string]string{}
	cursor := ""
	for page := 0; page < 20; page++ {
		q := url.Values{}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		data, h, _, err := c.call(ctx, http.MethodGet, c.orgPath("projects/"), q, nil,
			fmt.Sprintf("check [sentry] org %q (the slug in the organization's URL)", c.org))
		if err != nil {
			return nil, err
		}
		list, err := decodeSentryProjects(data)
		if err != nil {
			return nil, fmt.Errorf("reading the projects of Sentry org %s: %w", c.org, err)
		}
		for _, p := range list {
			bySlug[p.Slug] = p.ID
		}
		next, ok := sentryNextCursor(h.Get("Link"))
		if !ok {
			break
		}
		cursor = next
	}
	out := make([]string, 0, len(c.projects))
	for _, slug := range c.projects {
		id, ok := bySlug[slug]
		if !ok {
			known := make([]string, 0, len(bySlug))
			for s := range bySlug {
				known = append(known, s)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("Sentry org %s has no project %q that this token can see; check [sentry] projects (visible: %s)", c.org, slug, strings.Join(known, ", "))
		}
		out = append(out, id)
	}
	c.mu.Lock()
	c.ids = out
	c.mu.Unlock()
	return out, nil
}

func (c *SentryClient) scope(ctx context.Context, period time.Duration) (url.Values, error) {
	ids, err := c.ProjectIDs(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"project": ids}
	if c.env != "" {
		q.Set("environment", c.env)
	}
	q.Set("statsPeriod", sentryStatsPeriod(period))
	return q, nil
}

// sentryStatsPeriod renders a look-back in whole minutes, rounded up so the range
// always covers what was asked for.
func sentryStatsPeriod(d time.Duration) string {
	m := int64(math.Ceil(d.Minutes()))
	return strconv.FormatInt(max(m, 1), 10) + "m"
}

func (c *SentryClient) readNotFound() string {
	msg := fmt.Sprintf("check [sentry] org %q", c.org)
	if c.env != "" {
		msg += fmt.Sprintf(" and environment %q (Sentry knows an environment only once an event or a deploy has named it)", c.env)
	}
	return msg
}

// ErrorCounts returns the error events per minute over the last period,
// oldest first, leaving out the events of the issues in exclude (short
// ids). The current, incomplete minute is not included: it would read as a
// sudden drop.
func (c *SentryClient) ErrorCounts(ctx context.Context, period time.Duration, exclude []string) ([]ErrorPoint, error) {
	q, err := c.scope(ctx, period)
	if err != nil {
		return nil, err
	}
	q.Set("interval", "1m")
	q.Set("yAxis", "count()")
	query := "event.type:error"
	if len(exclude) > 0 {
		query += " !issue:[" + strings.Join(exclude, ",") + "]"
	}
	q.Set("query", query)
	data, _, _, err := c.call(ctx, http.MethodGet, c.orgPath("events-stats/"), q, nil, c.readNotFound())
	if err != nil {
		return nil, err
	}
	points, err := decodeEventsStats(data)
	if err != nil {
		return nil, fmt.Errorf("reading Sentry's error counts: %w", err)
	}
	return points, nil
}

// IssueQuery selects issues on the issues endpoint.
type IssueQuery struct {
	Query  string        // Sentry search syntax
	Period time.Duration // the date range events must fall in
	Sort   string        // "date", "new", "freq", "user"; default "date"
	Pages  int           // at most this many pages of 100; default 1
}

// Issues lists issues of the configured projects and environment,
// following the Link header's cursors for up to q.Pages pages.
func (c *SentryClient) Issues(ctx context.Context, iq IssueQuery) ([]SentryIssue, error) {
	q, err := c.scope(ctx, iq.Period)
	if err != nil {
		return nil, err
	}
	q.Set("query", iq.Query)
	if iq.Sort != "" {
		q.Set("sort", iq.Sort)
	}
	q.Set("limit", "100")
	// Per-issue sparklines are not shown; asking for none keeps the
	// answer small.
	q.Set("groupStatsPeriod", "")
	pages := max(iq.Pages, 1)
	var out []SentryIssue
	seen := map[string]bool{}
	for p := 0; p < pages; p++ {
		data, h, _, err := c.call(ctx, http.MethodGet, c.orgPath("issues/"), q, nil, c.readNotFound())
		if err != nil {
			return nil, err
		}
		list, err := decodeSentryIssues(data)
		if err != nil {
			return nil, fmt.Errorf("reading Sentry's issues: %w", err)
		}
		for _, is := range list {
			// Offset pages can shift while issues arrive.
			if !seen[is.ID] {
				seen[is.ID] = true
				out = append(out, is)
			}
		}
		next, ok := sentryNextCursor(h.Get("Link"))
		if !ok {
			break
		}
		q.Set("cursor", next)
	}
	return out, nil
}

// ReleaseExists reports whether Sentry knows the release.
func (c *SentryClient) ReleaseExists(ctx context.Context, version string) (bool, error) {
	_, _, _, err := c.call(ctx, http.MethodGet, c.orgPath("releases/"+url.PathEscape(version)+"/"), nil, nil, "")
	var se *SentryError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// CreateRelease makes sure the release exists in the configured projects.
// created is false when it already existed (Sentry answers 208).
func (c *SentryClient) CreateRelease(ctx context.Context, version string) (created bool, err error) {
	body := map[string]any{"version": version, "projects": c.projects}
	_, _, status, err := c.call(ctx, http.MethodPost, c.orgPath("releases/"), nil, body,
		fmt.Sprintf("check [sentry] org %q", c.org))
	if err != nil {
		return false, err
	}
	return status == http.StatusCreated, nil
}

// DeployRequest is a deploy marker to record.
type DeployRequest struct {
	Environment  string // default the client's environment
	Name         string // at most 64 characters
	URL          string
	DateStarted  time.Time
	DateFinished time.Time // zero: Sentry uses the time it receives the request
}

// CreateDeploy records a deploy of version. Sentry refuses a deploy of a
// release it does not know, so call CreateRelease first.
func (c *SentryClient) CreateDeploy(ctx context.Context, version string, d DeployRequest) (SentryDeploy, error) {
	env := d.Environment
	if env == "" {
		env = c.env
	}
	if env == "" {
		return SentryDeploy{}, errors.New("a Sentry deploy needs an environment: set [sentry] environment")
	}
	body := map[string]any{"environment": env, "projects": c.projects}
	if d.Name != "" {
		body["name"] = sentryClipRunes(d.Name, 64)
	}
	if d.URL != "" {
		body["url"] = d.URL
	}
	if !d.DateStarted.IsZero() {
		body["dateStarted"] = d.DateStarted.UTC().Format(time.RFC3339)
	}
	if !d.DateFinished.IsZero() {
		body["dateFinished"] = d.DateFinished.UTC().Format(time.RFC3339)
	}
	data, _, _, err := c.call(ctx, http.MethodPost, c.orgPath("releases/"+url.PathEscape(version)+"/deploys/"), nil, body,
		fmt.Sprintf("Sentry does not know release %q in org %q: create the release first", version, c.org))
	if err != nil {
		return SentryDeploy{}, err
	}
	dep, err := decodeSentryDeploy(data)
	if err != nil {
		return SentryDeploy{}, fmt.Errorf("reading Sentry's answer to the deploy of %s: %w", version, err)
	}
	return dep, nil
}

func sentryClipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// decodeEventsStats reads a single-series events-stats answer:
// {"data": [[1700000000, [{"count": 3}]], ...]}. Buckets come back sorted,
// one per timestamp, counts never negative.
func decodeEventsStats(b []byte) ([]ErrorPoint, error) {
	var body struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("not the events-stats JSON: %w", err)
	}
	if body.Data == nil {
		return nil, errors.New("the events-stats answer has no data series")
	}
	byTime := make(map[int64]int, len(body.Data))
	for i, raw := range body.Data {
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("bucket %d is not a [timestamp, counts] pair", i)
		}
		var ts float64
		if err := json.Unmarshal(pair[0], &ts); err != nil || math.IsNaN(ts) || ts < 0 || ts > 1e11 {
			return nil, fmt.Errorf("bucket %d has no usable timestamp", i)
		}
		var counts []struct {
			Count *float64 `json:"count"`
		}
		if err := json.Unmarshal(pair[1], &counts); err != nil {
			return nil, fmt.Errorf("bucket %d has no usable counts: %v", i, err)
		}
		n := 0
		for _, c := range counts {
			if c.Count != nil && *c.Count > 0 && *c.Count < 1e12 {
				n += int(math.Round(*c.Count))
			}
		}
		byTime[int64(ts)] += n
	}
	out := make([]ErrorPoint, 0, len(byTime))
	for ts, n := range byTime {
		out = append(out, ErrorPoint{At: time.Unix(ts, 0).UTC(), Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// sentryCount reads a number that Sentry sends as a string ("count": "123")
// on some endpoints and as a number on others.
type sentryCount int

func (f *sentryCount) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || n < 0 || n > math.MaxInt32 {
		return fmt.Errorf("%s is not a count", b)
	}
	*f = sentryCount(n)
	return nil
}

type sentryTime struct{ time.Time }

func (t *sentryTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, *s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not a time", *s)
}

type sentryIssueWire struct {
	ID        string      `json:"id"`
	ShortID   string      `json:"shortId"`
	Title     string      `json:"title"`
	Culprit   string      `json:"culprit"`
	Level     string      `json:"level"`
	Permalink string      `json:"permalink"`
	Count     sentryCount `json:"count"`
	UserCount sentryCount `json:"userCount"`
	FirstSeen sentryTime  `json:"firstSeen"`
	LastSeen  sentryTime  `json:"lastSeen"`
	Project   struct {
		Slug string `json:"slug"`
	} `json:"project"`
	Lifetime *struct {
		FirstSeen sentryTime `json:"firstSeen"`
	} `json:"lifetime"`
	FirstRelease *struct {
		Version string `json:"version"`
	} `json:"firstRelease"`
}

// decodeSentryIssues reads the issues list. firstSeen is taken over the issue's
// whole life (the "lifetime" block) when Sentry sends it, since the
// top-level one only covers the requested date range.
func decodeSentryIssues(b []byte) ([]SentryIssue, error) {
	var wire []sentryIssueWire
	if err := json.Unmarshal(b, &wire); err != nil {
		return nil, fmt.Errorf("not the issues JSON: %w", err)
	}
	out := make([]SentryIssue, 0, len(wire))
	for _, w := range wire {
		if w.ID == "" {
			return nil, errors.New("an issue without an id")
		}
		is := SentryIssue{
			ID: w.ID, ShortID: w.ShortID, Title: Printable(OneLine(w.Title)), Culprit: Printable(OneLine(w.Culprit)), Level: w.Level,
			Project: w.Project.Slug, Permalink: w.Permalink, Events: int(w.Count), Users: int(w.UserCount),
			FirstSeen: w.FirstSeen.Time, LastSeen: w.LastSeen.Time,
		}
		if w.Lifetime != nil && !w.Lifetime.FirstSeen.IsZero() {
			is.FirstSeen = w.Lifetime.FirstSeen.Time
		}
		if w.FirstRelease != nil {
			is.FirstRelease = w.FirstRelease.Version
		}
		if is.ShortID == "" {
			is.ShortID = is.ID
		}
		out = append(out, is)
	}
	return out, nil
}

type sentryProjectWire struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

func decodeSentryProjects(b []byte) ([]sentryProjectWire, error) {
	var list []sentryProjectWire
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("not the projects JSON: %w", err)
	}
	return list, nil
}

func decodeSentryDeploy(b []byte) (SentryDeploy, error) {
	var w struct {
		ID           string     `json:"id"`
		Environment  string     `json:"environment"`
		Name         *string    `json:"name"`
		DateStarted  sentryTime `json:"dateStarted"`
		DateFinished sentryTime `json:"dateFinished"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return SentryDeploy{}, fmt.Errorf("not the deploy JSON: %w", err)
	}
	if w.ID == "" {
		return SentryDeploy{}, errors.New("the deploy has no id")
	}
	d := SentryDeploy{ID: w.ID, Environment: w.Environment, DateStarted: w.DateStarted.Time, DateFinished: w.DateFinished.Time}
	if w.Name != nil {
		d.Name = *w.Name
	}
	return d, nil
}

// sentryNextCursor reads Sentry's Link header and returns the next page's cursor
// when Sentry says there are results there. Sentry always sends a "next"
// link; results="false" is what ends the paging.
func sentryNextCursor(link string) (string, bool) {
	for _, part := range strings.Split(link, ",") {
		attrs := strings.Split(part, ";")
		if len(attrs) < 2 {
			continue
		}
		var rel, results, cursor string
		for _, a := range attrs[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(a), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			switch k {
			case "rel":
				rel = v
			case "results":
				results = v
			case "cursor":
				cursor = v
			}
		}
		if rel == "next" && results == "true" && cursor != "" {
			return cursor, true
		}
	}
	return "", false
}
