package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the date test must not depend on the host's zoneinfo
)

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Vetspire Production!", "vetspire-production"},
		{"../etc", "etc"},
		{"", "deploy"},
		{".", "deploy"},
		{"..", "deploy"},
		{"!!!", "deploy"},
		{".hidden", "hidden"},
		{"a/b\\c", "a-b-c"},
		{"api_v2.1-canary", "api_v2.1-canary"},
		{"  EU   West  ", "eu-west"},
		{"Déploiement Été", "d-ploiement-t"},
		{"nul\x00byte", "nul-byte"},
		{strings.Repeat("x", 300), strings.Repeat("x", maxSlugLen)},
	} {
		got := Slug(tc.in)
		if got != tc.want {
			t.Errorf("Slug(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				t.Errorf("Slug(%q) = %q contains %q", tc.in, got, r)
			}
		}
	}
}

func TestPathStaysInStateDir(t *testing.T) {
	state := filepath.Join("srv", "flightdeck")
	day := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"../etc", "../../x", "/abs/path", "..", "a/../../b", ""} {
		p := Path(state, name, day)
		if got := filepath.Dir(filepath.Dir(p)); got != state {
			t.Errorf("Path(%q) = %q escapes the state dir", name, p)
		}
		if filepath.Base(p) != "2026-05-04.jsonl" {
			t.Errorf("Path(%q) = %q has the wrong file name", name, p)
		}
	}
	if got, want := Path(state, "Vetspire Production!", day), filepath.Join(state, "vetspire-production", "2026-05-04.jsonl"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestPathUsesDaysLocation(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	london, la := load("Europe/London"), load("America/Los_Angeles")
	for _, tc := range []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		// BST began at 01:00 UTC on Sunday 2026-03-29, so 23:30 UTC that
		// night is 00:30 on the 30th in London.
		{time.Date(2026, 3, 29, 23, 30, 0, 0, time.UTC), london, "2026-03-30"},
		{time.Date(2026, 3, 29, 23, 30, 0, 0, time.UTC), time.UTC, "2026-03-29"},
		// Still GMT: London and UTC agree.
		{time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC), london, "2026-03-28"},
		// PDT is UTC-7.
		{time.Date(2026, 3, 30, 3, 0, 0, 0, time.UTC), la, "2026-03-29"},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.FixedZone("UTC+2", 2*3600), "2027-01-01"},
	} {
		p := Path("state", "api", tc.at.In(tc.loc))
		if got := strings.TrimSuffix(filepath.Base(p), ".jsonl"); got != tc.want {
			t.Errorf("%v in %v: day %s, want %s", tc.at, tc.loc, got, tc.want)
		}
	}
}

func TestHistoryListsDeploysAndRehearsalsNewestFirst(t *testing.T) {
	state := t.TempDir()
	day := time.Date(2026, 11, 22, 9, 30, 5, 0, time.UTC)
	real1 := Path(state, "Acme deploy", day.AddDate(0, 0, -2))
	real2 := Path(state, "Acme deploy", day)
	reh := RehearsalPath(state, "Acme deploy", day.AddDate(0, 0, -1))
	if want := filepath.Join(state, "acme-deploy", "rehearsals", "2026-11-21T093005.jsonl"); reh != want {
		t.Fatalf("RehearsalPath = %s, want %s", reh, want)
	}
	other := Path(state, "Another deploy", day)
	for i, p := range []string{real1, reh, real2, other} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		mod := day.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	// A command run's output directory is not a journal.
	if err := os.MkdirAll(real2+".runs", 0o700); err != nil {
		t.Fatal(err)
	}
	got := History(state, "Acme deploy")
	want := []string{real2, reh, real1}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("History:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := History(t.TempDir(), "Acme deploy"); len(got) != 0 {
		t.Errorf("an empty state directory has journals: %v", got)
	}
}
