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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// ProbeSentry fetches the organization with the configured token.
func ProbeSentry(ctx context.Context, s *config.Sentry) snapshot.Reach {
	u := strings.TrimRight(s.URL, "/") + "/api/0/organizations/" + url.PathEscape(s.Org) + "/"
	r := snapshot.Reach{Target: s.URL}
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

// SentryDeploy is a deploy marker recorded against a release.
type SentryDeploy struct {
	ID           string
	Environment  string
	Name         string
	DateStarted  time.Time
	DateFinished time.Time
}

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
		next, ok := sentryNextPage(h.Get("Link"))
		if !ok {
			break
		}
		cursor = next.Get("cursor")
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

// Environments lists the environments Sentry knows in the configured
// projects, hidden ones included.
func (c *SentryClient) Environments(ctx context.Context) ([]string, error) {
	ids, err := c.ProjectIDs(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"project": ids, "visibility": {"all"}}
	data, _, _, err := c.call(ctx, http.MethodGet, c.orgPath("environments/"), q, nil, fmt.Sprintf("check [sentry] org %q", c.org))
	if err != nil {
		return nil, err
	}
	envs, err := decodeSentryEnvironments(data)
	if err != nil {
		return nil, fmt.Errorf("reading the environments of Sentry org %s: %w", c.org, err)
	}
	return envs, nil
}

// noEvents tells "no events yet" from other 404s of a read filtered by
// environment. Sentry answers an environment it has never seen with the same
// 404 as a wrong organization; its list of environments says which it is.
// When the list cannot be had, the 404 stands as it came.
func (c *SentryClient) noEvents(ctx context.Context, err error) error {
	var se *SentryError
	if c.env == "" || !errors.As(err, &se) || se.Status != http.StatusNotFound {
		return err
	}
	known, lerr := c.Environments(ctx)
	if lerr != nil || slices.Contains(known, c.env) {
		return err
	}
	sort.Strings(known)
	seen := "none yet"
	if len(known) > 0 {
		seen = strings.Join(known, ", ")
	}
	ne := *se
	ne.NoEvents = true
	ne.msg = fmt.Sprintf("Sentry has no events yet in environment %q: it knows an environment once an event or a deploy has named it; if the name is wrong, check [sentry] environment (Sentry knows %s)", c.env, seen)
	return &ne
}

// ErrorCounts returns the error events per minute over the last period,
// oldest first, leaving out the events of the issues in exclude (short
// ids). The current, incomplete minute is not included: it would read as a
// sudden drop.
func (c *SentryClient) ErrorCounts(ctx context.Context, period time.Duration, exclude []string) ([]snapshot.ErrorPoint, error) {
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
		return nil, c.noEvents(ctx, err)
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
func (c *SentryClient) Issues(ctx context.Context, iq IssueQuery) ([]snapshot.SentryIssue, error) {
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
	var out []snapshot.SentryIssue
	seen := map[string]bool{}
	for p := 0; p < pages; p++ {
		data, h, _, err := c.call(ctx, http.MethodGet, c.orgPath("issues/"), q, nil, c.readNotFound())
		if err != nil {
			return nil, c.noEvents(ctx, err)
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
		next, ok := sentryNextPage(h.Get("Link"))
		if !ok {
			break
		}
		for k, vs := range next {
			q[k] = vs
		}
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
