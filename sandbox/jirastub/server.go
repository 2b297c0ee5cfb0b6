package jirastub

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Credentials used when Options leaves them empty, so a bare New still
// demands authentication instead of silently serving everyone.
const (
	DefaultEmail = "deployer@acme.test"
	DefaultToken = "jirastub-token"
)

// SprintField is where this site keeps sprints unless Options.SprintField
// says otherwise: not customfield_10020, which many Cloud sites use, but
// the id the Jira Software REST API's field input formats use as their
// example. Clients find it in GET /rest/api/N/field by its schema,
// JiraSprintSchema.
const SprintField = "customfield_10007"

// RankField is the board's rank field. It is customfield_10020 here, as in
// the documented board configuration example (rankCustomFieldId 10020), so
// a client assuming 10020 holds sprints reads rank strings instead.
const (
	RankField   = "customfield_10020"
	rankFieldID = 10020
)

// JiraSprintSchema is the schema.custom of the sprint field.
const JiraSprintSchema = "com.pyxis.greenhopper.jira:gh-sprint"

// Options configures a Server. The zero value is usable.
type Options struct {
	Email, Token string        // Basic auth (email:token); Bearer <Token> is also accepted
	BoardID      int           // the one board that exists; 12 when zero
	Project      string        // project key; "ACME" when empty
	RateLimit    int           // requests per second before 429 (token bucket); 0 = unlimited
	PageSize     int           // largest page served; 50 when zero
	Issues       []Issue       // initial board content; nil = DefaultSeed(Project)
	Latency      time.Duration // added to every request
	// SprintField is the sprint field's id; SprintField when empty.
	SprintField string
	// OmitTotal leaves "total" out of the offset search's answers, as the
	// documented result allows.
	OmitTotal bool
}

// Server is an in-memory Jira Cloud (and Data Center style) REST stand-in
// for one project and one board. It is safe for concurrent use.
type Server struct {
	o        Options
	requests atomic.Int64
	mux      *http.ServeMux
	user     user

	mu        sync.Mutex
	issues    []Issue        // rank order
	byKey     map[string]int // upper-case key → index
	projects  []string       // keys; index+10000 is the project id
	sprints   map[string]sprintInfo
	versions  map[string]versionInfo
	failCode  int
	failLeft  int
	tokens    float64
	refilled  time.Time
	statusIDs map[string]string // lower name → id, for statuses outside the workflow
}

type sprintInfo struct {
	ID         int
	Name       string
	State      string
	Start, End time.Time
}

type versionInfo struct {
	ID       string
	Name     string
	Released bool
	Date     string
}

type user struct {
	accountID, name, email string
}

// New builds a server from o, filling defaults.
func New(o Options) *Server {
	if o.Email == "" && o.Token == "" {
		o.Email, o.Token = DefaultEmail, DefaultToken
	}
	if o.BoardID == 0 {
		o.BoardID = 12
	}
	if o.Project == "" {
		o.Project = "ACME"
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.SprintField == "" {
		o.SprintField = SprintField
	}
	src := o.Issues
	if src == nil {
		src = DefaultSeed(o.Project)
	}
	s := &Server{
		o:         o,
		byKey:     map[string]int{},
		sprints:   map[string]sprintInfo{},
		versions:  map[string]versionInfo{},
		statusIDs: map[string]string{},
		tokens:    float64(o.RateLimit),
		refilled:  time.Now(),
		user:      user{accountID: accountID(o.Email), name: displayNameFromEmail(o.Email), email: o.Email},
	}
	s.projects = []string{strings.ToUpper(o.Project)}
	for _, is := range src {
		is = is.clone()
		s.byKey[strings.ToUpper(is.Key)] = len(s.issues)
		s.issues = append(s.issues, is)
		if p := projectOf(is.Key); p != "" && !containsFold(s.projects, p) {
			s.projects = append(s.projects, strings.ToUpper(p))
		}
		s.register(is)
	}
	s.routes()
	return s
}

// register gives sprints, versions and stray statuses stable ids. The seed's
// well-known ones get fixed ids and states so tests and demos can name them.
func (s *Server) register(is Issue) {
	if n := is.Sprint; n != "" {
		if _, ok := s.sprints[n]; !ok {
			si := sprintInfo{Name: n, State: "active",
				Start: time.Date(2026, 11, 9, 9, 0, 0, 0, time.UTC)}
			switch n {
			case CurrentSprint(s.o.Project):
				si.ID = 147
			case PreviousSprint(s.o.Project):
				si.ID, si.State = 146, "closed"
				si.Start = time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC)
			default:
				si.ID = 200 + len(s.sprints)
			}
			si.End = si.Start.AddDate(0, 0, 14)
			s.sprints[n] = si
		}
	}
	for _, v := range is.FixVersions {
		if _, ok := s.versions[v]; ok {
			continue
		}
		vi := versionInfo{Name: v}
		switch v {
		case PreviousRelease:
			vi.ID, vi.Released = "10101", true
		case CurrentRelease:
			vi.ID = "10102"
		default:
			vi.ID = strconv.Itoa(10200 + len(s.versions))
		}
		if t, err := time.Parse("2006.01.02", v); err == nil {
			vi.Date = t.Format(time.DateOnly)
		}
		s.versions[v] = vi
	}
	if _, ok := workflowStatusIDs[is.Status]; !ok {
		if _, ok := s.statusIDs[strings.ToLower(is.Status)]; !ok {
			s.statusIDs[strings.ToLower(is.Status)] = strconv.Itoa(10100 + len(s.statusIDs))
		}
	}
}

// Handler serves the REST API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Issues returns a copy of the board's current state in rank order.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, len(s.issues))
	for i, is := range s.issues {
		out[i] = is.clone()
	}
	return out
}

// SetFailure makes the next n requests answer with status, whatever they
// ask; n <= 0 clears a pending failure.
func (s *Server) SetFailure(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failLeft = status, max(n, 0)
}

// Requests counts every request received, including refused ones.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// serve applies, in order, what a real Jira front door does before the
// application sees a request: latency, infrastructure faults, rate limiting,
// then authentication.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	w.Header().Set("X-Arequestid", strconv.FormatInt(n, 10))
	if s.o.Latency > 0 {
		t := time.NewTimer(s.o.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if code, ok := s.takeFailure(); ok {
		if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
			// Atlassian sends Retry-After with transient 503s too.
			w.Header().Set("Retry-After", "1")
		}
		writeErr(w, code, http.StatusText(code))
		return
	}
	if wait, ok := s.allow(); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("X-RateLimit-Limit", strconv.Itoa(s.o.RateLimit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", time.Now().UTC().Add(time.Duration(secs)*time.Second).Format("2006-01-02T15:04Z"))
		h.Set("RateLimit-Reason", "jira-burst-based")
		writeErr(w, http.StatusTooManyRequests, "Rate limit exceeded.")
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="jirastub"`)
		writeErr(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) takeFailure() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLeft <= 0 {
		return 0, false
	}
	s.failLeft--
	return s.failCode, true
}

// allow is a token bucket holding one second's worth of requests, so a
// client may burst up to RateLimit and then sustains RateLimit per second.
func (s *Server) allow() (time.Duration, bool) {
	if s.o.RateLimit <= 0 {
		return 0, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	rate := float64(s.o.RateLimit)
	s.tokens = math.Min(rate, s.tokens+now.Sub(s.refilled).Seconds()*rate)
	s.refilled = now
	if s.tokens >= 1 {
		s.tokens--
		return 0, true
	}
	return time.Duration((1 - s.tokens) / rate * float64(time.Second)), false
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return false
		}
		email, token, ok := strings.Cut(string(raw), ":")
		return ok && strings.EqualFold(email, s.o.Email) && equal(token, s.o.Token)
	case "bearer":
		return equal(strings.TrimSpace(cred), s.o.Token)
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// errorBody is the error shape every Jira REST resource answers with.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func writeErr(w http.ResponseWriter, code int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, code, errorBody{ErrorMessages: msgs, Errors: map[string]string{}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, no-transform")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Status ids follow Jira's habit: the built-in In Progress is 3 and
// Reopened 4, statuses a team adds are numbered from 10000.
var workflowStatusIDs = map[string]string{
	StatusInProgress:     "3",
	StatusReopened:       "4",
	StatusCodeReview:     "10001",
	StatusMergedToMaster: "10002",
	StatusStaging:        "10003",
	StatusQAHold:         "10004",
	StatusTestingForProd: "10005",
	StatusProduction:     "10006",
	StatusWaitingForQA:   "10007",
	StatusOffBoard:       "10008",
}

type category struct {
	ID    int
	Key   string
	Name  string
	Color string
}

var (
	catToDo  = category{2, "new", "To Do", "blue-gray"}
	catDoing = category{4, "indeterminate", "In Progress", "yellow"}
	catDone  = category{3, "done", "Done", "green"}
)

func statusCategory(status string) category {
	switch status {
	case StatusProduction, StatusOffBoard:
		return catDone
	case StatusReopened:
		return catToDo
	}
	if _, ok := workflowStatusIDs[status]; ok {
		return catDoing
	}
	return catToDo
}

// statusID is called with s.mu held.
func (s *Server) statusID(status string) string {
	if id, ok := workflowStatusIDs[status]; ok {
		return id
	}
	return s.statusIDs[strings.ToLower(status)]
}

func priorityID(name string) string {
	for i, p := range priorities {
		if strings.EqualFold(p, name) {
			return strconv.Itoa(i + 1)
		}
	}
	return strconv.Itoa(10000 + int(hash(name)%1000))
}

// priorityWeight orders priorities so that a larger weight is more urgent;
// names outside the scheme sort below it.
func priorityWeight(name string) int {
	for i, p := range priorities {
		if strings.EqualFold(p, name) {
			return len(priorities) - i
		}
	}
	return 0
}

func accountID(name string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	return hex.EncodeToString(sum[:12])
}

// displayNameFromEmail turns "chris.bailey@x" into "Chris Bailey", as a
// plausible Atlassian profile name for the authenticated user.
func displayNameFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
	for i, p := range parts {
		rs := []rune(p)
		rs[0] = unicode.ToUpper(rs[0])
		parts[i] = string(rs)
	}
	if len(parts) == 0 {
		return "Jira User"
	}
	return strings.Join(parts, " ")
}

func projectOf(key string) string {
	i := strings.LastIndexByte(key, '-')
	if i <= 0 {
		return ""
	}
	return key[:i]
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
