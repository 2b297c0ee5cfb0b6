package sentrystub

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Cursors have Sentry's "value:offset:is_prev" form (Cursor in
// src/sentry/utils/cursors.py). The stand-in pages by offset alone (value is
// always 0), which Sentry's own offset paginator also does; pages can shift
// if issues arrive between requests, as they can in Sentry.
func cursorOffset(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	parts := strings.Split(c, ":")
	if len(parts) != 3 {
		return 0, badRequest("Invalid cursor parameter.")
	}
	off, err := strconv.Atoi(parts[1])
	if err != nil || off < 0 {
		return 0, badRequest("Invalid cursor parameter.")
	}
	if _, err := strconv.ParseFloat(parts[0], 64); err != nil {
		return 0, badRequest("Invalid cursor parameter.")
	}
	return off, nil
}

// cursorLink is CURSOR_LINK_HEADER of src/sentry/api/base.py.
const cursorLink = `<%s&cursor=%s>; rel="%s"; results="%t"; cursor="%s"`

// setPageHeaders writes the Link header exactly as Sentry's
// Endpoint.build_cursor_link does: the absolute URL of the request's path
// (quoted as Django's urlquote does), "?" and the request's query in the
// order it came, less the cursor, each pair encoded as Python's urlencode
// does; then "&cursor=" and the cursor, previous first, next second, each
// with results and the cursor again as attributes. Sentry's pagination doc
// shows an older form without the cursor attribute, and a client must cope
// with both. hits adds X-Hits and X-Max-Hits, which only the paginators
// that count (the issues search) send.
func setPageHeaders(w http.ResponseWriter, r *http.Request, offset, limit, total int, hits bool) {
	base := baseURL(r) + pyQuote(r.URL.Path) + "?" + queryWithoutCursor(r.URL.RawQuery)
	prev := fmt.Sprintf("0:%d:1", max(offset-limit, 0))
	next := fmt.Sprintf("0:%d:0", offset+limit)
	w.Header().Set("Link",
		fmt.Sprintf(cursorLink, base, prev, "previous", offset > 0, prev)+", "+
			fmt.Sprintf(cursorLink, base, next, "next", offset+limit < total, next))
	if hits {
		w.Header().Set("X-Hits", strconv.Itoa(total))
		w.Header().Set("X-Max-Hits", strconv.Itoa(total))
	}
}

// queryWithoutCursor re-encodes a raw query as Django's
// QueryDict.urlencode does, keeping the order and leaving out the cursor.
// Python's quote_plus and Go's QueryEscape escape the same bytes.
func queryWithoutCursor(raw string) string {
	var parts []string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		if k == "cursor" {
			continue
		}
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}

// pyQuote is Python's urllib.parse.quote with safe="/": every byte but
// letters, digits, "_.-~" and "/" percent-encoded.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '_', c == '.', c == '-', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
