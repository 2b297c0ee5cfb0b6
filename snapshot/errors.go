package snapshot

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
	fresh := gates.Fact{Known: !e.Marks.Start.IsZero() && !e.NoEvents, Bool: len(e.NewIssues) == 0, Number: float64(len(e.NewIssues))}
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

// Note is what the status bar adds beside Sentry's health mark: an
// environment with no event yet is up, not down, and says so.
func (e ErrorRate) Note() string {
	if e.NoEvents {
		return "no events yet (" + e.Environment + ")"
	}
	return ""
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
