package sentrystub

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestEnvironmentUnknownUntilNamed follows getsentry/sentry
// src/sentry/api/helpers/environments.py: an environment parameter Sentry
// has no Environment row for is ResourceDoesNotExist, a 404, on
// events-stats and issues alike, until an event or a deploy names it. The
// list is the schema's listOrganizationEnvironments (sentry-api-schema):
// ids as strings, names sorted.
func TestEnvironmentUnknownUntilNamed(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	const stats = "/api/0/organizations/acme/events-stats/?environment=production&statsPeriod=1h&interval=1m"
	const envs = "/api/0/organizations/acme/environments/?visibility=all"
	resp, body := get(t, ts, testToken, stats)
	mustStatus(t, resp, body, http.StatusNotFound)
	if string(body) != `{"detail":"The requested resource does not exist"}`+"\n" {
		t.Errorf("404 body %q", body)
	}
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/issues/?environment=production")
	mustStatus(t, resp, body, http.StatusNotFound)
	resp, body = get(t, ts, testToken, envs)
	mustStatus(t, resp, body, http.StatusOK)
	if string(body) != "[]\n" {
		t.Errorf("environments before any event: %s", body)
	}

	captureExc(syncClient(t, s.DSN(ts.URL, "app"), "production", "v1"), "E", "x", "u", t0.Add(-2*time.Minute))
	resp, body = get(t, ts, testToken, stats)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/v1/deploys/", map[string]any{"environment": "canary"})
	mustStatus(t, resp, body, http.StatusCreated)
	resp, body = get(t, ts, testToken, envs)
	mustStatus(t, resp, body, http.StatusOK)
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 2 || list[0]["name"] != "canary" || list[1]["name"] != "production" || list[0]["id"] != "2" {
		t.Errorf("environments %s", body)
	}
	resp, body = get(t, ts, testToken, "/api/0/organizations/acme/environments/?visibility=some")
	mustStatus(t, resp, body, http.StatusBadRequest)
}
