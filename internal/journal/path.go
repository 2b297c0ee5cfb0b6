package journal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maxSlugLen keeps the directory name well under the 255-byte limit most
// filesystems put on a single path component.
const maxSlugLen = 100

// Path returns <stateDir>/<deploy-slug>/<YYYY-MM-DD>.jsonl. The date is
// formatted in day's own location, so the caller decides which calendar day
// a deploy belongs to (usually the operator's local day).
func Path(stateDir, deploy string, day time.Time) string {
	return filepath.Join(stateDir, Slug(deploy), day.Format("2006-01-02")+".jsonl")
}

// RehearsalDir holds a deploy's rehearsal journals, beside its real ones.
const RehearsalDir = "rehearsals"

// RehearsalPath returns <stateDir>/<deploy-slug>/rehearsals/<YYYY-MM-DD>T<HHMMSS>.jsonl:
// a journal of its own for each rehearsal, so that one never resumes, nor
// counts as, the day's real deploy.
func RehearsalPath(stateDir, deploy string, at time.Time) string {
	return filepath.Join(stateDir, Slug(deploy), RehearsalDir, at.Format("2006-01-02T150405")+".jsonl")
}

// History lists the deploy's journals, real deploys' and rehearsals',
// newest first by their last write. A state directory without any gives
// none.
func History(stateDir, deploy string) []string {
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	dir := filepath.Join(stateDir, Slug(deploy))
	for _, pattern := range []string{filepath.Join(dir, "*.jsonl"), filepath.Join(dir, RehearsalDir, "*.jsonl")} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				files = append(files, file{p, fi.ModTime()})
			}
		}
	}
	slices.SortFunc(files, func(a, b file) int {
		if c := b.mod.Compare(a.mod); c != 0 {
			return c
		}
		return strings.Compare(b.path, a.path)
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out
}

// Slug turns a deploy name into a single, safe path component: lowercase
// [a-z0-9._-], any run of other characters becomes one '-'. Leading and
// trailing '-' and '.' are trimmed so the result is never hidden, never "."
// or "..", and never empty (an unusable name becomes "deploy").
func Slug(deploy string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(deploy) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
			dash = false
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.Trim(b.String(), "-.")
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-.")
	}
	if s == "" {
		return "deploy"
	}
	return s
}
