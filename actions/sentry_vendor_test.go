package actions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/httpfixture"
	"github.com/flightdeckhq/flightdeck/sources"
)

// The deploy marker against Sentry's own documented answers, served byte
// for byte (sources/testdata/vendor/sentry/README.md says where each comes
// from), so a mistake the marker shares with our stand-in still shows.

const sentryVendor = "../sources/testdata/vendor/sentry"

const (
	vendorReleases = "/api/0/organizations/acme/releases/"
	vendorRelease  = vendorReleases + "2026.11.23/"
	vendorDeploys  = vendorRelease + "deploys/"
)

func vendorMarker(t *testing.T, releaseFile, deployFile string) (*httpfixture.Server, *actions.DeployMarker) {
	t.Helper()
	srv := httpfixture.Serve(t, sentryVendor,
		httpfixture.Route{Method: http.MethodGet, Path: vendorRelease, File: "release.http"},
		httpfixture.Route{Method: http.MethodPost, Path: vendorReleases, File: releaseFile},
		httpfixture.Route{Method: http.MethodPost, Path: vendorDeploys, File: deployFile},
	)
	c := sources.NewSentryClient(&config.Sentry{URL: srv.URL, Org: "acme", Projects: []string{"vetspire"}, Environment: "production",
		Token: config.ResolvedSecret("env:SENTRY_AUTH_TOKEN", markerToken)}, nil)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return srv, &actions.DeployMarker{Client: c, Release: "2026.11.23", Stage: actions.StageStart, Deploy: "Vetspire production deploy",
		Now: func() time.Time { return at }}
}

func TestDeployMarkerAgainstSentrysDocumentedAnswers(t *testing.T) {
	srv, m := vendorMarker(t, "release-created.http", "deploy-created.http")
	p, err := m.Preview(context.Background())
	if err != nil || !strings.Contains(strings.Join(p.Lines, "\n"), "release 2026.11.23 exists") {
		t.Fatalf("preview %+v, %v", p, err)
	}
	res, err := m.Run(context.Background())
	if err != nil || !res.OK {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	var d actions.DeployMarkerResult
	if err := json.Unmarshal(res.Detail, &d); err != nil {
		t.Fatal(err)
	}
	// The deploy id is a string in Sentry's deploy serializer.
	if d.DeployID != "1234" || !d.ReleaseCreated || d.DateFinished != "2026-11-23T10:00:00Z" || d.Environment != "production" {
		t.Errorf("detail %+v", d)
	}

	var release, deploy httpfixture.Request
	for _, r := range srv.Requests() {
		if !strings.HasSuffix(r.Path, "/") {
			t.Errorf("%s %s: Sentry's routes end in a slash, and the catch-all answers 404 without it", r.Method, r.Path)
		}
		switch {
		case r.Method == http.MethodPost && r.Path == vendorReleases:
			release = r
		case r.Method == http.MethodPost && r.Path == vendorDeploys:
			deploy = r
		}
	}
	var rb struct {
		Version  string   `json:"version"`
		Projects []string `json:"projects"`
	}
	if err := json.Unmarshal(release.Body, &rb); err != nil || rb.Version != "2026.11.23" || strings.Join(rb.Projects, ",") != "vetspire" {
		t.Errorf("release body %s", release.Body)
	}
	var db map[string]any
	if err := json.Unmarshal(deploy.Body, &db); err != nil {
		t.Fatalf("deploy body %s: %v", deploy.Body, err)
	}
	want := map[string]any{"environment": "production", "name": "Vetspire production deploy: start",
		"dateStarted": "2026-11-23T10:00:00Z", "dateFinished": "2026-11-23T10:00:00Z", "projects": []any{"vetspire"}}
	for k, v := range want {
		if b, _ := json.Marshal(db[k]); string(b) != mustJSON(t, v) {
			t.Errorf("deploy %s = %s, want %s", k, b, mustJSON(t, v))
		}
	}
	if ct := deploy.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("deploy Content-Type %q", ct)
	}

	// 208 Already Reported: the release was there.
	_, m = vendorMarker(t, "release-exists.http", "deploy-created.http")
	res, err = m.Run(context.Background())
	if err != nil || !res.OK || strings.Contains(res.Summary, "created") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A refused marker says what Sentry said, in the form Sentry says it.
func TestDeployMarkerRefusedBySentry(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		// SentryAPIException: {"detail": {"code", "message", "extra"}}.
		{"deploy-invalid-projects.http", []string{"Invalid projects (vetspire) for release 2026.11.23"}},
		// The rate limiter: a bare JSON string labelled text/html, and the
		// wait only in X-Sentry-Rate-Limit-Reset.
		{"rate-limited.http", []string{"Limit is 40 requests in 1 seconds", "window reopens in 1s"}},
		// A field error map.
		{"deploy-name-too-long.http", []string{"name: Ensure this field has no more than 64 characters."}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, m := vendorMarker(t, "release-created.http", tc.file)
			res, err := m.Run(context.Background())
			if err == nil || res.OK {
				t.Fatalf("Run = %+v, %v; want Sentry's refusal", res, err)
			}
			var d actions.DeployMarkerResult
			if jerr := json.Unmarshal(res.Detail, &d); jerr != nil {
				t.Fatal(jerr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(d.Error, w) {
					t.Errorf("error %q (detail %q) does not say %q", err, d.Error, w)
				}
			}
		})
	}
}
