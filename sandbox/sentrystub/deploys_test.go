package sentrystub

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestDeployListIsLatestPerEnvironment follows getsentry/sentry
// src/sentry/releases/endpoints/release_deploys.py: GET lists the deploys
// that some ReleaseProjectEnvironment names as its last_deploy_id, so the
// newest deploy per project and environment and not every deploy, ordered
// by -date_finished; the release's lastDeploy is the deploy created last.
// Field types are the schema's DeployResponseSerializer (listOrganization
// ReleaseDeploys in sentry-api-schema): id a string, name and url nullable.
func TestDeployListIsLatestPerEnvironment(t *testing.T) {
	_, ts, clk := newStub(t, Options{Projects: []Project{{ID: 1, Slug: "app"}, {ID: 2, Slug: "worker"}}})
	const rel = "/api/0/organizations/acme/releases/"
	deploys := rel + "2026.11.22/deploys/"
	resp, body := do(t, ts, testToken, http.MethodPost, rel, map[string]any{"version": "2026.11.22", "projects": []string{"app", "worker"}})
	mustStatus(t, resp, body, http.StatusCreated)

	post := func(env, name string, projects ...string) string {
		t.Helper()
		b := map[string]any{"environment": env, "name": name}
		if projects != nil {
			b["projects"] = projects
		}
		resp, body := do(t, ts, testToken, http.MethodPost, deploys, b)
		mustStatus(t, resp, body, http.StatusCreated)
		var d struct{ ID string }
		if err := json.Unmarshal(body, &d); err != nil || d.ID == "" {
			t.Fatalf("deploy %s", body)
		}
		clk.Add(time.Minute)
		return d.ID
	}
	post("production", "start")
	post("production", "rollback")
	finish := post("production", "finish", "app")
	staging := post("staging", "staging")

	type listed struct {
		ID, Environment string
		Name, URL       *string
	}
	list := func(q string) []listed {
		t.Helper()
		resp, body := get(t, ts, testToken, deploys+q)
		mustStatus(t, resp, body, http.StatusOK)
		var out []listed
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return out
	}
	// app: production's last is "finish"; worker: production's last is
	// "rollback" ("finish" named app only); both: staging.
	got := list("")
	var names []string
	for _, d := range got {
		names = append(names, *d.Name)
	}
	if len(got) != 3 || names[0] != "staging" || names[1] != "finish" || names[2] != "rollback" || got[1].ID != finish || got[0].ID != staging {
		t.Errorf("deploys %v (%+v), want staging, finish, rollback", names, got)
	}
	if got[0].URL != nil {
		t.Errorf("url %q, want null", *got[0].URL)
	}
	// The project filter narrows which projects' last deploys count.
	if got := list("?project=1"); len(got) != 2 || *got[1].Name != "finish" {
		t.Errorf("app's deploys %+v", got)
	}

	resp, body = get(t, ts, testToken, rel+"2026.11.22/")
	mustStatus(t, resp, body, http.StatusOK)
	var r struct {
		DeployCount int `json:"deployCount"`
		LastDeploy  struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"lastDeploy"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.DeployCount != 4 || r.LastDeploy.ID != staging {
		t.Errorf("release %s", body)
	}
}

// TestDeployRefusalsAsSentryAnswersThem: DeploySerializer's field errors
// (the REST framework's field map, list items keyed by index) and
// create_deploy's ParameterValidationError, rendered by SentryAPIException
// as {"detail": {"code", "message", "extra"}} (getsentry/sentry
// src/sentry/releases/endpoints/release_deploys.py, src/sentry/api/
// exceptions.py).
func TestDeployRefusalsAsSentryAnswersThem(t *testing.T) {
	_, ts, _ := newStub(t, Options{Projects: []Project{{ID: 1, Slug: "app"}, {ID: 2, Slug: "worker"}}})
	resp, body := do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases/", map[string]any{"version": "v1", "projects": []string{"app"}})
	mustStatus(t, resp, body, http.StatusCreated)
	const deploys = "/api/0/organizations/acme/releases/v1/deploys/"
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"environment": "prod/eu"}, `{"environment":["Invalid value for environment"]}`},
		{map[string]any{"environment": "production", "projects": []string{"app", "nope"}}, `{"projects":{"1":["Invalid project"]}}`},
		{map[string]any{"environment": "production", "projects": []string{}}, `{"projects":["This list may not be empty."]}`},
		{map[string]any{"environment": "production", "projects": []string{"worker"}},
			`{"detail":{"code":"parameter-validation-error","extra":{"context":""},"message":"Invalid projects (worker) for release v1"}}`},
	} {
		resp, body := do(t, ts, testToken, http.MethodPost, deploys, tc.body)
		mustStatus(t, resp, body, http.StatusBadRequest)
		var got any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		norm, _ := json.Marshal(got)
		if string(norm) != tc.want {
			t.Errorf("%v: %s, want %s", tc.body, norm, tc.want)
		}
	}
}
