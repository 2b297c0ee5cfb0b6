package sentrystub

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// clock is a settable time source shared by a test and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 11, 22, 10, 0, 30, 0, time.UTC)

const testToken = "sntrys_test_token"

func newStub(t *testing.T, o Options) (*Server, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	if o.Now == nil {
		o.Now = clk.Now
	}
	if o.Token == "" {
		o.Token = testToken
	}
	s := New(o)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts, clk
}

// syncClient is a sentry-go client whose every capture has reached the
// server when the call returns.
func syncClient(t *testing.T, dsn, env, release string) *sentry.Client {
	t.Helper()
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         dsn,
		Environment: env,
		Release:     release,
		Transport:   sentry.NewHTTPSyncTransport(),
	})
	if err != nil {
		t.Fatalf("sentry.NewClient(%q): %v", dsn, err)
	}
	return c
}

func captureExc(c *sentry.Client, typ, value, user string, at time.Time) {
	c.CaptureEvent(&sentry.Event{
		Level:     sentry.LevelError,
		Timestamp: at,
		User:      sentry.User{ID: user},
		Exception: []sentry.Exception{{Type: typ, Value: value}},
	}, nil, nil)
}

func captureMsg(c *sentry.Client, msg string, at time.Time) {
	c.CaptureEvent(&sentry.Event{Level: sentry.LevelWarning, Message: msg, Timestamp: at}, nil, nil)
}

func get(t *testing.T, ts *httptest.Server, token, path string) (*http.Response, []byte) {
	t.Helper()
	return do(t, ts, token, http.MethodGet, path, nil)
}

func do(t *testing.T, ts *httptest.Server, token, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func mustStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
}

type apiIssue struct {
	ID        string `json:"id"`
	ShortID   string `json:"shortId"`
	Title     string `json:"title"`
	Culprit   string `json:"culprit"`
	Count     string `json:"count"`
	UserCount int    `json:"userCount"`
	FirstSeen string `json:"firstSeen"`
	LastSeen  string `json:"lastSeen"`
	Level     string `json:"level"`
	Status    string `json:"status"`
	Project   struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	} `json:"project"`
	Lifetime struct {
		Count     string `json:"count"`
		FirstSeen string `json:"firstSeen"`
	} `json:"lifetime"`
	Stats map[string][][2]float64 `json:"stats"`
}

func listIssues(t *testing.T, ts *httptest.Server, params url.Values) []apiIssue {
	t.Helper()
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/issues/?"+params.Encode())
	mustStatus(t, resp, body, http.StatusOK)
	var out []apiIssue
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("issues body %s: %v", body, err)
	}
	return out
}

func titles(issues []apiIssue) []string {
	var out []string
	for _, i := range issues {
		out = append(out, i.Title)
	}
	sort.Strings(out)
	return out
}

// seed sends a deploy-shaped history through the real SDK: a noisy
// baseline on v1 in production, one staging event, then new errors on v2.
func seed(t *testing.T, s *Server, ts *httptest.Server) {
	t.Helper()
	dsn := s.DSN(ts.URL, "app")
	v1 := syncClient(t, dsn, "production", "v1")
	v2 := syncClient(t, dsn, "production", "v2")
	staging := syncClient(t, dsn, "staging", "v2")

	const dbType = "DBConnection.ConnectionError"
	// Differing numbers in the value still make one issue.
	captureExc(v1, dbType, "connection not available and request was dropped from queue after 2000ms", "u1", t0.Add(-50*time.Minute))
	captureExc(v1, dbType, "connection not available and request was dropped from queue after 2500ms", "u2", t0.Add(-40*time.Minute))
	captureExc(v1, dbType, "connection not available and request was dropped from queue after 2000ms", "u1", t0.Add(-4*time.Minute-30*time.Second))
	captureMsg(v1, "Payment webhook retried 3 times", t0.Add(-4*time.Minute-20*time.Second))
	captureExc(staging, "Ecto.Query.CastError", "value `\"x\"` cannot be cast", "u9", t0.Add(-4*time.Minute-10*time.Second))
	// The deploy of v2 starts at 09:57.
	captureExc(v2, "KeyError", "key :clinic_id not found", "u3", t0.Add(-2*time.Minute-30*time.Second))
	captureExc(v2, "KeyError", "key :clinic_id not found", "u4", t0.Add(-2*time.Minute-20*time.Second))
	captureExc(v2, dbType, "connection not available and request was dropped from queue after 2000ms", "u5", t0.Add(-2*time.Minute-10*time.Second))
	// Before 09:50:30, the start of a 10m window, but in its first bucket.
	captureExc(v1, dbType, "connection not available and request was dropped from queue after 2000ms", "u1", t0.Add(-10*time.Minute-20*time.Second))
	// In the current, incomplete minute.
	captureExc(v2, "KeyError", "key :clinic_id not found", "u3", t0.Add(-10*time.Second))
	if got := s.Events(); got != 10 {
		t.Fatalf("Events() = %d after sending 10 events", got)
	}
}

func TestSDKEventsAreGroupedIntoIssues(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	seed(t, s, ts)

	issues := listIssues(t, ts, url.Values{"query": {""}})
	want := []string{
		"DBConnection.ConnectionError: connection not available and request was dropped from queue after 2000ms",
		"Ecto.Query.CastError: value `\"x\"` cannot be cast",
		"KeyError: key :clinic_id not found",
		"Payment webhook retried 3 times",
	}
	if got := titles(issues); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("issue titles:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byTitle := map[string]apiIssue{}
	for _, i := range issues {
		byTitle[i.Title] = i
	}
	db := byTitle[want[0]]
	if db.Count != "5" || db.UserCount != 3 {
		t.Errorf("DB issue count %q users %d, want \"5\" and 3", db.Count, db.UserCount)
	}
	if db.FirstSeen != "2026-11-22T09:10:30Z" || db.LastSeen != "2026-11-22T09:58:20Z" {
		t.Errorf("DB issue seen %s .. %s", db.FirstSeen, db.LastSeen)
	}
	if db.Level != "error" || db.Status != "unresolved" || db.Project.Slug != "app" || db.Project.ID != "1" {
		t.Errorf("DB issue level %q status %q project %+v", db.Level, db.Status, db.Project)
	}
	if !regexp.MustCompile(`^APP-[0-9A-Z]+$`).MatchString(db.ShortID) {
		t.Errorf("shortId %q", db.ShortID)
	}
	if msg := byTitle[want[3]]; msg.Level != "warning" {
		t.Errorf("message issue level %q, want warning", msg.Level)
	}
	// The default stats series has 24 hourly points ending at this hour.
	if st := db.Stats["24h"]; len(st) != 24 || st[23][0] != float64(t0.Truncate(time.Hour).Unix()) || st[22][1] != 5 {
		t.Errorf("24h stats = %v", st)
	}

	// The issue details carry the first and last release.
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/issues/"+db.ID+"/")
	mustStatus(t, resp, body, http.StatusOK)
	var detail struct {
		FirstRelease struct{ Version string } `json:"firstRelease"`
		LastRelease  struct{ Version string } `json:"lastRelease"`
	}
	if err := json.Unmarshal(body, &detail); err != nil {
		t.Fatal(err)
	}
	if detail.FirstRelease.Version != "v1" || detail.LastRelease.Version != "v2" {
		t.Errorf("detail releases %+v", detail)
	}
}

func TestIssueFilters(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	seed(t, s, ts)

	for _, tc := range []struct {
		name   string
		params url.Values
		want   []string
	}{
		{"new since the deploy", url.Values{"query": {"is:unresolved firstSeen:>2026-11-22T09:57:00"}},
			[]string{"KeyError: key :clinic_id not found"}},
		{"new since the deploy, relative", url.Values{"query": {"firstSeen:-3m"}},
			[]string{"KeyError: key :clinic_id not found"}},
		{"first release", url.Values{"query": {"firstRelease:v2"}, "environment": {"production"}},
			[]string{"KeyError: key :clinic_id not found"}},
		{"first release in any environment", url.Values{"query": {"firstRelease:v2"}},
			[]string{"Ecto.Query.CastError: value `\"x\"` cannot be cast", "KeyError: key :clinic_id not found"}},
		{"events in a release", url.Values{"query": {"release:v2"}, "environment": {"production"}},
			[]string{"DBConnection.ConnectionError: connection not available and request was dropped from queue after 2000ms", "KeyError: key :clinic_id not found"}},
		{"environment parameter", url.Values{"environment": {"staging"}},
			[]string{"Ecto.Query.CastError: value `\"x\"` cannot be cast"}},
		{"environment in the query", url.Values{"query": {"environment:staging"}},
			[]string{"Ecto.Query.CastError: value `\"x\"` cannot be cast"}},
		{"negation", url.Values{"query": {"!event.type:error"}},
			[]string{"Payment webhook retried 3 times"}},
		{"date range", url.Values{"statsPeriod": {"3m"}},
			[]string{"DBConnection.ConnectionError: connection not available and request was dropped from queue after 2000ms", "KeyError: key :clinic_id not found"}},
		{"free text", url.Values{"query": {"clinic_id"}},
			[]string{"KeyError: key :clinic_id not found"}},
		{"resolved", url.Values{"query": {"is:resolved"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := titles(listIssues(t, ts, tc.params)); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}

	// The DBConnection noise keeps its first-seen under a narrow range:
	// the list shows the range's stats, "lifetime" the whole history.
	for _, i := range listIssues(t, ts, url.Values{"statsPeriod": {"3m"}, "environment": {"production"}}) {
		if strings.HasPrefix(i.Title, "DBConnection") {
			if i.Count != "1" || i.Lifetime.Count != "5" || i.Lifetime.FirstSeen != "2026-11-22T09:10:30Z" {
				t.Errorf("DB issue in 3m: count %s lifetime %+v", i.Count, i.Lifetime)
			}
		}
	}

	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/issues/?environment=nowhere")
	mustStatus(t, resp, body, http.StatusNotFound)
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/issues/?query=firstSeen:>yesterday")
	mustStatus(t, resp, body, http.StatusBadRequest)
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/issues/?groupStatsPeriod=7d")
	mustStatus(t, resp, body, http.StatusBadRequest)
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/issues/?project=99")
	mustStatus(t, resp, body, http.StatusForbidden)
}

// statsBody is the documented single-axis events-stats response.
type statsBody struct {
	Data          [][]json.RawMessage `json:"data"`
	Start         int64               `json:"start"`
	End           int64               `json:"end"`
	IsMetricsData *bool               `json:"isMetricsData"`
	Meta          struct {
		Fields map[string]string `json:"fields"`
		Units  map[string]any    `json:"units"`
	} `json:"meta"`
}

// points decodes data strictly as [[ts, [{"count": n}]], ...].
func (b statsBody) points(t *testing.T) map[int64]int {
	t.Helper()
	out := map[int64]int{}
	for _, p := range b.Data {
		if len(p) != 2 {
			t.Fatalf("data point %v is not a pair", p)
		}
		var ts int64
		var counts []map[string]int
		if err := json.Unmarshal(p[0], &ts); err != nil {
			t.Fatalf("timestamp %s: %v", p[0], err)
		}
		if err := json.Unmarshal(p[1], &counts); err != nil || len(counts) != 1 {
			t.Fatalf("value %s is not [{\"count\": n}]: %v", p[1], err)
		}
		if _, ok := counts[0]["count"]; !ok || len(counts[0]) != 1 {
			t.Fatalf("value %s has no sole count", p[1])
		}
		out[ts] = counts[0]["count"]
	}
	return out
}

func eventsStats(t *testing.T, ts *httptest.Server, params url.Values) statsBody {
	t.Helper()
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/events-stats/?"+params.Encode())
	mustStatus(t, resp, body, http.StatusOK)
	var sb statsBody
	if err := json.Unmarshal(body, &sb); err != nil {
		t.Fatalf("events-stats body %s: %v", body, err)
	}
	return sb
}

func minute(hh, mm int) int64 {
	return time.Date(2026, 11, 22, hh, mm, 0, 0, time.UTC).Unix()
}

func TestEventsStats(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	seed(t, s, ts)

	sb := eventsStats(t, ts, url.Values{"statsPeriod": {"10m"}, "interval": {"1m"}, "yAxis": {"count()"}})
	if sb.Start != minute(9, 50) || sb.End != minute(10, 0) {
		t.Errorf("start/end = %d/%d, want %d/%d", sb.Start, sb.End, minute(9, 50), minute(10, 0))
	}
	if sb.IsMetricsData == nil || *sb.IsMetricsData || sb.Meta.Fields["count()"] != "integer" {
		t.Errorf("isMetricsData %v meta %+v", sb.IsMetricsData, sb.Meta)
	}
	if u, ok := sb.Meta.Units["count()"]; !ok || u != nil {
		t.Errorf("meta.units = %v", sb.Meta.Units)
	}
	got := sb.points(t)
	want := map[int64]int{}
	for m := 50; m < 60; m++ {
		want[minute(9, m)] = 0 // zero-filled
	}
	want[minute(9, 56)] = 3 // DB, message and the staging error
	want[minute(9, 58)] = 3 // two KeyErrors and a DB
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("buckets\n got %v\nwant %v", got, want)
	}
	var prev int64
	for i, p := range sb.Data {
		var ts int64
		_ = json.Unmarshal(p[0], &ts)
		if i > 0 && ts != prev+60 {
			t.Errorf("bucket %d at %d does not follow %d by one interval", i, ts, prev)
		}
		prev = ts
	}

	// partial=1 adds the current minute.
	if p := eventsStats(t, ts, url.Values{"statsPeriod": {"10m"}, "interval": {"1m"}, "partial": {"1"}}).points(t); len(p) != 11 || p[minute(10, 0)] != 1 {
		t.Errorf("partial buckets %v", p)
	}

	// Absolute range.
	abs := eventsStats(t, ts, url.Values{"start": {"2026-11-22T09:54:00"}, "end": {"2026-11-22T09:58:00Z"}, "interval": {"1m"}}).points(t)
	if fmt.Sprint(abs) != fmt.Sprint(map[int64]int{minute(9, 54): 0, minute(9, 55): 0, minute(9, 56): 3, minute(9, 57): 0}) {
		t.Errorf("absolute range buckets %v", abs)
	}

	sum := func(p map[int64]int) int {
		n := 0
		for _, c := range p {
			n += c
		}
		return n
	}
	for _, tc := range []struct {
		params url.Values
		want   int
	}{
		{url.Values{"query": {"event.type:error"}}, 5},
		{url.Values{"query": {"!event.type:error"}}, 1},
		{url.Values{"environment": {"production"}}, 5},
		{url.Values{"query": {"environment:staging"}}, 1},
		{url.Values{"query": {"release:v2"}}, 4},
		{url.Values{"query": {"release:v2 environment:production"}}, 3},
		{url.Values{"query": {"!release:v2"}}, 2},
		{url.Values{"query": {"release:[v1,v2] error.type:KeyError"}}, 2},
		{url.Values{"project": {"1"}}, 6},
		{url.Values{"query": {"is:unresolved"}}, 6},
		{url.Values{"project": {"-1"}, "query": {"has:user"}}, 5},
	} {
		tc.params.Set("statsPeriod", "10m")
		tc.params.Set("interval", "1m")
		if got := sum(eventsStats(t, ts, tc.params).points(t)); got != tc.want {
			t.Errorf("%v: %d events, want %d", tc.params, got, tc.want)
		}
	}

	// Several axes come back keyed by axis.
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/events-stats/?statsPeriod=10m&interval=1m&yAxis=count()&yAxis=count_unique(user)")
	mustStatus(t, resp, body, http.StatusOK)
	var multi map[string]statsBody
	if err := json.Unmarshal(body, &multi); err != nil {
		t.Fatal(err)
	}
	if p := multi["count_unique(user)"].points(t); p[minute(9, 58)] != 3 || p[minute(9, 56)] != 2 {
		t.Errorf("count_unique(user) %v", p)
	}

	for _, bad := range []string{"statsPeriod=2x", "start=2026-11-22T09:00:00", "yAxis=p95(x)", "query=firstSeen:-1h", "environment=nowhere"} {
		resp, body := get(t, ts, testToken, "/api/0/organizations/acme/events-stats/?"+bad)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d body %s", bad, resp.StatusCode, body)
		}
		var d map[string]string
		if json.Unmarshal(body, &d) != nil || d["detail"] == "" {
			t.Errorf("%s: error body %s has no detail", bad, body)
		}
	}
}

func TestEventsStatsDefaultsAndZeroFill(t *testing.T) {
	_, ts, _ := newStub(t, Options{})
	// No events at all: every bucket is present with a zero count.
	sb := eventsStats(t, ts, url.Values{"statsPeriod": {"2h"}, "interval": {"1m"}})
	p := sb.points(t)
	if len(p) != 120 {
		t.Fatalf("%d buckets for 2h at 1m, want 120", len(p))
	}
	for ts, c := range p {
		if c != 0 || ts%60 != 0 {
			t.Fatalf("bucket %d = %d", ts, c)
		}
	}
	// Without an interval a 2h range is bucketed by 5 minutes.
	if n := len(eventsStats(t, ts, url.Values{"statsPeriod": {"2h"}}).Data); n != 24 {
		t.Errorf("%d default buckets for 2h, want 24", n)
	}
	// An interval that would make too many points falls back too.
	if n := len(eventsStats(t, ts, url.Values{"statsPeriod": {"14d"}, "interval": {"1s"}}).Data); n != 14*24 {
		t.Errorf("%d fallback buckets for 14d, want %d", n, 14*24)
	}
}

func TestEnvelopeDecoding(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	key := s.Projects()[0].Key

	event := `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","timestamp":` +
		fmt.Sprint(t0.Add(-90*time.Second).Unix()) +
		`,"level":"error","environment":"production","release":"v7","platform":"elixir",` +
		`"user":{"id":42},"tags":[["instance","a"]],` +
		`"exception":{"values":[{"type":"RuntimeError","value":"inner"},` +
		`{"type":"Plug.Conn.WrapperError","value":"** (RuntimeError) boom\nmore","mechanism":{"type":"plug","handled":false},` +
		`"stacktrace":{"frames":[{"module":"Lib","function":"a/1","in_app":false},{"module":"AppWeb.PageController","function":"index/2","in_app":true},{"module":"Plug","function":"call/2"}]}}]}}`
	var env bytes.Buffer
	env.WriteString(`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2026-11-22T10:00:00Z"}` + "\n")
	env.WriteString(`{"type":"event","length":` + fmt.Sprint(len(event)) + "}\n" + event + "\n")
	env.WriteString(`{"type":"attachment","length":5,"filename":"a.txt"}` + "\nhe\nlo\n")
	env.WriteString(`{"type":"client_report"}` + "\n" + `{"discarded_events":[]}` + "\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(env.Bytes())
	zw.Close()

	post := func(path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := post("/api/1/envelope/", gz.Bytes(), map[string]string{
		"Content-Encoding": "gzip",
		"Content-Type":     "application/x-sentry-envelope",
		"X-Sentry-Auth":    "Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=" + key,
	})
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(string(body), "9ec79c33ec9942ab8353589fcb2e04dc") {
		t.Errorf("envelope response %s lacks the event id", body)
	}
	issues := listIssues(t, ts, url.Values{})
	if len(issues) != 1 {
		t.Fatalf("%d issues from one envelope", len(issues))
	}
	i := issues[0]
	if i.Title != "Plug.Conn.WrapperError: ** (RuntimeError) boom" || i.Culprit != "AppWeb.PageController in index/2" || i.UserCount != 1 {
		t.Errorf("issue %+v", i)
	}

	// The legacy store endpoint, authenticated by query parameter.
	store := `{"message":{"formatted":"disk 91% full on db-2","message":"disk %s full on %s"},"level":"warning","environment":"production"}`
	resp, body = post("/api/1/store/?sentry_key="+key, []byte(store), nil)
	mustStatus(t, resp, body, http.StatusOK)
	if s.Events() != 2 {
		t.Errorf("Events() = %d after envelope and store", s.Events())
	}

	// Authentication failures.
	resp, body = post("/api/1/envelope/", env.Bytes(), nil)
	mustStatus(t, resp, body, http.StatusUnauthorized)
	resp, body = post("/api/1/envelope/?sentry_key=wrong", env.Bytes(), nil)
	mustStatus(t, resp, body, http.StatusForbidden)
	resp, body = post("/api/1/envelope/", []byte("not json\n"), map[string]string{"X-Sentry-Auth": "Sentry sentry_key=" + key})
	mustStatus(t, resp, body, http.StatusBadRequest)
	resp, body = post("/api/1/envelope/", env.Bytes(), map[string]string{"Content-Encoding": "br", "X-Sentry-Auth": "Sentry sentry_key=" + key})
	mustStatus(t, resp, body, http.StatusUnsupportedMediaType)
}

func TestDefaultSDKTransport(t *testing.T) {
	s, ts, _ := newStub(t, Options{Projects: []Project{{ID: 7, Slug: "api"}}})
	dsn := s.DSN(ts.URL, "api")
	if !strings.HasSuffix(dsn, "/7") || !strings.Contains(dsn, s.Projects()[0].Key+"@") {
		t.Fatalf("DSN %q", dsn)
	}
	// No Transport option: the SDK's default telemetry pipeline.
	c, err := sentry.NewClient(sentry.ClientOptions{Dsn: dsn, Environment: "production", Release: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	c.CaptureException(errors.New("boom"), nil, nil)
	c.CaptureMessage("hello", nil, nil)
	if !c.Flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}
	c.Close()
	if s.Events() != 2 {
		t.Fatalf("Events() = %d, want 2", s.Events())
	}
	got := titles(listIssues(t, ts, url.Values{"project": {"7"}}))
	if strings.Join(got, "|") != "*errors.errorString: boom|hello" {
		t.Errorf("titles %q", got)
	}
}

func TestAuthAndOrganization(t *testing.T) {
	_, ts, _ := newStub(t, Options{})
	for _, tc := range []struct {
		token, detail string
	}{
		{"", "Authentication credentials were not provided."},
		{"wrong", "Invalid token"},
	} {
		resp, body := get(t, ts, tc.token, "/api/0/organizations/acme/issues/")
		mustStatus(t, resp, body, http.StatusUnauthorized)
		var d map[string]string
		if err := json.Unmarshal(body, &d); err != nil || d["detail"] != tc.detail {
			t.Errorf("401 body %s, want detail %q", body, tc.detail)
		}
	}
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/")
	mustStatus(t, resp, body, http.StatusOK)
	var org struct{ ID, Slug, Name string }
	if err := json.Unmarshal(body, &org); err != nil || org.Slug != "acme" || org.ID == "" || org.Name == "" {
		t.Errorf("organization %s", body)
	}
	resp, body = get(t, ts, testToken, "/api/0/organizations/other/")
	mustStatus(t, resp, body, http.StatusNotFound)
	resp, body = do(t, ts, testToken, http.MethodDelete, "/api/0/organizations/acme/events-stats/", nil)
	mustStatus(t, resp, body, http.StatusMethodNotAllowed)
}

func TestReleasesAndDeploys(t *testing.T) {
	s, ts, clk := newStub(t, Options{})
	deploys := "/api/0/organizations/acme/releases/app%402.4.0/deploys/"

	// Sentry requires the release first.
	resp, body := do(t, ts, testToken, http.MethodPost, deploys, map[string]any{"environment": "production"})
	mustStatus(t, resp, body, http.StatusNotFound)

	resp, body = do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/",
		map[string]any{"version": "app@2.4.0", "projects": []string{"app"}})
	mustStatus(t, resp, body, http.StatusCreated)
	var rel struct {
		Version  string
		Projects []struct{ Slug string }
	}
	if err := json.Unmarshal(body, &rel); err != nil || rel.Version != "app@2.4.0" || len(rel.Projects) != 1 {
		t.Errorf("release %s", body)
	}
	resp, body = do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/",
		map[string]any{"version": "app@2.4.0", "projects": []string{"app"}})
	mustStatus(t, resp, body, http.StatusAlreadyReported)
	resp, body = do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/",
		map[string]any{"version": "x", "projects": []string{"nope"}})
	mustStatus(t, resp, body, http.StatusBadRequest)

	resp, body = do(t, ts, testToken, http.MethodPost, deploys, map[string]any{"name": "no env"})
	mustStatus(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(string(body), `"environment":["This field is required."]`) {
		t.Errorf("validation body %s", body)
	}

	resp, body = do(t, ts, testToken, http.MethodPost, deploys, map[string]any{
		"environment": "production",
		"name":        "flightdeck 2026-11-22",
		"url":         "https://ci.example/runs/1",
		"dateStarted": "2026-11-22T09:56:00Z",
	})
	mustStatus(t, resp, body, http.StatusCreated)
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "1", "environment": "production", "name": "flightdeck 2026-11-22",
		"url": "https://ci.example/runs/1", "dateStarted": "2026-11-22T09:56:00Z",
		"dateFinished": "2026-11-22T10:00:30Z",
	}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("deploy %v\nwant %v", d, want)
	}

	clk.Add(time.Minute)
	resp, body = do(t, ts, testToken, http.MethodPost, deploys, map[string]any{"environment": "staging"})
	mustStatus(t, resp, body, http.StatusCreated)
	resp, body = get(t, ts, testToken, deploys)
	mustStatus(t, resp, body, http.StatusOK)
	var list []struct {
		Environment string
		Name        *string
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 2 || list[0].Environment != "staging" || list[0].Name != nil {
		t.Errorf("deploys list %s", body)
	}
	if got := s.Deploys("app@2.4.0"); len(got) != 2 || got[0].Environment != "production" || got[0].DateStarted.IsZero() {
		t.Errorf("Deploys() = %+v", got)
	}
	// A deploy makes its environment known to queries.
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/events-stats/?environment=staging&statsPeriod=1h&interval=1m")
	mustStatus(t, resp, body, http.StatusOK)

	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/releases/app%402.4.0/")
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(string(body), `"deployCount":2`) {
		t.Errorf("release detail %s", body)
	}
}

func TestReleaseCreatedByEvents(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	c := syncClient(t, s.DSN(ts.URL, "1"), "production", "v9")
	captureExc(c, "E", "x", "u", t0.Add(-time.Minute))
	resp, body := do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/v9/deploys/", map[string]any{"environment": "production"})
	mustStatus(t, resp, body, http.StatusCreated)
}

// links parses a Link header into rel -> (url, results, cursor).
func links(t *testing.T, h string) map[string][3]string {
	t.Helper()
	re := regexp.MustCompile(`<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"`)
	out := map[string][3]string{}
	for _, m := range re.FindAllStringSubmatch(h, -1) {
		out[m[2]] = [3]string{m[1], m[3], m[4]}
	}
	if len(out) != 2 {
		t.Fatalf("Link header %q lacks previous and next", h)
	}
	return out
}

func TestIssuePagination(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	c := syncClient(t, s.DSN(ts.URL, "app"), "production", "v1")
	for i := 0; i < 5; i++ {
		captureExc(c, fmt.Sprintf("Error%c", 'A'+i), "boom", "u", t0.Add(-time.Duration(i+1)*time.Minute))
	}
	seen := map[string]bool{}
	var order []string
	path := "/api/0/organizations/acme/issues/?limit=2&query="
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		resp, body := get(t, ts, testToken, path)
		mustStatus(t, resp, body, http.StatusOK)
		var items []apiIssue
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if seen[it.ID] {
				t.Fatalf("issue %s on two pages", it.ID)
			}
			seen[it.ID] = true
			order = append(order, it.Title)
		}
		l := links(t, resp.Header.Get("Link"))
		if wantPrev := fmt.Sprint(page > 0); l["previous"][1] != wantPrev {
			t.Errorf("page %d previous results=%s", page, l["previous"][1])
		}
		if resp.Header.Get("X-Hits") != "5" {
			t.Errorf("X-Hits %q", resp.Header.Get("X-Hits"))
		}
		if l["next"][1] == "false" {
			break
		}
		u, err := url.Parse(l["next"][0])
		if err != nil || u.Query().Get("cursor") != l["next"][2] || u.Query().Get("limit") != "2" {
			t.Fatalf("next link %q", l["next"][0])
		}
		path = u.RequestURI()
	}
	// Sorted by last seen, newest first.
	if strings.Join(order, ",") != "ErrorA: boom,ErrorB: boom,ErrorC: boom,ErrorD: boom,ErrorE: boom" {
		t.Errorf("order %v", order)
	}
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/issues/?cursor=garbage")
	mustStatus(t, resp, body, http.StatusBadRequest)
}

func TestNormalize(t *testing.T) {
	same := [][2]string{
		{"request 9f1c2e4a-7d3b-4c8e-a1f0-2b3c4d5e6f70 failed", "request 0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5 failed"},
		{"timeout after 2000ms", "timeout after 15ms"},
		{"object at 0x7f3a2c", "object at 0xdeadbeef"},
		{"from 10.1.2.3", "from 192.168.0.10"},
		{"commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904", "commit 5c925dd752db6eb9a060e54bf8d69288fbee4905"},
	}
	for _, p := range same {
		if normalize(p[0]) != normalize(p[1]) {
			t.Errorf("normalize(%q) = %q != normalize(%q) = %q", p[0], normalize(p[0]), p[1], normalize(p[1]))
		}
	}
	if normalize("key :clinic_id not found") == normalize("key :patient_id not found") {
		t.Error("different keys normalised together")
	}
	if got := normalize("bad cafe added"); got != "bad cafe added" {
		t.Errorf("words mangled: %q", got)
	}
}
