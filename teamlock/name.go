package teamlock

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxName keeps the Lease's name a DNS-1123 label, not merely a subdomain:
// the strictest rule a name could meet, so it also works as a label value
// or in a field selector.
const maxName = 63

// LeaseName is the Lease of one deploy and environment:
// "Acme sandbox deploy" in "production" is
// "flightdeck-acme-sandbox-deploy-production". A name too long for a label
// is cut and ends with a hash of the whole, so two long deploy names that
// share a beginning never share a lock.
func LeaseName(deploy, environment string) string {
	s := strings.TrimRight(slug(deploy+" "+environment), "-")
	sum := sha256.Sum256([]byte(deploy + "\x00" + environment))
	hash := hex.EncodeToString(sum[:])[:8]
	if s == "" {
		// Nothing of the names survives in a label (all non-ASCII, say):
		// the hash alone tells deploys apart.
		return "flightdeck-" + hash
	}
	name := "flightdeck-" + s
	if len(name) <= maxName {
		return name
	}
	return strings.TrimRight(name[:maxName-len(hash)-1], "-") + "-" + hash
}

// slug lowers s and turns every run of characters a DNS label cannot hold
// into one hyphen.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String()
}
