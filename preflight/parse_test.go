package preflight

import (
	"errors"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestParse(t *testing.T) {
	type want struct {
		line int
		sql  string
	}
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{"empty", "", nil},
		{"only comments", "-- nothing yet\n\n/* still\n nothing */\n", nil},
		{"one without semicolon", "SELECT 1", []want{{1, "SELECT 1"}}},
		{
			"comments and blank lines belong to no statement",
			"-- add the reminder\n\nSET lock_timeout = '2s';\n\n-- the column\n/* block\n comment */\nALTER TABLE appointments ADD COLUMN reminder_sent_at timestamptz;\n",
			[]want{{3, "SET lock_timeout = '2s'"}, {8, "ALTER TABLE appointments ADD COLUMN reminder_sent_at timestamptz"}},
		},
		{
			"two on one line",
			"SET lock_timeout = '2s'; SET statement_timeout = 0;",
			[]want{{1, "SET lock_timeout = '2s'"}, {1, "SET statement_timeout = 0"}},
		},
		{
			"multi-line statement keeps its inner comment",
			"\n\nCREATE INDEX CONCURRENTLY appointments_status_idx\n  -- the dashboard filters on it\n  ON appointments (status);\n",
			[]want{{3, "CREATE INDEX CONCURRENTLY appointments_status_idx\n  -- the dashboard filters on it\n  ON appointments (status)"}},
		},
		{
			"dollar-quoted body with semicolons",
			"CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n\nCREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments\n  FOR EACH ROW EXECUTE FUNCTION touch();\n",
			[]want{
				{1, "CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql"},
				{8, "CREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments\n  FOR EACH ROW EXECUTE FUNCTION touch()"},
			},
		},
		{
			"semicolons in strings and quoted names",
			"INSERT INTO notes (body) VALUES ('a; b');\nSELECT \"odd;name\" FROM t;",
			[]want{{1, "INSERT INTO notes (body) VALUES ('a; b')"}, {2, "SELECT \"odd;name\" FROM t"}},
		},
		{
			"comment after the last statement, no semicolon",
			"SELECT 1;\nSELECT 2 -- the end\n-- really\n",
			[]want{{1, "SELECT 1"}, {2, "SELECT 2"}},
		},
		{
			"comment before the semicolon",
			"UPDATE t SET a = 1 WHERE id = 2 -- one row\n;\nCOMMIT;",
			[]want{{1, "UPDATE t SET a = 1 WHERE id = 2"}, {3, "COMMIT"}},
		},
		{
			"non-ASCII text before a statement",
			"-- réglage du délai ⏱\nCOMMENT ON TABLE t IS 'café';\nSELECT 1;",
			[]want{{2, "COMMENT ON TABLE t IS 'café'"}, {3, "SELECT 1"}},
		},
		{
			"CRLF line ends",
			"SET lock_timeout = '2s';\r\n\r\nSELECT 1;\r\n",
			[]want{{1, "SET lock_timeout = '2s'"}, {3, "SELECT 1"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse("m.sql", c.src)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d statements, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.File != "m.sql" || g.Line != w.line || g.SQL != w.sql {
					t.Errorf("statement %d = %s %q, want m.sql:%d %q", i, g.Where(), g.SQL, w.line, w.sql)
				}
				fp, err := pg_query.Fingerprint(w.sql)
				if err != nil || g.Fingerprint != fp || fp == "" {
					t.Errorf("statement %d fingerprint %q, want %q (%v)", i, g.Fingerprint, fp, err)
				}
			}
		})
	}
}

// A statement as pg_stat_activity shows it, with other constants and
// spacing, has the fingerprint of the statement as written.
func TestParseFingerprintMatchesActivity(t *testing.T) {
	got, err := Parse("m.sql", "-- x\nUPDATE appointments SET status = 'done' WHERE id = 7;")
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := pg_query.Fingerprint("update appointments   set status = $1 where id = $2")
	if got[0].Fingerprint != fp {
		t.Errorf("fingerprint %s, want %s", got[0].Fingerprint, fp)
	}
}

func TestParseError(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		message   string
	}{
		{"line 3", "SET lock_timeout = '2s';\n\nCREATE TABL appointments (id int);\n", 3, `syntax error at or near "TABL"`},
		{"first line", "ALTER TABLE;", 1, `syntax error at or near ";"`},
		{
			// The cursor counts characters: read as a byte offset it would
			// land among the 40 two-byte letters of line 1.
			"non-ASCII before the error",
			"COMMENT ON TABLE t IS '" + strings.Repeat("é", 40) + "';\nCREATE TABL x (id int);\nSELECT 1;\nSELECT 2;\n",
			2, `syntax error at or near "TABL"`,
		},
		{"unterminated string", "SELECT 1;\n\nSELECT 'never closed;\nSELECT 2;\n", 3, `unterminated quoted string at or near "'never closed;`},
		{"end of input", "SELECT 1;\nSELECT (\n\n", 2, "syntax error at end of input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("db/migrate/42_reminders.sql", c.src)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if pe.File != "db/migrate/42_reminders.sql" || pe.Line != c.line || !strings.HasPrefix(pe.Message, c.message) {
				t.Errorf("got %s:%d %q, want line %d %q", pe.File, pe.Line, pe.Message, c.line, c.message)
			}
			if want := "db/migrate/42_reminders.sql:" + itoa(c.line) + ": "; !strings.HasPrefix(pe.Error(), want) {
				t.Errorf("Error() = %q, want it to start %q", pe.Error(), want)
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}
