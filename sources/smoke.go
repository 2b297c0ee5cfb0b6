package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// maxSmokeBody is how much of an answer a check reads. A health endpoint
// answers in a few hundred bytes; a check pointed at a large page must not
// hold megabytes per run, and a match past this point is not seen.
const maxSmokeBody = 64 << 10

// Smoke runs the [[smoke]] checks: each on its own interval, never two
// runs of one check at once, from the deploy's start on. It emits every
// check's last run whenever one finishes.
type Smoke struct {
	checks []smokeSpec
	client *http.Client
	now    func() time.Time

	startMu sync.Mutex
	started time.Time
	wake    chan struct{}

	// mu guards state, and is held while emitting, so a newer reading
	// never reaches the supervisor before an older one.
	mu    sync.Mutex
	state snapshot.Smoke
}

type smokeSpec struct {
	name    string
	url     string // expanded
	want    int
	body    *regexp.Regexp // nil: any body
	every   time.Duration
	timeout time.Duration
}

// SmokeOptions tune a Smoke source; the zero value is the production one.
type SmokeOptions struct {
	HTTP *http.Client     // nil: NewSmokeClient()
	Now  func() time.Time // nil: time.Now
}

// NewSmokeClient is the client checks run with. It answers a redirect
// with the redirect itself rather than following it, as curl does
// without -L: a health URL that starts redirecting (to a login page, a
// maintenance page, another host) has changed, and following it would
// report that page's 200 as the service's. A check that expects a
// redirect says status = 302.
func NewSmokeClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewSmoke builds the source for validated [[smoke]] checks, their URLs
// expanded with vars (config.TemplateVars of the deploy day).
func NewSmoke(checks []config.Smoke, vars map[string]string, o SmokeOptions) (*Smoke, error) {
	s := &Smoke{client: o.HTTP, now: o.Now, wake: make(chan struct{}, 1)}
	if s.client == nil {
		s.client = NewSmokeClient()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, c := range checks {
		u, err := config.Expand(c.URL, vars, false)
		if err != nil {
			return nil, fmt.Errorf("smoke[%d] %q: url: %w", i, c.Name, err)
		}
		sp := smokeSpec{name: c.Name, url: u, want: c.Status, every: c.Interval.D(), timeout: c.Timeout.D()}
		if c.Body != "" {
			if sp.body, err = regexp.Compile(c.Body); err != nil {
				return nil, fmt.Errorf("smoke[%d] %q: body: %w", i, c.Name, err)
			}
		}
		if sp.want == 0 {
			sp.want = http.StatusOK
		}
		if sp.every <= 0 {
			sp.every = 10 * time.Second
		}
		if sp.timeout <= 0 {
			sp.timeout = 5 * time.Second
		}
		s.checks = append(s.checks, sp)
		s.state.Checks = append(s.state.Checks, snapshot.SmokeCheck{Name: c.Name, URL: ShownURL(u), Want: sp.want})
	}
	return s, nil
}

// ShownURL is u as the huddle may see it: no user or password, and no
// query values, which often carry a token.
func ShownURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unparsable URL)"
	}
	p.User = nil
	if p.RawQuery != "" {
		p.RawQuery = "…"
	}
	p.Fragment, p.RawFragment = "", ""
	return p.String()
}

// Name implements Source.
func (s *Smoke) Name() string { return "smoke" }

// SetStarted tells the source the deploy's start; the checks run from
// then on. A zero t changes nothing. Safe to call from any goroutine.
func (s *Smoke) SetStarted(t time.Time) {
	if t.IsZero() {
		return
	}
	s.startMu.Lock()
	s.started = t
	s.startMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Smoke) startedAt() time.Time {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	return s.started
}

// Run implements Source. It says at once which checks there are, idles
// until the deploy starts, then runs every check on its own loop until
// ctx ends, and waits for them.
func (s *Smoke) Run(ctx context.Context, emit func(Snapshot[snapshot.Smoke])) error {
	s.record(-1, snapshot.SmokeCheck{}, emit)
	for s.startedAt().IsZero() {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
	}
	s.record(-1, snapshot.SmokeCheck{}, emit)
	var wg sync.WaitGroup
	for i := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read := func(ctx context.Context) (snapshot.SmokeCheck, error) { return s.runCheck(ctx, i), nil }
			keep := func(r Snapshot[snapshot.SmokeCheck]) { s.record(i, r.Data, emit) }
			_ = Poller[snapshot.SmokeCheck]{Every: s.checks[i].every, Now: s.now}.Run(ctx, read, keep)
		}()
	}
	wg.Wait()
	return nil
}

// record folds run, the result of check i (none when i < 0), into the
// state and emits a copy of it.
func (s *Smoke) record(i int, run snapshot.SmokeCheck, emit func(Snapshot[snapshot.Smoke])) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Started = s.startedAt()
	if i >= 0 {
		c := &s.state.Checks[i]
		c.Runs++
		c.At, c.Status, c.Latency, c.Passing = run.At, run.Status, run.Latency, run.Passing
		if run.Passing {
			c.Failures, c.Since = 0, time.Time{}
		} else {
			if c.Failures == 0 {
				c.Since = run.At
			}
			c.Failures++
			c.Last = run.Last
		}
	}
	data := s.state
	data.Checks = append([]snapshot.SmokeCheck(nil), s.state.Checks...)
	emit(Snapshot[snapshot.Smoke]{At: s.now(), Data: data})
}

// runCheck makes one request of check i and judges the answer.
func (s *Smoke) runCheck(ctx context.Context, i int) snapshot.SmokeCheck {
	c := s.checks[i]
	out := snapshot.SmokeCheck{At: s.now()}
	fail := func(why string) snapshot.SmokeCheck {
		out.Last = snapshot.SmokeFailure{At: out.At, Why: why}
		return out
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fail("bad url: " + snapshot.OneLine(describeHTTPError(err)))
	}
	req.Header.Set("User-Agent", "flightdeck-smoke")
	began := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		out.Latency = time.Since(began)
		return fail(smokeWhy(err, rctx, c.timeout))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSmokeBody))
	resp.Body.Close()
	out.Latency, out.Status = time.Since(began), resp.StatusCode
	switch {
	case err != nil:
		return fail("reading the body: " + smokeWhy(err, rctx, c.timeout))
	case resp.StatusCode != c.want:
		return fail(fmt.Sprintf("%d, want %d", resp.StatusCode, c.want))
	case c.body != nil && !c.body.Match(body):
		return fail("body does not match `" + c.body.String() + "`")
	}
	out.Passing = true
	return out
}

// smokeWhy words a failed request the way the huddle reads it: a timeout
// names the limit, a refusal is just that, and anything else is the cause
// without the URL, which may hold credentials.
func smokeWhy(err error, rctx context.Context, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(rctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout after " + gates.FormatDuration(timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return snapshot.OneLine(describeHTTPError(err))
}

func describeHTTPError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
