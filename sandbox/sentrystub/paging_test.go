package sentrystub

import (
	"fmt"
	"net/http"
	"testing"
)

// TestLinkHeaderAsSentrysBuildCursorLink: the Link header exactly as
// getsentry/sentry src/sentry/api/base.py writes it (CURSOR_LINK_HEADER,
// Endpoint.build_cursor_link): the request's absolute URL, the query in the
// order sent without the cursor and encoded as Python's urlencode does,
// "&cursor=" and the cursor, then rel, results and the cursor again;
// previous before next. The form the pagination doc
// (docs.sentry.io/api/pagination/) describes, results="true|false" included.
func TestLinkHeaderAsSentrysBuildCursorLink(t *testing.T) {
	s, ts, _ := newStub(t, Options{})
	c := syncClient(t, s.DSN(ts.URL, "app"), "production", "v1")
	for i := 0; i < 3; i++ {
		captureExc(c, fmt.Sprintf("Error%d", i), "boom", "u", t0.Add(-1*60e9))
	}
	base := ts.URL + "/api/0/organizations/acme/issues/"
	for _, tc := range []struct {
		path, want string
	}{
		{"/api/0/organizations/acme/issues/?statsPeriod=1h&query=is:unresolved%20firstSeen:-1h&limit=2&cursor=0:2:0&project=1",
			`<` + base + `?statsPeriod=1h&query=is%3Aunresolved+firstSeen%3A-1h&limit=2&project=1&cursor=0:0:1>; rel="previous"; results="true"; cursor="0:0:1", ` +
				`<` + base + `?statsPeriod=1h&query=is%3Aunresolved+firstSeen%3A-1h&limit=2&project=1&cursor=0:4:0>; rel="next"; results="false"; cursor="0:4:0"`},
		// No query: "?&cursor=", as in the pagination doc's examples.
		{"/api/0/organizations/acme/issues/",
			`<` + base + `?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", ` +
				`<` + base + `?&cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"`},
	} {
		resp, body := get(t, ts, testToken, tc.path)
		mustStatus(t, resp, body, http.StatusOK)
		if got := resp.Header.Get("Link"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.path, got, tc.want)
		}
	}

	// The path is quoted as urlquote does: "@" in a release version too.
	s.mu.Lock()
	s.ensureRelease("app@2.4.0", t0).projects[1] = true
	s.mu.Unlock()
	resp, body := get(t, ts, testToken, "/api/0/organizations/acme/releases/app@2.4.0/deploys/")
	mustStatus(t, resp, body, http.StatusOK)
	want := `<` + ts.URL + `/api/0/organizations/acme/releases/app%402.4.0/deploys/?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", ` +
		`<` + ts.URL + `/api/0/organizations/acme/releases/app%402.4.0/deploys/?&cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"`
	if got := resp.Header.Get("Link"); got != want {
		t.Errorf("deploys:\n got %s\nwant %s", got, want)
	}
	if resp.Header.Get("X-Hits") != "" {
		t.Errorf("X-Hits %q from the offset paginator, which counts nothing", resp.Header.Get("X-Hits"))
	}
}
