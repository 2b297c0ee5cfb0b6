package sentrystub

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// issue is a group of events sharing a fingerprint.
type issue struct {
	id            int
	shortID       string
	project       int
	title         string
	culprit       string
	level         string
	etype         string
	platform      string
	logger        string
	metadata      map[string]any
	firstRelease  string
	lastRelease   string
	lastReleaseAt time.Time
	unhandled     bool
	events        []*event
	all           seen
	byEnv         map[string]*seen
}

// seen is the running tally Sentry keeps per issue and per issue and
// environment (Group and GroupEnvironment).
type seen struct {
	count        int
	first, last  time.Time
	users        map[string]bool
	firstRelease string
}

func (s *seen) add(e *event) {
	if s.count == 0 {
		s.firstRelease = e.release
	}
	s.count++
	if s.first.IsZero() || e.at.Before(s.first) {
		s.first = e.at
	}
	if e.at.After(s.last) {
		s.last = e.at
	}
	if e.userKey != "" {
		if s.users == nil {
			s.users = map[string]bool{}
		}
		s.users[e.userKey] = true
	}
}

func (s *seen) merge(o *seen) {
	if o == nil || o.count == 0 {
		return
	}
	if s.count == 0 || o.first.Before(s.first) {
		s.first = o.first
		s.firstRelease = o.firstRelease
	}
	if o.last.After(s.last) {
		s.last = o.last
	}
	s.count += o.count
	for u := range o.users {
		if s.users == nil {
			s.users = map[string]bool{}
		}
		s.users[u] = true
	}
}

// lifetime is the issue's tally restricted to envs (nil: all).
func (iss *issue) lifetime(envs map[string]bool) seen {
	if envs == nil {
		return iss.all
	}
	var out seen
	for env := range envs {
		out.merge(iss.byEnv[env])
	}
	return out
}

func priority(level string) string {
	switch level {
	case "fatal", "error":
		return "high"
	case "warning":
		return "medium"
	}
	return "low"
}

type seenJSON struct {
	Count     string `json:"count"`
	UserCount int    `json:"userCount"`
	FirstSeen any    `json:"firstSeen"`
	LastSeen  any    `json:"lastSeen"`
}

func seenOut(s seen) *seenJSON {
	return &seenJSON{
		Count:     strconv.Itoa(s.count),
		UserCount: len(s.users),
		FirstSeen: isoTime(s.first),
		LastSeen:  isoTime(s.last),
	}
}

type issueProjectJSON struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Slug     string  `json:"slug"`
	Platform *string `json:"platform"`
}

// issueJSON is StreamGroupSerializerSnuba's output: the base group fields,
// the seen stats for the request's environments and date range, "lifetime"
// (environments only) and "filtered" (also the query's event conditions).
type issueJSON struct {
	ID                  string                `json:"id"`
	ShareID             *string               `json:"shareId"`
	ShortID             string                `json:"shortId"`
	Title               string                `json:"title"`
	Culprit             string                `json:"culprit"`
	Permalink           string                `json:"permalink"`
	Logger              *string               `json:"logger"`
	Level               string                `json:"level"`
	Status              string                `json:"status"`
	StatusDetails       map[string]any        `json:"statusDetails"`
	Substatus           string                `json:"substatus"`
	IsPublic            bool                  `json:"isPublic"`
	Platform            *string               `json:"platform"`
	Priority            string                `json:"priority"`
	PriorityLockedAt    any                   `json:"priorityLockedAt"`
	Project             issueProjectJSON      `json:"project"`
	Type                string                `json:"type"`
	IssueType           string                `json:"issueType"`
	IssueCategory       string                `json:"issueCategory"`
	Metadata            map[string]any        `json:"metadata"`
	NumComments         int                   `json:"numComments"`
	AssignedTo          any                   `json:"assignedTo"`
	IsBookmarked        bool                  `json:"isBookmarked"`
	IsSubscribed        bool                  `json:"isSubscribed"`
	SubscriptionDetails any                   `json:"subscriptionDetails"`
	HasSeen             bool                  `json:"hasSeen"`
	Annotations         []any                 `json:"annotations"`
	IsUnhandled         bool                  `json:"isUnhandled"`
	Count               string                `json:"count"`
	UserCount           int                   `json:"userCount"`
	FirstSeen           any                   `json:"firstSeen"`
	LastSeen            any                   `json:"lastSeen"`
	Stats               map[string][][2]int64 `json:"stats,omitempty"`
	Lifetime            *seenJSON             `json:"lifetime,omitempty"`
	Filtered            *seenJSON             `json:"filtered"`
	FirstRelease        *releaseBrief         `json:"firstRelease,omitempty"`
	LastRelease         *releaseBrief         `json:"lastRelease,omitempty"`
}

type releaseBrief struct {
	Version      string `json:"version"`
	ShortVersion string `json:"shortVersion"`
	DateCreated  any    `json:"dateCreated"`
	DateReleased any    `json:"dateReleased"`
	FirstEvent   any    `json:"firstEvent"`
	LastEvent    any    `json:"lastEvent"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// issueOut serialises iss. Call with s.mu held.
func (s *Server) issueOut(r *http.Request, iss *issue, shown, life seen, filtered *seen, now time.Time) issueJSON {
	p := s.projectByID(iss.project)
	substatus := "ongoing"
	if now.Sub(life.first) < newWindow {
		substatus = "new"
	}
	out := issueJSON{
		ID:            strconv.Itoa(iss.id),
		ShortID:       iss.shortID,
		Title:         iss.title,
		Culprit:       iss.culprit,
		Permalink:     fmt.Sprintf("%s/organizations/%s/issues/%d/", baseURL(r), s.org, iss.id),
		Logger:        nullable(iss.logger),
		Level:         iss.level,
		Status:        "unresolved",
		StatusDetails: map[string]any{},
		Substatus:     substatus,
		Platform:      nullable(iss.platform),
		Priority:      priority(iss.level),
		Project:       issueProjectJSON{ID: strconv.Itoa(p.ID), Name: p.Slug, Slug: p.Slug, Platform: nullable(iss.platform)},
		Type:          iss.etype,
		IssueType:     "error",
		IssueCategory: "error",
		Metadata:      iss.metadata,
		Annotations:   []any{},
		IsUnhandled:   iss.unhandled,
		Count:         strconv.Itoa(shown.count),
		UserCount:     len(shown.users),
		FirstSeen:     isoTime(shown.first),
		LastSeen:      isoTime(shown.last),
		Lifetime:      seenOut(life),
	}
	if filtered != nil {
		out.Filtered = seenOut(*filtered)
	}
	return out
}

// groupStats buckets an issue's events for the "stats" field, as tsdb's
// make_series does: points at rollup boundaries from start to end inclusive.
func groupStats(iss *issue, envs map[string]bool, start, end time.Time, rollup time.Duration) [][2]int64 {
	step := int64(rollup / time.Second)
	if step <= 0 {
		step = 1
	}
	first := floorDiv(start.Unix(), step) * step
	lastKey := floorDiv(end.Unix(), step) * step
	out := make([][2]int64, 0, (lastKey-first)/step+1)
	index := map[int64]int{}
	for k := first; k <= lastKey; k += step {
		index[k] = len(out)
		out = append(out, [2]int64{k, 0})
	}
	for _, e := range iss.events {
		if envs != nil && !envs[e.environment] {
			continue
		}
		if i, ok := index[floorDiv(e.at.Unix(), step)*step]; ok {
			out[i][1]++
		}
	}
	return out
}

// statsWindow resolves groupStatsPeriod into a range and rollup, following
// GroupStatsMixin: 24 hourly points, 14 daily points, or for "auto" about
// thirty points over the request's date range.
func statsWindow(period string, start, end, now time.Time) (time.Time, time.Time, time.Duration) {
	switch period {
	case "24h":
		return now.Add(-23 * time.Hour), now, time.Hour
	case "14d":
		return now.Add(-13 * 24 * time.Hour), now, 24 * time.Hour
	}
	total := end.Sub(start)
	var rollup time.Duration
	switch {
	case total < 24*time.Hour:
		rollup = total / 29
	case total < 29*time.Hour:
		rollup = time.Hour
	case total < 29*2*time.Hour:
		rollup = 2 * time.Hour
	case total < 29*3*time.Hour:
		rollup = 3 * time.Hour
	case total < 29*6*time.Hour:
		rollup = 6 * time.Hour
	case total < 35*12*time.Hour:
		rollup = 12 * time.Hour
	case total < 29*24*time.Hour:
		rollup = 24 * time.Hour
	default:
		days := (total + 29*12*time.Hour) / (29 * 24 * time.Hour)
		rollup = days * 24 * time.Hour
	}
	rollup = max(rollup.Truncate(time.Second), time.Second)
	return start, end, rollup
}

var issueSorts = map[string]bool{"date": true, "new": true, "freq": true, "user": true, "priority": true, "trends": true}

type listedIssue struct {
	iss      *issue
	shown    seen
	life     seen
	filtered *seen
}

// handleIssues serves GET /api/0/organizations/{org}/issues/.
//
// An issue is listed when it has at least one event in the request's date
// range, projects and environments that also matches the query's event
// conditions (release:, level:, tags...), and its own attributes match the
// issue conditions (firstSeen:, firstRelease:, is:...). firstSeen and
// firstRelease are the issue's over its whole life in the requested
// environments, as Sentry's GroupEnvironment records them.
func (s *Server) handleIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	start, end, err := dateRange(q, now)
	if err != nil {
		writeError(w, err)
		return
	}
	statsPeriod := "24h"
	if q.Has("groupStatsPeriod") {
		statsPeriod = q.Get("groupStatsPeriod")
	}
	switch statsPeriod {
	case "", "24h", "14d", "auto":
	default:
		writeError(w, badRequest("Invalid stats_period. Valid choices are '', '24h', '14d' and 'auto'"))
		return
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "date"
	}
	if !issueSorts[sortBy] {
		writeError(w, badRequest("Invalid sort: %s", sortBy))
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, badRequest("invalid limit"))
			return
		}
		limit = min(n, 100)
	}
	offset, err := cursorOffset(q.Get("cursor"))
	if err != nil {
		writeError(w, err)
		return
	}
	query := "is:unresolved"
	if q.Has("query") {
		query = strings.TrimSpace(q.Get("query"))
	}
	filt, err := s.compileQuery(query, true, now)
	if err != nil {
		writeError(w, err)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	projects, err := s.selectProjects(q)
	if err != nil {
		writeError(w, err)
		return
	}
	envs, err := s.selectEnvs(q)
	if err != nil {
		writeError(w, err)
		return
	}
	var listed []listedIssue
	for _, iss := range s.issues {
		if !projects[iss.project] {
			continue
		}
		life := iss.lifetime(envs)
		if life.count == 0 || !filt.matchIssue(&issueView{iss: iss, life: life}) {
			continue
		}
		var shown, matched seen
		for _, e := range iss.events {
			if (envs != nil && !envs[e.environment]) || e.at.Before(start) || e.at.After(end) {
				continue
			}
			shown.add(e)
			if filt.matchEvent(e) {
				matched.add(e)
			}
		}
		if matched.count == 0 {
			continue
		}
		li := listedIssue{iss: iss, shown: shown, life: life}
		if len(filt.event) > 0 {
			li.filtered = &matched
		}
		listed = append(listed, li)
	}
	sort.SliceStable(listed, func(i, j int) bool {
		a, b := listed[i], listed[j]
		var ka, kb int64
		switch sortBy {
		case "new":
			ka, kb = a.life.first.UnixNano(), b.life.first.UnixNano()
		case "freq":
			ka, kb = int64(a.shown.count), int64(b.shown.count)
		case "user":
			ka, kb = int64(len(a.shown.users)), int64(len(b.shown.users))
		default:
			ka, kb = a.shown.last.UnixNano(), b.shown.last.UnixNano()
		}
		if ka != kb {
			return ka > kb
		}
		return a.iss.id > b.iss.id
	})

	total := len(listed)
	lo, hi := min(offset, total), min(offset+limit, total)
	out := make([]issueJSON, 0, hi-lo)
	for _, li := range listed[lo:hi] {
		j := s.issueOut(r, li.iss, li.shown, li.life, li.filtered, now)
		if statsPeriod != "" {
			ss, se, rollup := statsWindow(statsPeriod, start, end, now)
			j.Stats = map[string][][2]int64{statsPeriod: groupStats(li.iss, envs, ss, se, rollup)}
		}
		out = append(out, j)
	}
	setPageHeaders(w, r, offset, limit, total, true)
	writeJSON(w, http.StatusOK, out)
}

// handleIssue serves GET /api/0/organizations/{org}/issues/{issue_id}/,
// which (unlike the list) carries firstRelease and lastRelease.
func (s *Server) handleIssue(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := r.PathValue("issue_id")
	var iss *issue
	for _, it := range s.issues {
		if strconv.Itoa(it.id) == ref || strings.EqualFold(it.shortID, ref) {
			iss = it
			break
		}
	}
	if iss == nil {
		writeDetail(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	out := s.issueOut(r, iss, iss.all, iss.all, nil, now)
	out.Lifetime = nil
	out.Stats = map[string][][2]int64{
		"24h": groupStats(iss, nil, now.Add(-23*time.Hour), now, time.Hour),
		"30d": groupStats(iss, nil, now.Add(-29*24*time.Hour), now, 24*time.Hour),
	}
	out.FirstRelease = s.releaseBriefOf(iss.firstRelease)
	out.LastRelease = s.releaseBriefOf(iss.lastRelease)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) releaseBriefOf(version string) *releaseBrief {
	rel := s.releases[version]
	if rel == nil {
		return nil
	}
	return &releaseBrief{
		Version:      rel.version,
		ShortVersion: rel.version,
		DateCreated:  isoTime(rel.created),
		DateReleased: isoTime(rel.dateReleased),
		FirstEvent:   isoTime(rel.firstEvent),
		LastEvent:    isoTime(rel.lastEvent),
	}
}
