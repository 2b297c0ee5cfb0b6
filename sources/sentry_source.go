package sources

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Sentry is the error-rate source: it polls Sentry every [sentry] poll,
// never overlapping a poll still in flight, and emits an ErrorRate judged
// against the deploy marks it was last given.
type Sentry struct {
	client *SentryClient
	rule   snapshot.ErrorRule
	every  time.Duration
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time

	mu      sync.Mutex
	marks   snapshot.DeployMarks
	refresh Refresher
}

// SentryOptions tune a Sentry source; the zero value is the production one.
type SentryOptions struct {
	HTTP *http.Client     // nil: a client with a timeout
	Now  func() time.Time // nil: time.Now; tests run it on a compressed clock
	// After is the wait between polls; nil: a real timer. Tests use it to
	// see how long the source chose to wait without waiting it.
	After func(time.Duration) <-chan time.Time
}

// NewSentry builds the source for a validated [sentry] section.
func NewSentry(cfg *config.Sentry, o SentryOptions) (*Sentry, error) {
	rule, err := NewErrorRule(cfg)
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	every := cfg.Poll.D()
	if every <= 0 {
		every = 30 * time.Second
	}
	return &Sentry{client: NewSentryClient(cfg, o.HTTP), rule: rule, every: every, now: now, after: o.After}, nil
}

// Client is the source's API client, which the deploy-marker action can
// share.
func (s *Sentry) Client() *SentryClient { return s.client }

// Name implements Source.
func (s *Sentry) Name() string { return "sentry" }

// SetDeploy tells the source the deploy's start, release and rollbacks, as
// the journal records them. Safe to call from any goroutine; the next poll
// uses them.
func (s *Sentry) SetDeploy(m snapshot.DeployMarks) {
	m.Rollbacks = append([]time.Time(nil), m.Rollbacks...)
	s.mu.Lock()
	s.marks = m
	s.mu.Unlock()
}

// AddRollback records one more rollback and polls at once, so the marker
// shows without waiting for the next poll.
func (s *Sentry) AddRollback(at time.Time) {
	s.mu.Lock()
	s.marks.Rollbacks = append(append([]time.Time(nil), s.marks.Rollbacks...), at)
	s.mu.Unlock()
	s.Refresh()
}

// Marks returns the deploy marks the source judges against.
func (s *Sentry) Marks() snapshot.DeployMarks {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.marks
	m.Rollbacks = append([]time.Time(nil), m.Rollbacks...)
	return m
}

// Refresh asks for a poll now instead of at the next tick. A poll already
// in flight is not interrupted, and requests made during it fold into one.
func (s *Sentry) Refresh() { s.refresh.Refresh() }

// Run implements Source. A failed poll emits the error with the last good
// reading; a 429 stretches the wait to what Sentry asked for.
func (s *Sentry) Run(ctx context.Context, emit func(Snapshot[snapshot.ErrorRate])) error {
	var last snapshot.ErrorRate
	read := func(ctx context.Context) (snapshot.ErrorRate, error) {
		data, err := s.Read(ctx)
		if err != nil {
			return last, err
		}
		last = data
		return data, nil
	}
	wait := func(_ snapshot.ErrorRate, err error) time.Duration {
		var se *SentryError
		if errors.As(err, &se) && se.RateLimited() && se.RetryAfter > s.every {
			return se.RetryAfter
		}
		return s.every
	}
	return Poller[snapshot.ErrorRate]{Every: s.every, Refresh: &s.refresh, Wait: wait, Now: s.now, After: s.after}.Run(ctx, read, emit)
}

// span is how far back a poll reads: the whole baseline before the deploy
// start and everything since, at least an hour, at most a day (1,440
// intervals, which the chart is benchmarked at).
func (s *Sentry) span(now time.Time, m snapshot.DeployMarks) time.Duration {
	d := max(s.rule.Baseline+time.Duration(s.rule.Intervals)*time.Minute, time.Hour)
	if !m.Start.IsZero() {
		d = max(d, now.Sub(m.Start)+s.rule.Baseline+time.Minute)
	}
	return min(d, 24*time.Hour)
}

// settleDelay is how long after an interval closes it is first judged.
const settleDelay = 15 * time.Second

// ignoreScan bounds how many issues are read to find the ignored ones;
// sorted by frequency, the noisy issues an ignore list is for come first.
const ignoreScan = 3

// maxExcluded keeps the stats query a sane length.
const maxExcluded = 150

// Read makes one poll: the issues to leave out, the error counts without
// them, and the issues new since the deploy. An environment Sentry has no
// events in yet is a reading, not an error: ErrorRate.NoEvents.
func (s *Sentry) Read(ctx context.Context) (snapshot.ErrorRate, error) {
	m := s.Marks()
	e, err := s.read(ctx, m)
	if errors.Is(err, ErrSentryNoEvents) {
		e = snapshot.BuildErrorRate(snapshot.ErrorInput{Marks: m}, s.rule)
		e.NoEvents = true
		err = nil
	}
	e.Environment = s.client.Environment()
	return e, err
}

func (s *Sentry) read(ctx context.Context, m snapshot.DeployMarks) (snapshot.ErrorRate, error) {
	now := s.now()
	span := s.span(now, m)
	var exclude []string
	if len(s.rule.Ignore) > 0 {
		seen, err := s.client.Issues(ctx, IssueQuery{Query: "event.type:error", Period: span, Sort: "freq", Pages: ignoreScan})
		if err != nil {
			return snapshot.ErrorRate{}, err
		}
		for _, is := range seen {
			if s.rule.Ignored(is.Title) && len(exclude) < maxExcluded && is.ShortID != "" {
				exclude = append(exclude, is.ShortID)
			}
		}
	}
	series, err := s.client.ErrorCounts(ctx, span, exclude)
	if err != nil {
		return snapshot.ErrorRate{}, err
	}
	// A minute that closed moments ago may still be missing events on
	// their way through ingestion; judged now it would read as a dip and
	// break a spike's streak, then fill in at the next poll.
	for len(series) > 0 && series[len(series)-1].At.Add(s.rule.Interval+settleDelay).After(now) {
		series = series[:len(series)-1]
	}
	var issues []snapshot.SentryIssue
	if !m.Start.IsZero() {
		issues, err = s.newIssues(ctx, span, m)
		if err != nil {
			return snapshot.ErrorRate{}, err
		}
	}
	return snapshot.BuildErrorRate(snapshot.ErrorInput{Series: series, Issues: issues, Excluded: len(exclude), Marks: m}, s.rule), nil
}

// newIssues are the unresolved issues first seen since the deploy start,
// and, when the release is known, those first seen in it: a canary may
// have raised them before the deploy was started in the cockpit. Resolving
// or archiving an issue in Sentry takes it off the list, as the team's
// triage there means it was looked at.
func (s *Sentry) newIssues(ctx context.Context, span time.Duration, m snapshot.DeployMarks) ([]snapshot.SentryIssue, error) {
	since := m.Start.UTC().Format("2006-01-02T15:04:05")
	list, err := s.client.Issues(ctx, IssueQuery{Query: "is:unresolved firstSeen:>=" + since, Period: span, Sort: "new", Pages: 2})
	if err != nil {
		return nil, err
	}
	if m.Release == "" {
		return list, nil
	}
	byRelease, err := s.client.Issues(ctx, IssueQuery{Query: "is:unresolved firstRelease:" + searchValue(m.Release), Period: span, Sort: "new", Pages: 2})
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, is := range list {
		index[is.ID] = i
	}
	for _, is := range byRelease {
		is.FirstRelease = m.Release
		if i, ok := index[is.ID]; ok {
			list[i].FirstRelease = m.Release
			continue
		}
		list = append(list, is)
	}
	return list, nil
}

// searchValue quotes a value for Sentry's search syntax when it needs it.
func searchValue(v string) string {
	if !strings.ContainsAny(v, " \t\"()[],") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}
