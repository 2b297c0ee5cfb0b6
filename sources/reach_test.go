package sources_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// request is what a stand-in server saw, kept for the test goroutine to
// check: a handler must not call t.Fatal.
type request struct {
	Method, Path, Auth, Accept, UserAgent string
}

// recorder is an httptest server that logs every request and answers with
// the status, headers and body a test sets.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []request
	status int
	header http.Header
	body   string
}

func newRecorder(t *testing.T, status int, body string) *recorder {
	t.Helper()
	rec := &recorder{status: status, body: body, header: http.Header{}}
	rec.Server = httptest.NewServer(rec.handler())
	t.Cleanup(rec.Close)
	return rec
}

// newTLSRecorder serves over TLS: client-go sends a kubeconfig's
// credentials only to an API server it reaches over TLS.
func newTLSRecorder(t *testing.T, status int, body string) *recorder {
	t.Helper()
	rec := &recorder{status: status, body: body, header: http.Header{}}
	rec.Server = httptest.NewTLSServer(rec.handler())
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, request{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Accept"), r.Header.Get("User-Agent")})
		status, body := rec.status, rec.body
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		rec.mu.Unlock()
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.seen...)
}

func (r *recorder) only(t *testing.T) request {
	t.Helper()
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("server saw %d requests, want 1: %+v", len(got), got)
	}
	return got[0]
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func probeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), sources.ProbeTimeout)
	t.Cleanup(cancel)
	return ctx
}

const jiraToken = "jira-tok-Zq81"

func jiraCfg(url, flavor string) *config.Jira {
	return &config.Jira{URL: url, Flavor: flavor, Email: "ana@example.com", Token: config.ResolvedSecret("env:JIRA_API_TOKEN", jiraToken)}
}

func TestProbeJiraCloud(t *testing.T) {
	srv := newRecorder(t, 200, `{"accountId":"5b10","displayName":"Ana Deployer","active":true}`)
	// A trailing slash in the configured URL must not double the slash.
	r := sources.ProbeJira(probeCtx(t), jiraCfg(srv.URL+"/", config.JiraCloud))
	if r.Err != nil {
		t.Fatalf("ProbeJira: %v", r.Err)
	}
	if r.Detail != "signed in as Ana Deployer" || !r.OK() {
		t.Errorf("Reach = %+v", r)
	}
	req := srv.only(t)
	if req.Method != http.MethodGet || req.Path != "/rest/api/3/myself" {
		t.Errorf("request = %s %s, want GET /rest/api/3/myself", req.Method, req.Path)
	}
	if req.Auth != basic("ana@example.com", jiraToken) {
		t.Errorf("Authorization = %q, want Basic email:token", req.Auth)
	}
	if req.Accept != "application/json" {
		t.Errorf("Accept = %q", req.Accept)
	}
}

func TestProbeJiraDatacenter(t *testing.T) {
	srv := newRecorder(t, 200, `{"name":"ana","displayName":"Ana D"}`)
	r := sources.ProbeJira(probeCtx(t), jiraCfg(srv.URL, config.JiraDatacenter))
	if r.Err != nil || r.Detail != "signed in as Ana D" {
		t.Fatalf("Reach = %+v", r)
	}
	req := srv.only(t)
	if req.Path != "/rest/api/2/myself" {
		t.Errorf("path = %s, want the v2 API of Data Center", req.Path)
	}
	if req.Auth != "Bearer "+jiraToken {
		t.Errorf("Authorization = %q, want the personal access token as Bearer", req.Auth)
	}
}

func TestProbeJiraErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   []string
	}{
		{"unauthorized", 401, nil, `{"errorMessages":["Client must be authenticated"]}`, []string{"401", "check [jira] email and token"}},
		{"forbidden", 403, nil, `{}`, []string{"403", "check [jira] email and token"}},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, `{}`, []string{"429", "rate limited", "7"}},
		{"server error", 503, nil, `{}`, []string{"503", "/rest/api/3/myself"}},
		{"not json", 200, nil, `<html>Log in</html>`, []string{"unexpected answer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRecorder(t, c.status, c.body)
			for k, v := range c.header {
				srv.header.Set(k, v)
			}
			r := sources.ProbeJira(probeCtx(t), jiraCfg(srv.URL, config.JiraCloud))
			if r.Err == nil {
				t.Fatalf("ProbeJira succeeded against a %d", c.status)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Err.Error(), w) {
					t.Errorf("error %q does not mention %q", r.Err, w)
				}
			}
			if strings.Contains(r.Err.Error(), jiraToken) || strings.Contains(r.Detail, jiraToken) {
				t.Errorf("the token leaked into %+v", r)
			}
			if r.OK() {
				t.Errorf("OK() with an error")
			}
		})
	}
}

const sentryToken = "sntrys_abc123"

func TestProbeSentry(t *testing.T) {
	srv := newRecorder(t, 200, `{"id":"1","slug":"acme","name":"Acme Vets"}`)
	s := &config.Sentry{URL: srv.URL, Org: "acme", Token: config.ResolvedSecret("env:SENTRY_TOKEN", sentryToken)}
	r := sources.ProbeSentry(probeCtx(t), s)
	if r.Err != nil || r.Detail != "organization Acme Vets" || r.Target != srv.URL {
		t.Fatalf("Reach = %+v", r)
	}
	req := srv.only(t)
	if req.Method != http.MethodGet || req.Path != "/api/0/organizations/acme/" {
		t.Errorf("request = %s %s", req.Method, req.Path)
	}
	if req.Auth != "Bearer "+sentryToken {
		t.Errorf("Authorization = %q", req.Auth)
	}
}

func TestProbeSentryEscapesOrg(t *testing.T) {
	srv := newRecorder(t, 200, `{"name":"x"}`)
	s := &config.Sentry{URL: srv.URL, Org: "a/b c", Token: config.ResolvedSecret("env:T", "t")}
	if r := sources.ProbeSentry(probeCtx(t), s); r.Err != nil {
		t.Fatalf("ProbeSentry: %v", r.Err)
	}
	if got := srv.only(t).Path; got != "/api/0/organizations/a%2Fb%20c/" {
		t.Errorf("path = %s, want the org as one escaped segment", got)
	}
}

func TestProbeSentryErrors(t *testing.T) {
	for _, c := range []struct {
		status int
		want   string
	}{{401, "check [sentry] token and org"}, {429, "rate limited"}} {
		srv := newRecorder(t, c.status, `{"detail":"nope"}`)
		srv.header.Set("Retry-After", "30")
		s := &config.Sentry{URL: srv.URL, Org: "acme", Token: config.ResolvedSecret("env:SENTRY_TOKEN", sentryToken)}
		r := sources.ProbeSentry(probeCtx(t), s)
		if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
			t.Errorf("%d: error %v, want it to mention %q", c.status, r.Err, c.want)
		}
		if r.Err != nil && strings.Contains(r.Err.Error(), sentryToken) {
			t.Errorf("%d: the token leaked into %q", c.status, r.Err)
		}
	}
}

func TestProbeSlackNeverPosts(t *testing.T) {
	srv := newRecorder(t, 200, "ok")
	const path = "/services/T000/B000/s3cr3tw3bh00k"
	s := &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK", srv.URL+path)}
	r := sources.ProbeSlack(probeCtx(t), s)
	if r.Err != nil {
		t.Fatalf("ProbeSlack: %v", r.Err)
	}
	if !strings.Contains(r.Detail, "nothing posted") {
		t.Errorf("Detail = %q", r.Detail)
	}
	// The webhook path is the credential; only scheme and host may show.
	if r.Target != srv.URL || strings.Contains(r.Target, "s3cr3t") {
		t.Errorf("Target = %q, want %q", r.Target, srv.URL)
	}
	for _, req := range srv.requests() {
		if req.Method == http.MethodPost {
			t.Errorf("a reachability check posted to the channel: %+v", req)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("the webhook was sent %d requests, want none", n)
	}
}

func TestProbeSlackDown(t *testing.T) {
	s := &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK", "http://"+closedPort(t)+"/services/x")}
	if r := sources.ProbeSlack(probeCtx(t), s); r.Err == nil {
		t.Errorf("ProbeSlack against a closed port succeeded: %+v", r)
	}
}

func TestProbeSlackNotAURL(t *testing.T) {
	const value = "hooks-slack-com-s3cr3t"
	s := &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK", value)}
	r := sources.ProbeSlack(probeCtx(t), s)
	if r.Err == nil {
		t.Fatalf("a webhook that is not a URL was accepted")
	}
	if !strings.Contains(r.Err.Error(), "env:SLACK_WEBHOOK") {
		t.Errorf("error %q does not say where the value came from", r.Err)
	}
	if strings.Contains(r.Err.Error(), value) {
		t.Errorf("error %q shows the secret", r.Err)
	}
}

func TestProbePostgresClosedPort(t *testing.T) {
	host, port, _ := net.SplitHostPort(closedPort(t))
	tgt := config.PostgresTarget{
		Name: "primary",
		DSN:  fmt.Sprintf("host=%s port=%s dbname=app_{{date}} user=deployer sslmode=disable", host, port),
	}
	vars := map[string]string{"date": "2025-03-04"}
	r := sources.ProbePostgres(probeCtx(t), tgt, vars)
	if r.Err == nil {
		t.Fatalf("ProbePostgres against a closed port succeeded: %+v", r)
	}
	if want := fmt.Sprintf("primary (%s:%s/app_2025-03-04)", host, port); r.Target != want {
		t.Errorf("Target = %q, want %q", r.Target, want)
	}
}

func TestProbePostgresBadTemplate(t *testing.T) {
	tgt := config.PostgresTarget{Name: "clone", DSN: "host=localhost dbname={{nope}}"}
	r := sources.ProbePostgres(probeCtx(t), tgt, map[string]string{"date": "2025-03-04"})
	if r.Err == nil || !strings.Contains(r.Err.Error(), `"clone"`) {
		t.Errorf("error %v, want one naming the target", r.Err)
	}
}

// git runs git in dir for test setup, isolated from the user's git config.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gitRepo makes a repository with master, staging and production.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	// Keep git from finding a repository above the temporary directory.
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	git(t, dir, "init", "-q", "-b", "master")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	git(t, dir, "branch", "staging")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "second")
	git(t, dir, "branch", "production")
	return dir
}

var deployBranches = []string{"master", "staging", "production"}

func TestProbeGit(t *testing.T) {
	dir := gitRepo(t)
	r := sources.ProbeGit(probeCtx(t), &config.Git{Repo: dir, Remote: "origin", Branches: deployBranches})
	if r.Err != nil {
		t.Fatalf("ProbeGit: %v", r.Err)
	}
	if r.Target != dir || r.Detail != "branches master, staging, production" {
		t.Errorf("Reach = %+v", r)
	}
}

func TestProbeGitMissingBranch(t *testing.T) {
	dir := gitRepo(t)
	r := sources.ProbeGit(probeCtx(t), &config.Git{Repo: dir, Remote: "origin", Branches: []string{"master", "hotfix", "staging", "release"}})
	if r.Err == nil {
		t.Fatalf("ProbeGit found a branch that does not exist")
	}
	msg := r.Err.Error()
	if !strings.Contains(msg, "hotfix, release") || !strings.Contains(msg, "origin") {
		t.Errorf("error %q does not name the missing branches and the remote", msg)
	}
	if strings.Contains(msg, "master") || strings.Contains(msg, "staging") {
		t.Errorf("error %q names a branch that exists", msg)
	}
}

// A deploy clone often has only master checked out; the other branches are
// on the remote, and that is enough.
func TestProbeGitRemoteBranches(t *testing.T) {
	upstream := gitRepo(t)
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, upstream, "clone", "-q", upstream, clone)
	r := sources.ProbeGit(probeCtx(t), &config.Git{Repo: clone, Remote: "origin", Branches: deployBranches})
	if r.Err != nil {
		t.Errorf("ProbeGit on a clone with remote branches: %v", r.Err)
	}
	r = sources.ProbeGit(probeCtx(t), &config.Git{Repo: clone, Remote: "upstream", Branches: deployBranches})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "staging, production") || !strings.Contains(r.Err.Error(), "upstream") {
		t.Errorf("with a remote that has none of them: %v", r.Err)
	}
}

func TestProbeGitNotARepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	plain := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(plain))
	r := sources.ProbeGit(probeCtx(t), &config.Git{Repo: plain, Remote: "origin", Branches: deployBranches})
	if r.Err == nil || !strings.Contains(r.Err.Error(), plain) {
		t.Errorf("error %v, want one naming %s", r.Err, plain)
	}
}

// kubeconfig writes a kubeconfig with one context, sandbox, pointing at srv
// and trusting its certificate.
func kubeconfig(t *testing.T, srv *recorder) string {
	t.Helper()
	return kubeconfigFor(t, srv.Server)
}

const versionJSON = `{"major":"1","minor":"36","gitVersion":"v1.36.3","gitCommit":"abc","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.26.0","compiler":"gc","platform":"linux/amd64"}`

func TestProbeKubernetesUnknownContext(t *testing.T) {
	srv := newTLSRecorder(t, 200, versionJSON)
	path := kubeconfig(t, srv)
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: path, Context: "prod-eu"}, nil)
	if r.Err == nil {
		t.Fatalf("a context that does not exist was accepted: %+v", r)
	}
	if !strings.Contains(r.Err.Error(), "prod-eu") || !strings.Contains(r.Err.Error(), path) {
		t.Errorf("error %q does not name the context and the file", r.Err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("the server was asked %d times with a bad context", n)
	}
}

func TestProbeKubernetesServerError(t *testing.T) {
	srv := newTLSRecorder(t, 500, `{"kind":"Status","status":"Failure","code":500}`)
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: kubeconfig(t, srv), Context: "sandbox"}, nil)
	if r.Err == nil {
		t.Errorf("ProbeKubernetes succeeded against a failing API server: %+v", r)
	}
}

func TestProbeSectionNamesSection(t *testing.T) {
	srv := newRecorder(t, 200, `{"displayName":"Ana"}`)
	cfg := &config.Config{Jira: jiraCfg(srv.URL, config.JiraCloud)}
	got := sources.ProbeSection(probeCtx(t), cfg, "jira", time.Now())
	if len(got) != 1 || got[0].Section != "jira" || got[0].Err != nil || got[0].Took <= 0 {
		t.Errorf("ProbeSection = %+v", got)
	}
}

func TestProbeSectionPostgresPerTarget(t *testing.T) {
	day := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	host, port, _ := net.SplitHostPort(closedPort(t))
	dsn := fmt.Sprintf("host=%s port=%s user=deployer sslmode=disable dbname=", host, port)
	cfg := &config.Config{Postgres: &config.Postgres{Targets: []config.PostgresTarget{
		{Name: "primary", DSN: dsn + "app"},
		{Name: "clone", DSN: dsn + "app_{{date}}"},
	}}}
	got := sources.ProbeSection(probeCtx(t), cfg, "postgres", day)
	if len(got) != 2 {
		t.Fatalf("got %d answers for 2 targets: %+v", len(got), got)
	}
	for i, want := range []string{"primary (" + host + ":" + port + "/app)", "clone (" + host + ":" + port + "/app_2025-03-04)"} {
		if got[i].Section != "postgres" || got[i].Target != want || got[i].Err == nil {
			t.Errorf("answer %d = %+v, want a failure for %s", i, got[i], want)
		}
	}
}

// A probe that hangs must come back as "no answer", not hold the check.
func TestProbeSectionHungServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cfg := &config.Config{Jira: jiraCfg(srv.URL, config.JiraCloud)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got := sources.ProbeSection(ctx, cfg, "jira", time.Now())
	if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "no answer within") {
		t.Errorf("ProbeSection = %+v, want a \"no answer\" error", got)
	}
}

func TestProbeSectionSecretErrors(t *testing.T) {
	srv := newRecorder(t, 200, `{"displayName":"Ana"}`)
	missing := &config.Error{File: "flightdeck.toml", Line: 40, Col: 9, Key: "jira.token", Msg: "environment variable JIRA_API_TOKEN is not set"}
	cfg := &config.Config{
		Jira:         jiraCfg(srv.URL, config.JiraCloud),
		SecretErrors: map[string]config.Errors{"jira": {missing}},
	}
	got := sources.ProbeSection(probeCtx(t), cfg, "jira", time.Now())
	if len(got) != 1 || got[0].Section != "jira" || got[0].Err == nil {
		t.Fatalf("ProbeSection = %+v", got)
	}
	var ce *config.Error
	if !errors.As(got[0].Err, &ce) || ce != missing {
		t.Errorf("error %v does not carry the secret's config error", got[0].Err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("Jira was asked %d times without credentials", n)
	}
}

func TestCheckReachOrderAndConfigured(t *testing.T) {
	jira := newRecorder(t, 200, `{"displayName":"Ana"}`)
	slack := newRecorder(t, 200, "ok")
	cfg := &config.Config{
		Slack: &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK", slack.URL+"/services/x")},
		Git:   &config.Git{Repo: gitRepo(t), Remote: "origin", Branches: deployBranches},
		Jira:  jiraCfg(jira.URL, config.JiraCloud),
	}
	for _, sec := range snapshot.Sections {
		want := sec == "jira" || sec == "git" || sec == "slack"
		if got := sources.Configured(cfg, sec); got != want {
			t.Errorf("Configured(%s) = %v", sec, got)
		}
	}
	got := sources.CheckReach(probeCtx(t), cfg, time.Now())
	var secs []string
	for _, r := range got {
		secs = append(secs, r.Section)
		if r.Err != nil {
			t.Errorf("%s: %v", r.Section, r.Err)
		}
	}
	if strings.Join(secs, ",") != "jira,git,slack" {
		t.Errorf("sections = %v, want jira,git,slack in display order", secs)
	}
}

func TestReachabilitySource(t *testing.T) {
	srv := newRecorder(t, 401, `{}`)
	src := sources.Reachability{Config: &config.Config{Jira: jiraCfg(srv.URL, config.JiraCloud)}, Section: "jira", Interval: time.Hour}
	if src.Name() != "jira" {
		t.Errorf("Name = %q", src.Name())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := make(chan sources.Snapshot[[]snapshot.Reach], 1)
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(s sources.Snapshot[[]snapshot.Reach]) {
			select {
			case snaps <- s:
			default:
			}
		})
	}()
	var s sources.Snapshot[[]snapshot.Reach]
	select {
	case s = <-snaps:
	case <-time.After(safety):
		t.Fatalf("no snapshot")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("Run did not return on cancel")
	}
	if s.Err == nil || !strings.Contains(s.Err.Error(), "check [jira] email and token") {
		t.Errorf("snapshot Err = %v, want the probe's error", s.Err)
	}
	if len(s.Data) != 1 || s.Data[0].Section != "jira" || s.Data[0].Err == nil {
		t.Errorf("snapshot Data = %+v", s.Data)
	}
}

// With several Postgres targets the status bar must say which one failed.
func TestReachabilityNamesFailingTarget(t *testing.T) {
	host, port, _ := net.SplitHostPort(closedPort(t))
	dsn := fmt.Sprintf("host=%s port=%s user=deployer sslmode=disable dbname=", host, port)
	cfg := &config.Config{Postgres: &config.Postgres{Targets: []config.PostgresTarget{
		{Name: "primary", DSN: dsn + "app"}, {Name: "replica", DSN: dsn + "app"},
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got sources.Snapshot[[]snapshot.Reach]
	err := sources.Reachability{Config: cfg, Section: "postgres", Interval: time.Hour}.Run(ctx,
		func(s sources.Snapshot[[]snapshot.Reach]) { got = s; cancel() })
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got.Err == nil {
		t.Fatalf("no error for two unreachable targets")
	}
	for _, name := range []string{"primary (", "replica ("} {
		if !strings.Contains(got.Err.Error(), name) {
			t.Errorf("error %q does not name %s", got.Err, name)
		}
	}
}
