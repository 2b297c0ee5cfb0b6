package sentrystub

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxStatsPeriod is Sentry's default date range when a request names none.
const maxStatsPeriod = 90 * 24 * time.Hour

// apiError carries the status and detail message a handler replies with.
type apiError struct {
	status int
	detail string
}

func (e *apiError) Error() string { return e.detail }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeDetail(w, ae.status, ae.detail)
		return
	}
	writeDetail(w, http.StatusInternalServerError, err.Error())
}

var reStatsPeriod = regexp.MustCompile(`^(\d+)([hdmsw]?)$`)

// parseStatsPeriod reads "90s", "15m", "2h", "14d", "1w"; a bare number is
// seconds, as in Sentry.
func parseStatsPeriod(p string) (time.Duration, bool) {
	m := reStatsPeriod.FindStringSubmatch(p)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]time.Duration{
		"": time.Second, "s": time.Second, "m": time.Minute,
		"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
	}[m[2]]
	if n > int64(math.MaxInt64/unit) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(n) * unit, true
}

// dateRange reads the common date parameters: statsPeriod, or
// statsPeriodStart and statsPeriodEnd, or start and end.
func dateRange(q url.Values, now time.Time) (time.Time, time.Time, error) {
	start, end := now.Add(-maxStatsPeriod), now
	switch {
	case q.Get("statsPeriod") != "":
		d, ok := parseStatsPeriod(q.Get("statsPeriod"))
		if !ok {
			return start, end, badRequest("Invalid statsPeriod: '%s'", q.Get("statsPeriod"))
		}
		start = now.Add(-d)
	case q.Get("statsPeriodStart") != "" || q.Get("statsPeriodEnd") != "":
		ds, ok1 := parseStatsPeriod(q.Get("statsPeriodStart"))
		de, ok2 := parseStatsPeriod(q.Get("statsPeriodEnd"))
		if q.Get("statsPeriodStart") == "" || q.Get("statsPeriodEnd") == "" {
			return start, end, badRequest("statsPeriodStart and statsPeriodEnd are both required")
		}
		if !ok1 || !ok2 {
			return start, end, badRequest("Invalid statsPeriod: '%s'", q.Get("statsPeriodStart"))
		}
		start, end = now.Add(-ds), now.Add(-de)
	case q.Get("start") != "" || q.Get("end") != "":
		if q.Get("start") == "" || q.Get("end") == "" {
			return start, end, badRequest("start and end are both required")
		}
		var err error
		if start, err = parseISO(q.Get("start")); err != nil {
			return start, end, badRequest("%s", err.Error())
		}
		if end, err = parseISO(q.Get("end")); err != nil {
			return start, end, badRequest("%s", err.Error())
		}
	}
	if !start.Before(end) {
		return start, end, badRequest("start must be before end")
	}
	return start, end, nil
}

// selectProjects reads the repeated project parameter (numeric ids, -1 for
// all); no parameter means every project. The configured projects never
// change, so this needs no lock.
func (s *Server) selectProjects(q url.Values) (map[int]bool, error) {
	out := map[int]bool{}
	all := true
	for _, v := range q["project"] {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			id, err := strconv.Atoi(part)
			if err != nil {
				return nil, badRequest("Invalid project parameter. Values must be numbers.")
			}
			if id == -1 {
				continue
			}
			if s.projectByID(id) == nil {
				return nil, &apiError{http.StatusForbidden, "You do not have permission to perform this action."}
			}
			all = false
			out[id] = true
		}
	}
	if all {
		for _, p := range s.projects {
			out[p.ID] = true
		}
	}
	return out, nil
}

// selectEnvs reads the repeated environment parameter. As in Sentry, naming
// an environment that has never been seen (by an event or a deploy) is a
// 404. It returns nil for "no filter". Call with s.mu held.
func (s *Server) selectEnvs(q url.Values) (map[string]bool, error) {
	var out map[string]bool
	for _, v := range q["environment"] {
		if s.envs[v] == nil {
			return nil, &apiError{http.StatusNotFound, "The requested resource does not exist"}
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[v] = true
	}
	return out, nil
}

// term is one "key:value" (or free-text) token of a search query.
type term struct {
	key    string
	op     string // "", "=", ">", ">=", "<", "<="
	values []string
	negate bool
}

// tokenize splits a query on spaces outside double quotes and brackets.
func tokenize(q string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inQuote, depth := false, 0
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(q):
			cur.WriteByte(c)
			cur.WriteByte(q[i+1])
			i++
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case inQuote:
			cur.WriteByte(c)
		case c == '[':
			depth++
			cur.WriteByte(c)
		case c == ']':
			depth = max(depth-1, 0)
			cur.WriteByte(c)
		case (c == ' ' || c == '\t' || c == '\n') && depth == 0:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, badRequest("Invalid quote at '%s': quotes must enclose text or be escaped.", cur.String())
	}
	flush()
	return toks, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		return strings.ReplaceAll(v, `\"`, `"`)
	}
	return v
}

// parseQuery turns a query string into terms; free text is gathered into
// one term with an empty key, as Sentry searches it as a single phrase.
func parseQuery(q string) ([]term, error) {
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	var terms []term
	var text []string
	for _, tok := range toks {
		switch strings.ToUpper(tok) {
		case "AND":
			continue
		case "OR":
			return nil, badRequest("Boolean statements containing \"OR\" are not supported by this stand-in")
		}
		if strings.HasPrefix(tok, "(") || strings.HasSuffix(tok, ")") {
			return nil, badRequest("Parenthesized search expressions are not supported by this stand-in")
		}
		colon := strings.IndexByte(tok, ':')
		if tok[0] == '"' || colon <= 0 || (tok[0] == '!' && colon == 1) {
			text = append(text, unquote(tok))
			continue
		}
		t := term{key: tok[:colon]}
		if strings.HasPrefix(t.key, "!") {
			t.negate, t.key = true, t.key[1:]
		}
		v := tok[colon+1:]
		for _, op := range []string{">=", "<=", ">", "<", "="} {
			if strings.HasPrefix(v, op) {
				t.op, v = op, v[len(op):]
				break
			}
		}
		if strings.HasPrefix(v, "!") && t.op == "" {
			t.negate, v = !t.negate, v[1:]
		}
		if len(v) >= 2 && v[0] == '[' && v[len(v)-1] == ']' {
			for _, part := range strings.Split(v[1:len(v)-1], ",") {
				t.values = append(t.values, unquote(strings.TrimSpace(part)))
			}
		} else {
			t.values = []string{unquote(v)}
		}
		terms = append(terms, t)
	}
	if len(text) > 0 {
		terms = append(terms, term{values: []string{strings.Join(text, " ")}})
	}
	return terms, nil
}

// globMatch matches with "*" as the only wildcard, as Sentry's search does.
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// issueView is an issue as seen through the request's environment filter,
// over its whole life: what issue-level search keys compare against.
type issueView struct {
	iss  *issue
	life seen
}

// filter is a compiled query: event-level predicates decide which events
// count, issue-level ones which issues are listed.
type filter struct {
	event []func(*event) bool
	issue []func(*issueView) bool
}

func (f *filter) matchEvent(e *event) bool {
	for _, fn := range f.event {
		if !fn(e) {
			return false
		}
	}
	return true
}

func (f *filter) matchIssue(v *issueView) bool {
	for _, fn := range f.issue {
		if !fn(v) {
			return false
		}
	}
	return true
}

// Keys that describe an issue rather than an event; they only make sense on
// the issues endpoint.
var issueKeys = map[string]bool{
	"is": true, "firstSeen": true, "lastSeen": true, "age": true,
	"times_seen": true, "timesSeen": true, "firstRelease": true, "first_release": true,
	"first-release": true, "issue.category": true, "issue.type": true,
	"issue.priority": true, "priority": true, "substatus": true,
}

// compileQuery builds the predicates for q. forIssues admits issue-level
// keys; events-stats rejects them.
func (s *Server) compileQuery(q string, forIssues bool, now time.Time) (*filter, error) {
	terms, err := parseQuery(q)
	if err != nil {
		return nil, err
	}
	f := &filter{}
	for _, t := range terms {
		if issueKeys[t.key] {
			if !forIssues && t.key != "is" {
				return nil, badRequest("Invalid key for this search: %s", t.key)
			}
			fn, err := issuePredicate(t, now)
			if err != nil {
				return nil, err
			}
			if t.negate {
				inner := fn
				fn = func(v *issueView) bool { return !inner(v) }
			}
			if !forIssues {
				// The errors dataset can filter events by their issue's
				// status, judged over the issue's whole life.
				f.event = append(f.event, func(e *event) bool {
					return fn(&issueView{iss: e.issue, life: e.issue.all})
				})
				continue
			}
			f.issue = append(f.issue, fn)
			continue
		}
		fn, err := s.eventPredicate(t, now)
		if err != nil {
			return nil, err
		}
		if t.negate {
			inner := fn
			fn = func(e *event) bool { return !inner(e) }
		}
		f.event = append(f.event, fn)
	}
	return f, nil
}

// eventField returns the value of a search key for an event.
func (s *Server) eventField(e *event, key string) string {
	switch key {
	case "event.type":
		return e.etype
	case "environment":
		return e.environment
	case "release":
		return e.release
	case "level":
		return e.level
	case "project":
		if p := s.projectByID(e.project); p != nil {
			return p.Slug
		}
		return ""
	case "project.id":
		return strconv.Itoa(e.project)
	case "issue":
		return e.issue.shortID
	case "issue.id":
		return strconv.Itoa(e.issue.id)
	case "id":
		return e.id
	case "title":
		return e.issue.title
	case "culprit":
		return e.issue.culprit
	case "transaction":
		return e.transaction
	case "error.type":
		return e.excType
	case "error.value":
		return e.excValue
	case "message":
		return e.message
	case "user":
		return e.userKey
	case "user.id":
		return string(e.user.ID)
	case "user.email":
		return string(e.user.Email)
	case "user.username":
		return string(e.user.Username)
	case "user.ip":
		return string(e.user.IPAddress)
	}
	if strings.HasPrefix(key, "tags[") && strings.HasSuffix(key, "]") {
		key = key[5 : len(key)-1]
	}
	return e.tags[key]
}

func (s *Server) eventPredicate(t term, now time.Time) (func(*event) bool, error) {
	switch t.key {
	case "":
		needle := strings.ToLower(t.values[0])
		return func(e *event) bool {
			return strings.Contains(strings.ToLower(e.message), needle) ||
				strings.Contains(strings.ToLower(e.issue.culprit), needle)
		}, nil
	case "message":
		needle := strings.ToLower(strings.Trim(t.values[0], "*"))
		return func(e *event) bool { return strings.Contains(strings.ToLower(e.message), needle) }, nil
	case "has":
		keys := t.values
		return func(e *event) bool {
			for _, k := range keys {
				if s.eventField(e, k) != "" {
					return true
				}
			}
			return false
		}, nil
	case "timestamp":
		cmp, err := timePredicate(t, now)
		if err != nil {
			return nil, err
		}
		return func(e *event) bool { return cmp(e.at) }, nil
	}
	key, values := t.key, t.values
	return func(e *event) bool {
		got := s.eventField(e, key)
		for _, v := range values {
			if globMatch(v, got) {
				return true
			}
		}
		return false
	}, nil
}

// issueStatuses lists what "is:" can ask for. Every issue in the stand-in
// is unresolved, unassigned and unlinked, since nothing can triage them.
var issueStatuses = map[string]bool{
	"unresolved": true, "unassigned": true, "unlinked": true, "for_review": true,
	"ongoing": true, "new": true,
	"resolved": false, "ignored": false, "archived": false, "muted": false,
	"assigned": false, "linked": false, "bookmarked": false, "reprocessing": false,
	"escalating": false, "regressed": false,
}

// newWindow is how long an issue stays in the "new" substatus.
const newWindow = 3 * 24 * time.Hour

func issuePredicate(t term, now time.Time) (func(*issueView) bool, error) {
	switch t.key {
	case "is", "substatus":
		for _, v := range t.values {
			if _, ok := issueStatuses[v]; !ok {
				return nil, badRequest("Invalid value for \"is\" search, valid values are %s", validStatuses())
			}
		}
		values := t.values
		return func(v *issueView) bool {
			for _, want := range values {
				switch want {
				case "new":
					if now.Sub(v.life.first) < newWindow {
						return true
					}
				case "ongoing":
					if now.Sub(v.life.first) >= newWindow {
						return true
					}
				default:
					if issueStatuses[want] {
						return true
					}
				}
			}
			return false
		}, nil
	case "firstSeen", "age":
		cmp, err := timePredicate(t, now)
		if err != nil {
			return nil, err
		}
		return func(v *issueView) bool { return cmp(v.life.first) }, nil
	case "lastSeen":
		cmp, err := timePredicate(t, now)
		if err != nil {
			return nil, err
		}
		return func(v *issueView) bool { return cmp(v.life.last) }, nil
	case "times_seen", "timesSeen":
		n, err := strconv.Atoi(t.values[0])
		if err != nil {
			return nil, badRequest("Invalid number: %s", t.values[0])
		}
		return func(v *issueView) bool { return compareInt(v.life.count, t.op, n) }, nil
	case "firstRelease", "first_release", "first-release":
		values := t.values
		return func(v *issueView) bool {
			for _, want := range values {
				if globMatch(want, v.life.firstRelease) {
					return true
				}
			}
			return false
		}, nil
	case "issue.category", "issue.type":
		values := t.values
		return func(*issueView) bool {
			for _, want := range values {
				if want == "error" {
					return true
				}
			}
			return false
		}, nil
	case "issue.priority", "priority":
		values := t.values
		return func(v *issueView) bool {
			for _, want := range values {
				if want == priority(v.iss.level) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, badRequest("Invalid key for this search: %s", t.key)
}

func validStatuses() string {
	var out []string
	for k := range issueStatuses {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func compareInt(got int, op string, want int) bool {
	switch op {
	case ">":
		return got > want
	case ">=":
		return got >= want
	case "<":
		return got < want
	case "<=":
		return got <= want
	}
	return got == want
}

// timePredicate reads the date forms Sentry's search accepts: a relative
// "-24h" (within the last 24 hours) or "+24h" (longer ago than that), or an
// ISO date or datetime after an optional comparison operator. A bare date
// means that whole day (UTC).
func timePredicate(t term, now time.Time) (func(time.Time) bool, error) {
	v := t.values[0]
	if len(v) > 1 && (v[0] == '-' || v[0] == '+') {
		if d, ok := parseStatsPeriod(v[1:]); ok {
			cutoff := now.Add(-d)
			if v[0] == '-' {
				return func(x time.Time) bool { return !x.IsZero() && !x.Before(cutoff) }, nil
			}
			return func(x time.Time) bool { return !x.IsZero() && x.Before(cutoff) }, nil
		}
	}
	at, err := parseISO(v)
	if err != nil {
		return nil, badRequest("%s: Invalid date: %s. Expected +/-duration (e.g. +1h) or ISO 8601-like (e.g. %s).",
			t.key, v, now.UTC().Format("2006-01-02T15:04:05"))
	}
	dateOnly := len(strings.TrimSpace(v)) == len("2006-01-02")
	switch t.op {
	case ">":
		if dateOnly {
			at = at.Add(24 * time.Hour)
			return func(x time.Time) bool { return !x.IsZero() && !x.Before(at) }, nil
		}
		return func(x time.Time) bool { return !x.IsZero() && x.After(at) }, nil
	case ">=":
		return func(x time.Time) bool { return !x.IsZero() && !x.Before(at) }, nil
	case "<":
		return func(x time.Time) bool { return !x.IsZero() && x.Before(at) }, nil
	case "<=":
		if dateOnly {
			at = at.Add(24 * time.Hour)
			return func(x time.Time) bool { return !x.IsZero() && x.Before(at) }, nil
		}
		return func(x time.Time) bool { return !x.IsZero() && !x.After(at) }, nil
	}
	span := time.Second
	if dateOnly {
		span = 24 * time.Hour
	}
	return func(x time.Time) bool { return !x.Before(at) && x.Before(at.Add(span)) }, nil
}
