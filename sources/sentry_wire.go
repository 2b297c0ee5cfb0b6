package sources

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// decodeEventsStats reads a single-series events-stats answer:
// {"data": [[1700000000, [{"count": 3}]], ...]}. Buckets come back sorted,
// one per timestamp, counts never negative.
func decodeEventsStats(b []byte) ([]snapshot.ErrorPoint, error) {
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
	out := make([]snapshot.ErrorPoint, 0, len(byTime))
	for ts, n := range byTime {
		out = append(out, snapshot.ErrorPoint{At: time.Unix(ts, 0).UTC(), Count: n})
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
func decodeSentryIssues(b []byte) ([]snapshot.SentryIssue, error) {
	var wire []sentryIssueWire
	if err := json.Unmarshal(b, &wire); err != nil {
		return nil, fmt.Errorf("not the issues JSON: %w", err)
	}
	out := make([]snapshot.SentryIssue, 0, len(wire))
	for _, w := range wire {
		if w.ID == "" {
			return nil, errors.New("an issue without an id")
		}
		is := snapshot.SentryIssue{
			ID: w.ID, ShortID: w.ShortID, Title: snapshot.Printable(snapshot.OneLine(w.Title)), Culprit: snapshot.Printable(snapshot.OneLine(w.Culprit)), Level: w.Level,
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

// decodeSentryEnvironments reads the environments list. The schema's
// example gives ids as strings and its type as numbers; only names matter.
func decodeSentryEnvironments(b []byte) ([]string, error) {
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("not the environments JSON: %w", err)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.Name)
	}
	return out, nil
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

// sentryNextPage reads Sentry's Link header and returns the query of the
// next page when there are results there. Sentry always sends a "next"
// link (the pagination doc: "cursors will always be returned for both a
// previous and a next page"); results="false" is what ends the paging.
//
// The next page is the URL between the angle brackets: its cursor is taken
// from there, since the doc's own example has no cursor attribute. Only the
// URL's query is used, on the endpoint the client already called: Sentry
// builds the URL's host from its url-prefix or the organization's domain,
// which need not be the address in [sentry] url (a self-hosted Sentry
// behind a proxy often names its inside address), and the token goes only
// where the config says.
func sentryNextPage(link string) (url.Values, bool) {
	for _, l := range parseLinkHeader(link) {
		if !hasToken(l.params["rel"], "next") {
			continue
		}
		if r, ok := l.params["results"]; ok && !strings.EqualFold(r, "true") {
			return nil, false
		}
		q := url.Values{}
		if u, err := url.Parse(l.uri); err == nil {
			q = u.Query()
		}
		cursor := q.Get("cursor")
		if cursor == "" {
			cursor = l.params["cursor"]
		}
		if cursor == "" {
			return nil, false
		}
		q.Set("cursor", cursor)
		return q, true
	}
	return nil, false
}

type linkValue struct {
	uri    string
	params map[string]string // names lower-cased, values unquoted
}

// parseLinkHeader splits a Link header (RFC 8288) into its links. Commas
// and semicolons inside the angle brackets or a quoted value belong to
// them.
func parseLinkHeader(h string) []linkValue {
	var out []linkValue
	for {
		start := strings.IndexByte(h, '<')
		if start < 0 {
			return out
		}
		end := strings.IndexByte(h[start:], '>')
		if end < 0 {
			return out
		}
		l := linkValue{uri: strings.TrimSpace(h[start+1 : start+end]), params: map[string]string{}}
		h = h[start+end+1:]
		for {
			h = strings.TrimLeft(h, " \t")
			if h == "" || h[0] != ';' {
				break
			}
			h = strings.TrimLeft(h[1:], " \t")
			i := strings.IndexAny(h, "=;,")
			if i < 0 {
				l.params[strings.ToLower(strings.TrimSpace(h))] = ""
				h = ""
				break
			}
			name := strings.ToLower(strings.TrimSpace(h[:i]))
			if h[i] != '=' {
				l.params[name] = ""
				h = h[i:]
				continue
			}
			h = strings.TrimLeft(h[i+1:], " \t")
			var val string
			if strings.HasPrefix(h, `"`) {
				j := 1
				var b strings.Builder
				for ; j < len(h) && h[j] != '"'; j++ {
					if h[j] == '\\' && j+1 < len(h) {
						j++
					}
					b.WriteByte(h[j])
				}
				val = b.String()
				h = h[min(j+1, len(h)):]
			} else {
				j := strings.IndexAny(h, ";,")
				if j < 0 {
					j = len(h)
				}
				val = strings.TrimSpace(h[:j])
				h = h[j:]
			}
			if _, seen := l.params[name]; !seen {
				l.params[name] = val
			}
		}
		out = append(out, l)
		if i := strings.IndexByte(h, ','); i >= 0 {
			h = h[i+1:]
		} else {
			return out
		}
	}
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}
