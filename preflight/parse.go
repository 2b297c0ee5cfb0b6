package preflight

import (
	"errors"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// Parse splits a migration into its statements with the Postgres parser
// itself, so a semicolon inside a string, a comment or a dollar-quoted
// function body never splits a statement. SQL the parser refuses is a
// *ParseError placed on the line of the parser's cursor.
func Parse(file, sql string) ([]Statement, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, parseError(file, sql, err)
	}
	if len(tree.Stmts) == 0 {
		return nil, nil
	}
	// The parser's statement boundaries run from just after the previous
	// semicolon, so they take in the comments and blank lines before a
	// statement (and, for the last one, after it). The scanner's tokens
	// tell comments from code, which is what places a statement on the
	// line its first real token starts.
	scan, err := pg_query.Scan(sql)
	if err != nil {
		return nil, parseError(file, sql, err)
	}
	toks := scan.Tokens

	out := make([]Statement, 0, len(tree.Stmts))
	line, lineAt := 1, 0 // line counting resumes where the last statement began
	t := 0
	for _, raw := range tree.Stmts {
		from := int(raw.StmtLocation)
		to := len(sql)
		if raw.StmtLen > 0 {
			to = from + int(raw.StmtLen)
		}
		first, last := -1, -1
		for ; t < len(toks) && int(toks[t].Start) < to; t++ {
			tk := toks[t]
			if int(tk.Start) < from || isComment(tk.Token) {
				continue
			}
			if first < 0 {
				first = int(tk.Start)
			}
			last = int(tk.End)
		}
		if first < 0 {
			continue
		}
		line += strings.Count(sql[lineAt:first], "\n")
		lineAt = first
		text := strings.TrimSpace(sql[first:last])
		fp, err := pg_query.Fingerprint(text)
		if err != nil {
			return nil, &ParseError{File: file, Line: line, Message: err.Error()}
		}
		out = append(out, Statement{File: file, Line: line, SQL: text, Fingerprint: fp})
	}
	return out, nil
}

func isComment(t pg_query.Token) bool {
	return t == pg_query.Token_SQL_COMMENT || t == pg_query.Token_C_COMMENT
}

func parseError(file, sql string, err error) error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		return &ParseError{File: file, Line: 1, Message: err.Error()}
	}
	return &ParseError{File: file, Line: cursorLine(sql, pe.Cursorpos), Message: pe.Message}
}

// cursorLine is the line of the parser's 1-based cursor, which counts
// characters, not bytes: read as a byte offset, UTF-8 text before an error
// would move it up the file. An error at the end of the input points past the last
// character; it belongs to the last line that has text.
func cursorLine(sql string, cursor int) int {
	at := len(sql)
	n := 0
	for i := range sql {
		if n == cursor-1 {
			at = i
			break
		}
		n++
	}
	if cursor < 1 || at == len(sql) {
		at = len(strings.TrimRight(sql, " \t\r\n"))
	}
	return strings.Count(sql[:at], "\n") + 1
}
