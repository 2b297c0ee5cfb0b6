package snapshot

import (
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Preflight is the migrations' pre-flight: every pending statement with its
// verdict, production's figures and, after a dry run, what it really held on
// the clone.
type Preflight struct {
	// Origin says where the statements came from: the files, the command.
	Origin     string
	Statements []PreflightStatement
	// Err: the migrations could not be read. ParseErr says it is the SQL
	// itself that the parser refused (the migration cannot run as written).
	Err      string
	ParseErr bool
	// Target is the production target asked; ProductionErr why it could
	// not be, in which case verdicts that need it are unknown.
	Target        string
	ProductionErr string
	ProductionAt  time.Time
	Took          time.Duration
	// Measured is when a dry run's observations were taken, zero before
	// any.
	Measured time.Time
}

// PreflightStatement is one statement and its judgement, ready to show.
type PreflightStatement struct {
	Where       string `json:"where"` // file:line
	SQL         string `json:"sql"`
	Kind        string `json:"kind"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Locks is the prediction: "ACCESS EXCLUSIVE on appointments".
	Locks    string             `json:"locks,omitempty"`
	Rewrites bool               `json:"rewrites,omitempty"`
	Scans    bool               `json:"scans,omitempty"`
	Verdict  string             `json:"verdict"` // ok, warn, block, unknown
	Findings []PreflightFinding `json:"findings,omitempty"`
	// Figures is production's account of what the statement touches.
	Figures string `json:"figures,omitempty"`
	// Observed is what it held on the clone: "ACCESS EXCLUSIVE on
	// public.appointments 3.2s"; ObservedErr what went wrong there.
	Observed    string        `json:"observed,omitempty"`
	ObservedErr string        `json:"observed_err,omitempty"`
	Took        time.Duration `json:"-"`
}

// PreflightFinding is one hazard of a statement.
type PreflightFinding struct {
	Code    string `json:"code"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Fix     string `json:"fix,omitempty"`
}

// Verdicts of a statement, as PreflightStatement.Verdict spells them.
const (
	VerdictOK      = "ok"
	VerdictWarn    = "warn"
	VerdictBlock   = "block"
	VerdictUnknown = "unknown"
)

// Count is how many statements have the verdict.
func (p Preflight) Count(verdict string) int {
	n := 0
	for _, s := range p.Statements {
		if s.Verdict == verdict {
			n++
		}
	}
	return n
}

// Summary is the pre-flight in a few words: "6 statements: 4 block, 2 ok".
func (p Preflight) Summary() string {
	switch {
	case p.Err != "":
		return "migrations unreadable: " + OneLine(p.Err)
	case len(p.Statements) == 0:
		return "no pending migrations"
	}
	s := fmt.Sprintf("%d statement%s:", len(p.Statements), plural(len(p.Statements)))
	sep := " "
	for _, v := range []string{VerdictBlock, VerdictUnknown, VerdictWarn, VerdictOK} {
		if n := p.Count(v); n > 0 {
			s += fmt.Sprintf("%s%d %s", sep, n, v)
			sep = ", "
		}
	}
	return s
}

// Facts publishes migrations.safe. A migration the parser refuses is not
// safe: it fails as written. One that cannot be read (a failing command)
// or judged (production down) is unknown: nobody can vouch for it.
func (p Preflight) Facts() gates.Facts {
	f := gates.Fact{Known: true, Bool: true, Detail: p.Summary()}
	switch {
	case p.Err != "" && p.ParseErr:
		f.Bool = false
	case p.Err != "":
		f = gates.Fact{Detail: p.Summary()}
	case p.Count(VerdictBlock) > 0:
		f.Bool = false
	case p.Count(VerdictUnknown) > 0:
		f = gates.Fact{Detail: fmt.Sprintf("%s (production %s: %s)", p.Summary(), p.Target, OneLine(p.ProductionErr))}
	}
	return gates.Facts{"migrations.safe": f}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
