package sources

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The decoders read whatever a Sentry, a proxy in front of it or a broken
// self-hosted install sends back: they must fail with an error, never panic,
// and never hand the pane something that breaks its arithmetic.

func FuzzDecodeEventsStats(f *testing.F) {
	for _, seed := range []string{
		`{"data":[[1763892000,[{"count":3}]],[1763892060,[{"count":0}]]],"start":1763892000,"end":1763892120,"meta":{"fields":{"count()":"integer"}},"isMetricsData":false}`,
		`{"data":[[1763892000.0,[{"count":2.0},{"count":1}]]]}`,
		`{"data":[]}`,
		`{"data":[[1763892000,[]]]}`,
		`{"data":[[1763892000,[{"count":-5}]],[1763892000,[{"count":1e300}]]]}`,
		`{"data":[["x",[{"count":1}]]]}`,
		`{"count()":{"data":[[1,[{"count":1}]]],"order":0}}`,
		`{"detail":"Invalid query"}`,
		`[]`, `null`, ``, `{"data":[[1]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := decodeEventsStats(b)
		if err != nil {
			if pts != nil {
				t.Fatalf("points %v with error %v", pts, err)
			}
			return
		}
		for i, p := range pts {
			if p.Count < 0 {
				t.Fatalf("negative count %d", p.Count)
			}
			if i > 0 && !p.At.After(pts[i-1].At) {
				t.Fatalf("points out of order or repeated at %d: %v then %v", i, pts[i-1].At, p.At)
			}
		}
	})
}

func FuzzDecodeIssues(f *testing.F) {
	for _, seed := range []string{
		`[{"id":"1","shortId":"APP-1","title":"KeyError: key :clinic_id not found","culprit":"App.Appointments.schedule/2","level":"error","count":"412","userCount":23,"firstSeen":"2026-11-23T10:03:12.123456Z","lastSeen":"2026-11-23T10:09:00Z","project":{"id":"1","slug":"app"},"lifetime":{"count":"412","userCount":23,"firstSeen":"2026-11-23T10:03:12Z","lastSeen":null}}]`,
		`[{"id":"2","title":"x\ny","count":7,"userCount":"3","firstSeen":null,"firstRelease":{"version":"v2"}}]`,
		`[{"id":"3","count":"-1"}]`,
		`[{"id":"4","firstSeen":"yesterday"}]`,
		`[{"shortId":"APP-9"}]`,
		`[]`, `{}`, `null`, `[null]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		issues, err := decodeSentryIssues(b)
		if err != nil {
			return
		}
		for _, is := range issues {
			if is.ID == "" || is.ShortID == "" {
				t.Fatalf("issue without an id: %+v", is)
			}
			if is.Events < 0 || is.Users < 0 {
				t.Fatalf("negative counts: %+v", is)
			}
			if strings.ContainsAny(is.Title, "\n\r") {
				t.Fatalf("a title over several lines would break the pane's rows: %q", is.Title)
			}
			if !is.FirstSeen.IsZero() && is.FirstSeen.Location() != time.UTC {
				t.Fatalf("first seen not in UTC: %v", is.FirstSeen)
			}
		}
	})
}

func FuzzNextPage(f *testing.F) {
	for _, seed := range []string{
		`<https://sentry.io/api/0/organizations/acme/issues/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", <https://sentry.io/api/0/organizations/acme/issues/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"`,
		`<https://sentry.io/api/0/organizations/acme/projects/1/groups/?&cursor=1420837590:0:1>; rel="previous"; results="false", <https://sentry.io/api/0/organizations/acme/projects/1/groups/?&cursor=1420837533:0:0>; rel="next"; results="true"`,
		`<x>; rel="next"; results="false"; cursor="0:100:0"`,
		`<x>; rel=next; results=true; cursor=1:2:0`,
		`<?a=1,2&cursor=3>; rel="next"; title="a, b; c"`,
		``, `;;;,,,`, `<a,b>; rel="next"`, `<`, `<>;`, `<x>; rel="next"; cursor="\`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, link string) {
		q, ok := sentryNextPage(link)
		if ok != (q.Get("cursor") != "") {
			t.Fatalf("query %v, ok %v", q, ok)
		}
	})
}

func FuzzSentryDetail(f *testing.F) {
	for _, seed := range []string{
		`{"detail":"Invalid token"}`,
		`{"version":["Release with name latest is not allowed"],"projects":["This field is required."]}`,
		`{"detail":{"code":"x"}}`,
		`<html>502 Bad Gateway</html>`, ``,
		"{\"detail\":\"" + strings.Repeat("é", 300) + "\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := sentryDetail(b)
		if strings.ContainsAny(d, "\n\r") {
			t.Fatalf("detail over several lines: %q", d)
		}
		if utf8.Valid(b) && !utf8.ValidString(d) {
			t.Fatalf("clipping broke a character: %q", d)
		}
	})
}
