package sources

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// DeployMarks are the moments of the deploy the error rate is judged
// against. They come from the journal, not from Sentry: the cockpit knows
// when it started the deploy and when it rolled back.
type DeployMarks struct {
	Start     time.Time   // the first deploy.start; zero before the deploy
	Release   string      // the release being deployed, when known
	Rollbacks []time.Time // when each rollback ran, oldest first
}

// ErrorRule is how the error rate is judged, from the [sentry] section.
type ErrorRule struct {
	Baseline  time.Duration // the window before the deploy start that sets "normal"
	Factor    float64       // a spike is above Factor × the baseline mean…
	Floor     float64       // …and above Floor errors per interval…
	Intervals int           // …for this many intervals in a row
	Interval  time.Duration // the width of one interval of the series
	Ignore    []*regexp.Regexp
}

// NewErrorRule compiles the rule of a validated [sentry] section. The
// defaults are the ones config documents: a 60 m baseline, 3×, 10 a minute,
// 3 intervals in a row.
func NewErrorRule(s *config.Sentry) (ErrorRule, error) {
	r := ErrorRule{
		Baseline: s.Baseline.D(), Factor: s.SpikeFactor, Floor: s.SpikeFloor,
		Intervals: s.SpikeIntervals, Interval: time.Minute,
	}
	if r.Baseline <= 0 {
		r.Baseline = 60 * time.Minute
	}
	if r.Factor <= 1 {
		r.Factor = 3
	}
	if r.Floor < 0 {
		r.Floor = 10
	}
	if r.Intervals < 1 {
		r.Intervals = 3
	}
	for i, pat := range s.Ignore {
		re, err := regexp.Compile(pat)
		if err != nil {
			return r, fmt.Errorf("sentry.ignore[%d]: %w", i, err)
		}
		r.Ignore = append(r.Ignore, re)
	}
	return r, nil
}

// Ignored reports whether an issue title matches the ignore list.
func (r ErrorRule) Ignored(title string) bool {
	for _, re := range r.Ignore {
		if re.MatchString(title) {
			return true
		}
	}
	return false
}

// Baseline is the error rate that counts as normal.
type Baseline struct {
	From, To time.Time // the window it was measured over
	Mean     float64   // errors per interval
	Spread   float64   // standard deviation per interval
	Samples  int       // intervals of data in the window
}

// ErrorRate is one reading of the error rate and the issues the deploy
// brought, judged against the rule. It is what the Sentry source emits.
//
// Issues matched by the ignore list are left out of everything: their
// events are filtered out of the counts by Sentry itself (the query names
// them with !issue:[...]), so they move neither the baseline nor the
// current rate, and they are not listed as new. Leaving them in the counts
// would let a known-noisy issue, which the runbook says to expect right
// after a deploy, trip the spike while the list said there was nothing new.
type ErrorRate struct {
	Series    []ErrorPoint // complete intervals, oldest first
	Interval  time.Duration
	Marks     DeployMarks
	Rule      ErrorRule
	Baseline  Baseline
	Current   ErrorPoint // the newest complete interval
	Threshold float64    // what a spike interval must exceed: max(Factor × mean, Floor)
	// Streak counts the newest intervals in a row above Threshold.
	Streak     int
	Spike      bool
	SpikeSince time.Time // start of the streak, when Spike
	Peak       ErrorPoint
	HasPeak    bool // Peak is the busiest interval since the deploy started
	// NewIssues are the issues first seen since the deploy started (or first
	// seen in its release), the ignored ones left out; busiest first.
	NewIssues []SentryIssue
	// HiddenNew counts new issues the ignore list hid.
	HiddenNew int
	// Excluded counts the ignored issues whose events were taken out of
	// the series.
	Excluded int
	// NoEvents is set when Sentry has seen no event in Environment yet
	// (nor a deploy naming it): nothing to judge, and nothing wrong with
	// Sentry either.
	NoEvents    bool
	Environment string
}

// Ratio is the current rate over the baseline mean; ok is false when the
// baseline is zero and a ratio means nothing.
func (e ErrorRate) Ratio() (ratio float64, ok bool) {
	if e.Baseline.Mean <= 0 {
		return 0, false
	}
	return float64(e.Current.Count) / e.Baseline.Mean, true
}

// ErrorInput is one poll's raw reading.
type ErrorInput struct {
	Series   []ErrorPoint  // without ignored issues' events
	Issues   []SentryIssue // candidates for new; the ignore list is applied here
	Excluded int
	Marks    DeployMarks
	Interval time.Duration // default the rule's, else one minute
}

// BuildErrorRate judges one reading. It is pure, so the spike rule is
// tested on hand-made series as well as against the stand-in.
//
// Intervals, not polls, are what must be above the threshold in a row: the
// cockpit polls more often than a minute closes, and counting the same
// minute twice would shorten the rule without anyone noticing.
func BuildErrorRate(in ErrorInput, rule ErrorRule) ErrorRate {
	iv := in.Interval
	if iv <= 0 {
		iv = rule.Interval
	}
	if iv <= 0 {
		iv = time.Minute
	}
	series := append([]ErrorPoint(nil), in.Series...)
	sort.SliceStable(series, func(i, j int) bool { return series[i].At.Before(series[j].At) })
	out := ErrorRate{Series: series, Interval: iv, Marks: in.Marks, Rule: rule, Excluded: in.Excluded}
	n := max(rule.Intervals, 1)

	// The baseline is the whole intervals before the one the deploy started
	// in; before a deploy it ends where the intervals being judged begin, so
	// a spike still means "above the hour before".
	end := in.Marks.Start
	if end.IsZero() {
		if len(series) > n {
			end = series[len(series)-n].At
		} else if len(series) > 0 {
			end = series[0].At
		}
	}
	end = end.Truncate(iv)
	out.Baseline = baselineOf(series, end.Add(-rule.Baseline), end, iv)
	out.Threshold = math.Max(rule.Factor*out.Baseline.Mean, rule.Floor)

	if len(series) > 0 {
		out.Current = series[len(series)-1]
	}
	limit := rule.Factor * out.Baseline.Mean
	for i := len(series) - 1; i >= 0; i-- {
		c := float64(series[i].Count)
		if c <= limit || c <= rule.Floor {
			break
		}
		out.Streak++
		out.SpikeSince = series[i].At
	}
	out.Spike = out.Streak >= n
	if !out.Spike {
		out.SpikeSince = time.Time{}
	}

	if !in.Marks.Start.IsZero() {
		from := in.Marks.Start.Truncate(iv)
		for _, p := range series {
			if !p.At.Before(from) && (!out.HasPeak || p.Count > out.Peak.Count) {
				out.Peak, out.HasPeak = p, true
			}
		}
	}

	for _, is := range in.Issues {
		if rule.Ignored(is.Title) {
			out.HiddenNew++
			continue
		}
		out.NewIssues = append(out.NewIssues, is)
	}
	sort.SliceStable(out.NewIssues, func(i, j int) bool {
		a, b := out.NewIssues[i], out.NewIssues[j]
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		return a.FirstSeen.Before(b.FirstSeen)
	})
	return out
}

// baselineOf measures the intervals that start in [from, to). An interval Sentry
// returned with no events is a real zero and counts; intervals it did not
// return (before the range asked for) do not.
func baselineOf(series []ErrorPoint, from, to time.Time, iv time.Duration) Baseline {
	b := Baseline{From: from, To: to}
	var sum float64
	var counts []float64
	for _, p := range series {
		if p.At.Before(from) || !p.At.Before(to) {
			continue
		}
		counts = append(counts, float64(p.Count))
		sum += float64(p.Count)
	}
	b.Samples = len(counts)
	if b.Samples == 0 {
		return b
	}
	b.Mean = sum / float64(b.Samples)
	var sq float64
	for _, c := range counts {
		sq += (c - b.Mean) * (c - b.Mean)
	}
	b.Spread = math.Sqrt(sq / float64(b.Samples))
	return b
}

// Facts are the Sentry gates' inputs. No new issues is unknown before the
// deploy starts: "new since when?" has no answer yet.
func (e ErrorRate) Facts() gates.Facts {
	spike := gates.Fact{Known: len(e.Series) > 0, Bool: !e.Spike}
	per := perLabel(e.Interval)
	base := fmt.Sprintf("baseline %s%s", FormatRate(e.Baseline.Mean), per)
	switch {
	case e.NoEvents:
		spike.Detail = e.noEventsDetail()
	case !spike.Known:
		spike.Detail = "no error counts yet"
	case e.Spike:
		spike.Detail = fmt.Sprintf("spike: %d%s, over %s%s for %d intervals (%s)", e.Current.Count, per, FormatRate(e.Threshold), per, e.Streak, base)
	default:
		spike.Detail = fmt.Sprintf("%d%s, limit %s%s (%s)", e.Current.Count, per, FormatRate(e.Threshold), per, base)
	}
	fresh := gates.Fact{Known: !e.Marks.Start.IsZero() && !e.NoEvents, Bool: len(e.NewIssues) == 0}
	switch {
	case e.NoEvents:
		fresh.Detail = e.noEventsDetail()
	case !fresh.Known:
		fresh.Detail = "the deploy has not started"
	case len(e.NewIssues) == 0:
		fresh.Detail = "no new issues"
		if e.HiddenNew > 0 {
			fresh.Detail += fmt.Sprintf(" (%d ignored)", e.HiddenNew)
		}
	default:
		ids := make([]string, 0, 3)
		for i, is := range e.NewIssues {
			if i == 3 {
				ids = append(ids, "…")
				break
			}
			ids = append(ids, is.ShortID)
		}
		fresh.Detail = fmt.Sprintf("%d new: %s", len(e.NewIssues), strings.Join(ids, ", "))
	}
	return gates.Facts{"sentry.no_spike": spike, "sentry.no_new_issues": fresh}
}

// noEventsDetail is why the gates cannot be judged yet. A quiet new
// environment and a misspelt one look the same from here, so neither gate
// passes on it.
func (e ErrorRate) noEventsDetail() string {
	return fmt.Sprintf("no events yet in environment %s", e.Environment)
}

func perLabel(iv time.Duration) string {
	if iv == 0 || iv == time.Minute {
		return "/min"
	}
	return "/" + gates.FormatDuration(iv)
}

// FormatRate renders a rate compactly: "4", "4.2", "0.35".
func FormatRate(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "?"
	case f >= 100 || f == math.Trunc(f):
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	case f >= 1:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// Sentry is the error-rate source: it polls Sentry every [sentry] poll,
// never overlapping a poll still in flight, and emits an ErrorRate judged
// against the deploy marks it was last given.
type Sentry struct {
	client *SentryClient
	rule   ErrorRule
	every  time.Duration
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time

	mu    sync.Mutex
	marks DeployMarks
	poke  chan struct{}
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
	return &Sentry{client: NewSentryClient(cfg, o.HTTP), rule: rule, every: every, now: now, after: o.After, poke: make(chan struct{}, 1)}, nil
}

// Client is the source's API client, which the deploy-marker action can
// share.
func (s *Sentry) Client() *SentryClient { return s.client }

// Name implements Source.
func (s *Sentry) Name() string { return "sentry" }

// SetDeploy tells the source the deploy's start, release and rollbacks, as
// the journal records them. Safe to call from any goroutine; the next poll
// uses them.
func (s *Sentry) SetDeploy(m DeployMarks) {
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
func (s *Sentry) Marks() DeployMarks {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.marks
	m.Rollbacks = append([]time.Time(nil), m.Rollbacks...)
	return m
}

// Refresh asks for a poll now instead of at the next tick. A poll already
// in flight is not interrupted, and requests made during it fold into one.
func (s *Sentry) Refresh() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run implements Source. A failed poll emits the error with the last good
// reading; a 429 stretches the wait to what Sentry asked for.
func (s *Sentry) Run(ctx context.Context, emit func(Snapshot[ErrorRate])) error {
	var (
		seq  uint64
		last ErrorRate
	)
	for {
		data, err := s.Read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		seq++
		wait := s.every
		if err != nil {
			data = last
			var se *SentryError
			if errors.As(err, &se) && se.RateLimited() && se.RetryAfter > wait {
				wait = se.RetryAfter
			}
		} else {
			last = data
		}
		emit(Snapshot[ErrorRate]{Seq: seq, At: s.now(), Data: data, Err: err})
		if !s.wait(ctx, wait) {
			return nil
		}
	}
}

// wait waits d, or less when a refresh is asked for; false when ctx ended.
func (s *Sentry) wait(ctx context.Context, d time.Duration) bool {
	var fired <-chan time.Time
	if s.after != nil {
		fired = s.after(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		fired = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-fired:
	case <-s.poke:
	}
	return true
}

// span is how far back a poll reads: the whole baseline before the deploy
// start and everything since, at least an hour, at most a day (1,440
// intervals, which the chart is benchmarked at).
func (s *Sentry) span(now time.Time, m DeployMarks) time.Duration {
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
func (s *Sentry) Read(ctx context.Context) (ErrorRate, error) {
	m := s.Marks()
	e, err := s.read(ctx, m)
	if errors.Is(err, ErrSentryNoEvents) {
		e = BuildErrorRate(ErrorInput{Marks: m}, s.rule)
		e.NoEvents = true
		err = nil
	}
	e.Environment = s.client.Environment()
	return e, err
}

func (s *Sentry) read(ctx context.Context, m DeployMarks) (ErrorRate, error) {
	now := s.now()
	span := s.span(now, m)
	var exclude []string
	if len(s.rule.Ignore) > 0 {
		seen, err := s.client.Issues(ctx, IssueQuery{Query: "event.type:error", Period: span, Sort: "freq", Pages: ignoreScan})
		if err != nil {
			return ErrorRate{}, err
		}
		for _, is := range seen {
			if s.rule.Ignored(is.Title) && len(exclude) < maxExcluded && is.ShortID != "" {
				exclude = append(exclude, is.ShortID)
			}
		}
	}
	series, err := s.client.ErrorCounts(ctx, span, exclude)
	if err != nil {
		return ErrorRate{}, err
	}
	// A minute that closed moments ago may still be missing events on
	// their way through ingestion; judged now it would read as a dip and
	// break a spike's streak, then fill in at the next poll.
	for len(series) > 0 && series[len(series)-1].At.Add(s.rule.Interval+settleDelay).After(now) {
		series = series[:len(series)-1]
	}
	var issues []SentryIssue
	if !m.Start.IsZero() {
		issues, err = s.newIssues(ctx, span, m)
		if err != nil {
			return ErrorRate{}, err
		}
	}
	return BuildErrorRate(ErrorInput{Series: series, Issues: issues, Excluded: len(exclude), Marks: m}, s.rule), nil
}

// newIssues are the unresolved issues first seen since the deploy start,
// and, when the release is known, those first seen in it: a canary may
// have raised them before the deploy was started in the cockpit. Resolving
// or archiving an issue in Sentry takes it off the list, as the team's
// triage there means it was looked at.
func (s *Sentry) newIssues(ctx context.Context, span time.Duration, m DeployMarks) ([]SentryIssue, error) {
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
