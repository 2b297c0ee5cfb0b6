package sentrystub

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestIDsAndCountsAreTheSchemasTypes: the JSON types sentry-api-schema
// (openapi-derefed.json) gives the fields a client reads. listOrganization
// Issues: id, project.id and count are strings, userCount a number (its
// example: "count": "150"); listOrganizationProjects: id a string;
// createOrganizationRelease: id a number; the deploy serializer: id a
// string.
func TestIDsAndCountsAreTheSchemasTypes(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	captureExc(syncClient(t, s.DSN(ts.URL, "app"), "production", "v1"), "E", "x", "u", t0.Add(-2*time.Minute))
	decode := func(path string, method string, body any) any {
		t.Helper()
		resp, b := do(t, ts, testToken, method, path, body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	is := decode("/api/0/organizations/acme/issues/?"+url.Values{"query": {""}}.Encode(), http.MethodGet, nil).([]any)[0].(map[string]any)
	for _, k := range []string{"id", "count"} {
		if _, ok := is[k].(string); !ok {
			t.Errorf("issue %s = %#v, want a string", k, is[k])
		}
	}
	if _, ok := is["userCount"].(float64); !ok {
		t.Errorf("issue userCount = %#v, want a number", is["userCount"])
	}
	if _, ok := is["project"].(map[string]any)["id"].(string); !ok {
		t.Errorf("issue project.id = %#v, want a string", is["project"])
	}
	p := decode("/api/0/organizations/acme/projects/", http.MethodGet, nil).([]any)[0].(map[string]any)
	if _, ok := p["id"].(string); !ok {
		t.Errorf("project id = %#v, want a string", p["id"])
	}
	r := decode("/api/0/organizations/acme/releases/", http.MethodPost, map[string]any{"version": "v2", "projects": []string{"app"}}).(map[string]any)
	if _, ok := r["id"].(float64); !ok {
		t.Errorf("release id = %#v, want a number", r["id"])
	}
	d := decode("/api/0/organizations/acme/releases/v2/deploys/", http.MethodPost, map[string]any{"environment": "production"}).(map[string]any)
	if _, ok := d["id"].(string); !ok {
		t.Errorf("deploy id = %#v, want a string", d["id"])
	}
}
