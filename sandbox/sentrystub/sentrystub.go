// Package sentrystub is an in-memory stand-in for the parts of Sentry that
// Flightdeck touches. Sentry itself cannot run in the sandbox, yet the errors
// pane has to be tested against something that behaves like it: events arrive
// through the ingest endpoints that the official SDKs post envelopes to, are
// grouped into issues, and are read back through the documented web API
// (events-stats, issues, releases and deploys), with its authentication,
// pagination, error bodies and rate limits.
//
// Behaviour follows Sentry's public API documentation, and the server's
// serializers where the documentation is silent. Where the stand-in is
// simpler than Sentry, the code says so at the place it happens.
package sentrystub

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Project is one Sentry project: the numeric ID is the last path segment of a
// DSN, Key its public key.
type Project struct {
	ID   int
	Slug string
	Key  string
}

// Options configure a Server. The zero value is usable.
type Options struct {
	Org       string    // organization slug; default "acme"
	Projects  []Project // default one project {ID: 1, Slug: "app", Key: random hex}
	Token     string    // API bearer token; default random hex (see Server.Token)
	RateLimit int       // requests per second per token and endpoint on /api/0/ before 429; 0 = unlimited
	// ConcurrentLimit is how many requests per token and endpoint may be
	// in flight at once when RateLimit is set; 0 means 25.
	ConcurrentLimit int
	Now             func() time.Time
}

// Deploy is a deploy marker recorded against a release.
type Deploy struct {
	ID           int
	Release      string
	Environment  string
	Name         string    // "" when not given
	URL          string    // "" when not given
	DateStarted  time.Time // zero when not given
	DateFinished time.Time
	Projects     []string // slugs the deploy applies to
}

// Server is the stand-in. It is safe for concurrent use.
type Server struct {
	org        string
	orgID      int
	token      string
	rate       int
	concurrent int
	now        func() time.Time
	created    time.Time
	projects   []Project

	mu        sync.Mutex
	events    []*event
	issues    []*issue
	byHash    map[string]*issue
	shortSeq  map[int]int
	releases  map[string]*release
	relSeq    int
	deploySeq int
	envs      map[string]*environment
	windows   map[string]*rateWindow
	inflight  map[string]int
}

// New builds a Server from o, filling in defaults.
func New(o Options) *Server {
	s := &Server{
		org:        o.Org,
		orgID:      1,
		token:      o.Token,
		rate:       o.RateLimit,
		concurrent: o.ConcurrentLimit,
		now:        o.Now,
		byHash:     map[string]*issue{},
		shortSeq:   map[int]int{},
		releases:   map[string]*release{},
		envs:       map[string]*environment{},
		windows:    map[string]*rateWindow{},
		inflight:   map[string]int{},
	}
	if s.concurrent <= 0 {
		s.concurrent = defaultConcurrentLimit
	}
	if s.org == "" {
		s.org = "acme"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.token == "" {
		s.token = randomHex(32)
	}
	s.created = s.now().UTC()
	s.projects = append([]Project(nil), o.Projects...)
	if len(s.projects) == 0 {
		s.projects = []Project{{ID: 1, Slug: "app"}}
	}
	for i := range s.projects {
		p := &s.projects[i]
		if p.Key == "" {
			p.Key = randomHex(16)
		}
		if p.Slug == "" {
			p.Slug = "project-" + strconv.Itoa(p.ID)
		}
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sentrystub: reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

// Token is the bearer token the API accepts, useful when Options left it to
// be generated.
func (s *Server) Token() string { return s.token }

// Org is the organization slug.
func (s *Server) Org() string { return s.org }

// Projects returns the configured projects, keys included.
func (s *Server) Projects() []Project { return append([]Project(nil), s.projects...) }

// DSN returns the DSN an SDK needs to send events for project (its slug or
// its numeric ID) to the stand-in served at baseURL. It returns "" for an
// unknown project or an unparsable baseURL.
func (s *Server) DSN(baseURL string, project string) string {
	p := s.projectByRef(project)
	if p == nil {
		return ""
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := u.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s@%s%s/%d", scheme, p.Key, u.Host, strings.TrimSuffix(u.Path, "/"), p.ID)
}

// Events reports how many error events have been accepted.
func (s *Server) Events() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Deploys returns the deploys recorded for release, oldest first.
func (s *Server) Deploys(release string) []Deploy {
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.releases[release]
	if rel == nil {
		return nil
	}
	out := make([]Deploy, len(rel.deploys))
	for i, d := range rel.deploys {
		out[i] = *d
		out[i].Projects = append([]string(nil), d.Projects...)
	}
	return out
}

func (s *Server) projectByRef(ref string) *Project {
	for i := range s.projects {
		p := &s.projects[i]
		if p.Slug == ref || strconv.Itoa(p.ID) == ref {
			return p
		}
	}
	return nil
}

func (s *Server) projectByID(id int) *Project {
	for i := range s.projects {
		if s.projects[i].ID == id {
			return &s.projects[i]
		}
	}
	return nil
}

// Handler serves both the ingest endpoints (/api/{project_id}/envelope/ and
// /store/) and the web API under /api/0/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	ingest := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				writeDetail(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
				return
			}
			h(w, r)
		})
	}
	// Relay takes the ingest paths with or without the trailing slash.
	for _, p := range []string{"/api/{project_id}/envelope", "/api/{project_id}/envelope/"} {
		ingest(p, s.handleEnvelope)
	}
	for _, p := range []string{"/api/{project_id}/store", "/api/{project_id}/store/"} {
		ingest(p, s.handleStore)
	}

	// {$}: a Django route matches the whole path, not a prefix.
	api := func(pattern string, methods map[string]http.HandlerFunc) {
		mux.Handle(pattern+"{$}", s.api(pattern, methods))
	}
	const org = "/api/0/organizations/{org}/"
	api(org, map[string]http.HandlerFunc{http.MethodGet: s.handleOrg})
	api(org+"projects/", map[string]http.HandlerFunc{http.MethodGet: s.handleProjects})
	api(org+"environments/", map[string]http.HandlerFunc{http.MethodGet: s.handleEnvironments})
	api(org+"events-stats/", map[string]http.HandlerFunc{http.MethodGet: s.handleEventsStats})
	api(org+"issues/", map[string]http.HandlerFunc{http.MethodGet: s.handleIssues})
	api(org+"issues/{issue_id}/", map[string]http.HandlerFunc{http.MethodGet: s.handleIssue})
	api(org+"releases/", map[string]http.HandlerFunc{
		http.MethodGet:  s.handleReleases,
		http.MethodPost: s.handleCreateRelease,
	})
	api(org+"releases/{version}/", map[string]http.HandlerFunc{http.MethodGet: s.handleRelease})
	api(org+"releases/{version}/deploys/", map[string]http.HandlerFunc{
		http.MethodGet:  s.handleDeploys,
		http.MethodPost: s.handleCreateDeploy,
	})
	mux.HandleFunc("/", s.catchAll)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux would redirect a missing slash to the route; Django
		// does not, and Sentry's catch-all answers instead.
		if strings.HasPrefix(r.URL.Path, "/api/0/") && !strings.HasSuffix(r.URL.Path, "/") {
			s.catchAll(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// catchAll is Sentry's CatchallEndpoint (src/sentry/api/endpoints/
// catchall.py), which answers every path no route matches: every Sentry
// route ends in a slash, and a path without one gets a 404 saying so, as
// JSON {"info": ...} when the request was JSON and as plain text with a
// caret under the missing slash otherwise. Any other unknown path gets an
// empty 404.
func (s *Server) catchAll(w http.ResponseWriter, r *http.Request) {
	s.setDate(w)
	if strings.HasSuffix(r.URL.Path, "/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	const help = "Route not found, did you forget a trailing slash?"
	suggestion := "try: " + r.URL.Path + "/"
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, http.StatusNotFound, map[string]string{"info": help + " " + suggestion})
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "%s\n\n%s\n%s^\n", help, suggestion, strings.Repeat(" ", len(suggestion)-1))
}

// api wraps an /api/0/ endpoint with what every Sentry API view does before
// its own code runs: method check, token authentication, rate limiting and
// organization lookup, in that order.
func (s *Server) api(pattern string, methods map[string]http.HandlerFunc) http.Handler {
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	sort.Strings(allowed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setDate(w)
		h, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeDetail(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
			return
		}
		if msg := s.authenticate(r); msg != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			writeDetail(w, http.StatusUnauthorized, msg)
			return
		}
		ok, done := s.admit(w, s.token+" "+r.Method+" "+pattern)
		if !ok {
			return
		}
		defer done()
		if org := r.PathValue("org"); org != s.org && org != strconv.Itoa(s.orgID) {
			writeDetail(w, http.StatusNotFound, "The requested resource does not exist")
			return
		}
		h(w, r)
	})
}

// authenticate returns "" for a valid bearer token, else the detail message
// Sentry's REST framework answers with.
func (s *Server) authenticate(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" || !strings.EqualFold(scheme, "bearer") {
		return "Authentication credentials were not provided."
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "Invalid token header. No credentials provided."
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
		return "Invalid token"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

// isoTime renders t as Django REST framework does (isoformat with "Z"), or
// nil for the zero time so that it serialises as null.
func isoTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
