package sentrystub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestMissingTrailingSlashAsSentrysCatchall follows getsentry/sentry
// src/sentry/api/endpoints/catchall.py: every route ends in a slash, and a
// path without one is answered 404 by the catch-all, in plain text with a
// caret under the missing slash, or as {"info": ...} when the request was
// JSON. It is never redirected or served.
func TestMissingTrailingSlashAsSentrysCatchall(t *testing.T) {
	_, ts, _ := newStub(t, Options{})
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/issues")
	mustStatus(t, resp, body, http.StatusNotFound)
	want := "Route not found, did you forget a trailing slash?\n\n" +
		"try: /api/0/organizations/acme/issues/\n" +
		strings.Repeat(" ", len("try: /api/0/organizations/acme/issues/")-1) + "^\n"
	if string(body) != want || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("GET without the slash: %q (%s), want %q", body, resp.Header.Get("Content-Type"), want)
	}

	resp, body = do(t, ts, testToken, http.MethodPost, "/api/0/organizations/acme/releases", map[string]any{"version": "v1", "projects": []string{"app"}})
	mustStatus(t, resp, body, http.StatusNotFound)
	var info map[string]string
	if err := json.Unmarshal(body, &info); err != nil || info["info"] != "Route not found, did you forget a trailing slash? try: /api/0/organizations/acme/releases/" {
		t.Errorf("JSON POST without the slash: %s", body)
	}

	// A route is the whole path: nothing below a known one matches it.
	for _, p := range []string{"/api/0/organizations/acme/nothing/", "/api/0/organizations/acme/issues/1/extra/"} {
		resp, body = get(t, ts, testToken, p)
		mustStatus(t, resp, body, http.StatusNotFound)
		if len(body) != 0 {
			t.Errorf("%s: body %q, want the catch-all's empty 404", p, body)
		}
	}
}
