package snapshot

import "strings"

// QueryLine folds a query onto one line for a table cell or a preview:
// line comments go (a migration script starts with a screenful of them),
// whitespace runs become one space, and at most n runes are kept. Quoted
// text is left as it is.
func QueryLine(q string, n int) string {
	var b strings.Builder
	b.Grow(min(len(q), n*4))
	runes, space, cut := 0, false, false
	var quote rune
	rs := []rune(q)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		ctrl := IsControl(r)
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			if ctrl {
				// A literal may carry anything, terminal escapes included;
				// none of it reaches the shared screen.
				r = ' '
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			space = b.Len() > 0
			continue
		case r == ' ' || ctrl:
			space = b.Len() > 0
			continue
		}
		if runes+btoi(space)+1 > n {
			cut = true
			break
		}
		if space {
			b.WriteByte(' ')
			runes++
			space = false
		}
		b.WriteRune(r)
		runes++
	}
	if cut {
		return b.String() + "…"
	}
	return b.String()
}

// IsControl reports the runes a terminal acts on rather than shows: C0
// (newlines and ESC among them), DEL and C1.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
}

// Printable replaces every control rune but the newline with a space, for
// text from outside (a query, a title) shown as it is.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// OneLine folds a multi-line message (driver errors often are) onto one line
// so that it fits a status bar or a table cell.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
