package snapshot

import (
	"strings"
	"testing"
)

func TestPreflightGate(t *testing.T) {
	st := func(verdicts ...string) []PreflightStatement {
		var out []PreflightStatement
		for _, v := range verdicts {
			out = append(out, PreflightStatement{Verdict: v})
		}
		return out
	}
	for _, c := range []struct {
		name        string
		p           Preflight
		known, pass bool
		detail      string
	}{
		{"all ok", Preflight{Statements: st("ok", "ok")}, true, true, "2 statements: 2 ok"},
		{"a warning passes", Preflight{Statements: st("ok", "warn")}, true, true, "1 warn, 1 ok"},
		{"a block fails", Preflight{Statements: st("block", "ok", "warn", "block")}, true, false, "4 statements: 2 block, 1 warn, 1 ok"},
		{"unknown is never ok", Preflight{Target: "production", ProductionErr: "connection refused", Statements: st("ok", "unknown")}, false, false, "production production: connection refused"},
		{"a block beats unknown", Preflight{ProductionErr: "down", Statements: st("block", "unknown")}, true, false, "1 block, 1 unknown"},
		{"SQL that does not parse fails", Preflight{Err: `m.sql:3: syntax error at or near "TABL"`, ParseErr: true}, true, false, "m.sql:3"},
		{"a failing command is unknown", Preflight{Err: "migrations command failed"}, false, false, "migrations unreadable"},
		{"nothing pending passes", Preflight{}, true, true, "no pending migrations"},
	} {
		f := c.p.Facts()["migrations.safe"]
		if f.Known != c.known || (c.known && f.Bool != c.pass) || !strings.Contains(f.Detail, c.detail) {
			t.Errorf("%s: %+v, want known %v pass %v detail with %q", c.name, f, c.known, c.pass, c.detail)
		}
	}
}
