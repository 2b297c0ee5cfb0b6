package journal

import (
	"path/filepath"
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
