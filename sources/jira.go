package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// JiraAuth sets the credentials Jira expects: Basic email:token on Cloud,
// a personal access token as Bearer on Data Center.
func JiraAuth(req *http.Request, j *config.Jira) {
	if j.Flavor == "datacenter" {
		req.Header.Set("Authorization", "Bearer "+j.Token.Value())
		return
	}
	req.SetBasicAuth(j.Email, j.Token.Value())
}

// ProbeJira fetches the authenticated user, which proves the URL, the
// credentials and the API flavour in one request.
func ProbeJira(ctx context.Context, j *config.Jira) snapshot.Reach {
	api := "/rest/api/3/myself"
	if j.Flavor == "datacenter" {
		api = "/rest/api/2/myself"
	}
	u := strings.TrimRight(j.URL, "/") + api
	r := snapshot.Reach{Target: j.URL}
	var me struct {
		DisplayName string `json:"displayName"`
	}
	r.Err = getJSON(ctx, u, func(req *http.Request) { JiraAuth(req, j) }, &me, "check [jira] email and token")
	if r.Err == nil {
		r.Detail = "signed in as " + me.DisplayName
	}
	return r
}

// getJSON does one authenticated GET and decodes the answer, turning the
// status codes a person can act on into sentences. It never retries: a
// probe must answer within its own short deadline.
func getJSON(ctx context.Context, u string, auth func(*http.Request), into any, authHint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %s", resp.Status, authHint)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: rate limited, %s", resp.Status, rateLimitAdvice(resp.Header, time.Now()))
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: unexpected answer (not the expected JSON): %w", u, err)
	}
	return nil
}

// JiraClient is a thin typed client for the few Jira REST resources the
// cockpit uses. It is safe for concurrent use: a rate limit met by one
// request holds back all of them, so a bulk move slows down together instead
// of hammering the server from every worker.
type JiraClient struct {
	BaseURL string // without a trailing slash
	Flavor  string // config.JiraCloud or config.JiraDatacenter
	// Auth sets the credentials on a request.
	Auth func(*http.Request)
	// HTTP is the client to use; nil uses one with a 30 s timeout.
	HTTP *http.Client
	// SprintField is the custom field holding sprints, from [jira]
	// sprint_field; empty finds it in the site's field list (Fields).
	SprintField string
	// PageSize is the maxResults asked for per search page; servers may
	// answer with fewer. Zero means 100.
	PageSize int
	// MaxRetries bounds the retries of a request refused with 429 (or 503
	// with Retry-After); zero means 4.
	MaxRetries int
	// MaxWait is the longest Retry-After honoured; a server asking for more
	// gets the error reported instead. Zero means 60 s.
	MaxWait time.Duration

	mu        sync.Mutex
	notBefore time.Time

	fieldsMu sync.Mutex
	fields   *JiraFields
}

// NewJiraClient builds a client from the [jira] section.
func NewJiraClient(j *config.Jira) *JiraClient {
	return &JiraClient{
		BaseURL:     strings.TrimRight(j.URL, "/"),
		Flavor:      j.Flavor,
		Auth:        func(r *http.Request) { JiraAuth(r, j) },
		SprintField: j.SprintField,
	}
}

var defaultJiraHTTP = &http.Client{Timeout: 30 * time.Second}

func (c *JiraClient) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultJiraHTTP
}

func (c *JiraClient) cloud() bool { return c.Flavor != config.JiraDatacenter }

// api is the platform REST prefix: v3 on Cloud, v2 on Data Center.
func (c *JiraClient) api() string {
	if c.cloud() {
		return "/rest/api/3"
	}
	return "/rest/api/2"
}

// request is one API call. Its body is kept as bytes so that a retry can
// send it again.
type jiraRequest struct {
	method, path string
	query        url.Values
	body         []byte
	hint         string
}

// do sends r, waiting out rate limits, and returns the answer's body.
func (c *JiraClient) do(ctx context.Context, r jiraRequest) ([]byte, error) {
	maxRetries := c.MaxRetries
	if maxRetries == 0 {
		maxRetries = 4
	}
	maxWait := c.MaxWait
	if maxWait == 0 {
		maxWait = 60 * time.Second
	}
	u := c.BaseURL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	fail := func(status int, attempt int, err error) *JiraError {
		return &JiraError{Method: r.method, Path: r.path, Base: c.BaseURL, Status: status, Retries: attempt, Hint: r.hint, Cloud: c.cloud(), Err: err}
	}
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, fail(0, attempt, err)
		}
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, u, body)
		if err != nil {
			return nil, fail(0, attempt, err)
		}
		req.Header.Set("Accept", "application/json")
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.Auth != nil {
			c.Auth(req)
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fail(0, attempt, err)
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				return nil, fail(0, attempt, fmt.Errorf("reading the answer: %w", rerr))
			}
			return data, nil
		}
		je := fail(resp.StatusCode, attempt, nil)
		je.Messages = JiraErrorMessages(data)
		retryable := resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
		if !retryable {
			return nil, je
		}
		wait, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = time.Duration(1<<min(attempt, 5)) * time.Second
		}
		je.RetryAfter = wait
		if attempt >= maxRetries || wait > maxWait {
			return nil, je
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would only end in a timeout; say what really happened.
			return nil, je
		}
		c.holdOff(wait)
	}
}

// holdOff makes every request of this client wait until d from now.
func (c *JiraClient) holdOff(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := time.Now().Add(d); t.After(c.notBefore) {
		c.notBefore = t
	}
}

func (c *JiraClient) waitTurn(ctx context.Context) error {
	c.mu.Lock()
	wait := time.Until(c.notBefore)
	c.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 86400)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
