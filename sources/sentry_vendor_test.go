package sources_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/httpfixture"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// These tests serve Sentry's own documented answers (see
// testdata/vendor/sentry/README.md for where each comes from) to the real
// client, so a mistake shared by the client and our stand-in still shows.

const sentryVendor = "testdata/vendor/sentry"

const (
	vendorOrg      = "/api/0/organizations/acme/"
	vendorProjects = vendorOrg + "projects/"
	vendorStats    = vendorOrg + "events-stats/"
	vendorIssues   = vendorOrg + "issues/"
	vendorEnvs     = vendorOrg + "environments/"
)

// vendorCfg names the project of the schema's projects example.
func vendorCfg(u, env string) *config.Sentry {
	c := sentryCfg(u)
	c.Projects = []string{"prime-mover"}
	c.Environment = env
	return c
}

func projectsRoute() httpfixture.Route {
	return httpfixture.Route{Method: http.MethodGet, Path: vendorProjects, File: "projects.http"}
}

func vendorCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requestsTo(srv *httpfixture.Server, path string) []httpfixture.Request {
	var out []httpfixture.Request
	for _, r := range srv.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// The pagination doc's first example has no cursor attribute and a URL on
// another path; the next page is the URL's cursor, asked of our own
// endpoint. results="false" on the second page ends the paging although it
// names a cursor.
func TestSentryVendorIssuesFollowTheLinkURL(t *testing.T) {
	srv := httpfixture.Serve(t, sentryVendor,
		projectsRoute(),
		httpfixture.Route{Method: http.MethodGet, Path: vendorIssues, Query: url.Values{"cursor": {"1420837533:0:0"}}, File: "issues-page2.http"},
		httpfixture.Route{Method: http.MethodGet, Path: vendorIssues, File: "issues-page1.http"},
	)
	c := sources.NewSentryClient(vendorCfg(srv.URL, "production"), nil)
	issues, err := c.Issues(vendorCtx(t), sources.IssueQuery{Query: "is:unresolved", Period: time.Hour, Pages: 5})
	if err != nil {
		t.Fatal(err)
	}
	reqs := requestsTo(srv, vendorIssues)
	if len(reqs) != 2 {
		t.Fatalf("%d issue pages asked for, want 2: the first page's next link has results=\"true\" and no cursor attribute, the second results=\"false\"", len(reqs))
	}
	first, second := reqs[0].Query, reqs[1].Query
	if first.Get("cursor") != "" || second.Get("cursor") != "1420837533:0:0" {
		t.Errorf("cursors %q then %q", first.Get("cursor"), second.Get("cursor"))
	}
	for _, k := range []string{"query", "project", "environment", "statsPeriod", "limit"} {
		if strings.Join(first[k], ",") != strings.Join(second[k], ",") {
			t.Errorf("the second page changed %s: %q then %q", k, first[k], second[k])
		}
	}
	if len(issues) != 1 {
		t.Fatalf("issues %+v, want the one example issue once", issues)
	}
	is := issues[0]
	if is.ID != "1" || is.ShortID != "PUMP-STATION-1" || is.Events != 150 || is.Users != 0 || is.Project != "pump-station" || is.Level != "error" {
		t.Errorf("issue %+v", is)
	}
	if want := time.Date(2018, 11, 6, 21, 19, 55, 0, time.UTC); !is.FirstSeen.Equal(want) {
		t.Errorf("first seen %v, want %v", is.FirstSeen, want)
	}
}

func TestSentryVendorEventsStats(t *testing.T) {
	srv := httpfixture.Serve(t, sentryVendor,
		projectsRoute(),
		httpfixture.Route{Method: http.MethodGet, Path: vendorStats, File: "events-stats.http"},
	)
	c := sources.NewSentryClient(vendorCfg(srv.URL, ""), nil)
	pts, err := c.ErrorCounts(vendorCtx(t), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1795428000, 0).UTC()
	want := []snapshot.ErrorPoint{{At: t0.Add(-3 * time.Minute), Count: 3}, {At: t0.Add(-2 * time.Minute), Count: 0}, {At: t0.Add(-time.Minute), Count: 7}}
	if len(pts) != len(want) {
		t.Fatalf("points %v, want %v", pts, want)
	}
	for i := range want {
		if !pts[i].At.Equal(want[i].At) || pts[i].Count != want[i].Count {
			t.Errorf("point %d = %v, want %v", i, pts[i], want[i])
		}
	}
	q := requestsTo(srv, vendorStats)[0].Query
	if q.Get("project") != "3" || q.Get("interval") != "1m" || q.Get("yAxis") != "count()" {
		t.Errorf("events-stats asked with %v", q)
	}

	// A token that sees none of the projects gets {"data": []}: no errors,
	// not a broken answer.
	srv = httpfixture.Serve(t, sentryVendor,
		projectsRoute(),
		httpfixture.Route{Method: http.MethodGet, Path: vendorStats, File: "events-stats-no-projects.http"},
	)
	pts, err = sources.NewSentryClient(vendorCfg(srv.URL, ""), nil).ErrorCounts(vendorCtx(t), time.Hour, nil)
	if err != nil || len(pts) != 0 {
		t.Errorf("no projects: %v, %v", pts, err)
	}
}

// Sentry's 429 has no Retry-After: the wait is X-Sentry-Rate-Limit-Reset
// less the answer's Date, and the body is a bare JSON string labelled
// text/html.
func TestSentryVendorRateLimitWaitsForTheReset(t *testing.T) {
	for _, tc := range []struct {
		file string
		wait time.Duration
		says string
	}{
		{"rate-limited.http", time.Second, "window reopens in 1s"},
		{"rate-limited-concurrent.http", time.Second, "25 at once"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			srv := httpfixture.Serve(t, sentryVendor,
				projectsRoute(),
				httpfixture.Route{Method: http.MethodGet, Path: vendorStats, File: tc.file},
			)
			_, err := sources.NewSentryClient(vendorCfg(srv.URL, ""), nil).ErrorCounts(vendorCtx(t), time.Hour, nil)
			var se *sources.SentryError
			if !errors.As(err, &se) || !se.RateLimited() {
				t.Fatalf("error %v, want a rate-limited SentryError", err)
			}
			if se.RetryAfter != tc.wait {
				t.Errorf("wait %s, want %s", se.RetryAfter, tc.wait)
			}
			if se.Detail != "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds" {
				t.Errorf("detail %q: the bare JSON string is Sentry's own words", se.Detail)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%q does not say %q", err, tc.says)
			}
		})
	}
}

// The check probe's 429 sentence names a real wait for Sentry too, and
// never prints an empty Retry-After.
func TestProbeSentryRateLimitNamesTheWait(t *testing.T) {
	srv := httpfixture.Serve(t, sentryVendor, httpfixture.Route{Method: http.MethodGet, Path: vendorOrg, File: "rate-limited.http"})
	r := sources.ProbeSentry(probeCtx(t), vendorCfg(srv.URL, ""))
	if r.Err == nil {
		t.Fatal("a 429 probe succeeded")
	}
	msg := r.Err.Error()
	if !strings.Contains(msg, "429") || !strings.Contains(msg, "retry in 1s") || strings.Contains(msg, "  s") {
		t.Errorf("probe error %q, want the wait Sentry's reset header names", msg)
	}

	srv = httpfixture.Serve(t, sentryVendor, httpfixture.Route{Method: http.MethodGet, Path: vendorOrg, File: "organization.http"})
	if r := sources.ProbeSentry(probeCtx(t), vendorCfg(srv.URL, "")); r.Err != nil || r.Detail != "organization The Interstellar Jurisdiction" {
		t.Errorf("probe %+v", r)
	}
}

// Sentry has never seen the environment: events-stats answers 404, and the
// environments list says why. That is "no events yet", not Sentry down.
func TestSentryVendorNoEventsYet(t *testing.T) {
	routes := []httpfixture.Route{
		projectsRoute(),
		{Method: http.MethodGet, Path: vendorStats, File: "not-found.http"},
		{Method: http.MethodGet, Path: vendorIssues, File: "not-found.http"},
		{Method: http.MethodGet, Path: vendorEnvs, File: "environments.http"},
	}
	srv := httpfixture.Serve(t, sentryVendor, routes...)
	cfg := vendorCfg(srv.URL, "production")
	_, err := sources.NewSentryClient(cfg, nil).ErrorCounts(vendorCtx(t), time.Hour, nil)
	if !errors.Is(err, sources.ErrSentryNoEvents) {
		t.Fatalf("error %v, want ErrSentryNoEvents", err)
	}
	// Environment names are case-sensitive; the list helps spot a typo.
	if !strings.Contains(err.Error(), `no events yet in environment "production"`) || !strings.Contains(err.Error(), "Production, Staging") {
		t.Errorf("%q", err)
	}
	q := requestsTo(srv, vendorEnvs)[0].Query
	if q.Get("visibility") != "all" || q.Get("project") != "3" {
		t.Errorf("environments asked with %v", q)
	}

	src, err := sources.NewSentry(cfg, sources.SentryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.SetDeploy(snapshot.DeployMarks{Start: time.Unix(1795428000, 0)})
	rate, err := src.Read(vendorCtx(t))
	if err != nil || !rate.NoEvents {
		t.Fatalf("Read = %+v, %v; want a reading that says no events yet", rate, err)
	}
	if f := rate.Facts()["sentry.no_spike"]; f.Known || !strings.Contains(f.Detail, "no events yet") {
		t.Errorf("no_spike fact %+v", f)
	}

	// A 404 for an environment Sentry does know is something else, and
	// stays an error.
	_, err = sources.NewSentryClient(vendorCfg(srv.URL, "Staging"), nil).ErrorCounts(vendorCtx(t), time.Hour, nil)
	if err == nil || errors.Is(err, sources.ErrSentryNoEvents) {
		t.Errorf("known environment: %v", err)
	}
	wantSentryErr(t, err, http.StatusNotFound, "The requested resource does not exist")
}

// Error bodies in every form Sentry answers with, whatever the
// Content-Type: the person at the pane reads Sentry's own words.
func TestSentryVendorErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"deploy-invalid-projects.http", "Invalid projects (vetspire) for release 2026.11.23"},
		{"deploy-name-too-long.http", "name: Ensure this field has no more than 64 characters."},
		{"missing-slash.http", "Route not found, did you forget a trailing slash? try: /api/0/organizations/acme/releases/2026.11.23/"},
		{"missing-slash-json.http", "Route not found, did you forget a trailing slash? try: /api/0/organizations/acme/releases/2026.11.23/deploys/"},
		{"rate-limited.http", "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds"},
		{"not-found.http", "The requested resource does not exist"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			srv := httpfixture.Serve(t, sentryVendor, httpfixture.Route{Method: http.MethodPost, Path: vendorOrg + "releases/2026.11.23/deploys/", File: tc.file})
			_, err := sources.NewSentryClient(vendorCfg(srv.URL, "production"), nil).CreateDeploy(vendorCtx(t), "2026.11.23", sources.DeployRequest{Name: "x"})
			var se *sources.SentryError
			if !errors.As(err, &se) {
				t.Fatalf("error %v", err)
			}
			if se.Detail != tc.want {
				t.Errorf("detail %q, want %q", se.Detail, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q does not carry Sentry's words", err)
			}
		})
	}
}
