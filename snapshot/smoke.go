package snapshot

import (
	"fmt"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Smoke is the last run of every [[smoke]] check. The checks run from the
// deploy's start on: before it, what production answers says nothing about
// the deploy.
type Smoke struct {
	Checks  []SmokeCheck
	Started time.Time // the deploy's start; zero until the deploy started
}

// SmokeCheck is one [[smoke]] check as last run.
type SmokeCheck struct {
	Name string
	URL  string // without credentials or query values: it is shown to the huddle
	Want int    // the expected status

	Runs    int           // runs since the deploy started
	At      time.Time     // when the last run started
	Status  int           // the last status; 0 when nothing answered
	Latency time.Duration // of the last run, until the body was read
	Passing bool

	// Failures counts the failed runs in a row, Since is when the first
	// of them ran; both zero while passing.
	Failures int
	Since    time.Time
	// Last is the most recent failure, kept after the check passes again
	// so a flap is not forgotten.
	Last SmokeFailure
}

// SmokeFailure is one failed run.
type SmokeFailure struct {
	At  time.Time // zero: never failed
	Why string    // "503, want 200", "body does not match `…`", "timeout after 5s", "connection refused"
}

// Waiting reports whether the checks wait for the deploy to start.
func (s Smoke) Waiting() bool { return s.Started.IsZero() }

// Failing lists the checks whose last run failed.
func (s Smoke) Failing() []SmokeCheck {
	var out []SmokeCheck
	for _, c := range s.Checks {
		if c.Runs > 0 && !c.Passing {
			out = append(out, c)
		}
	}
	return out
}

// Facts gives smoke.passing. It stays unknown until every check has run
// since the deploy started: a gate must not pass on checks that never ran.
func (s Smoke) Facts() gates.Facts {
	return gates.Facts{"smoke.passing": s.passing()}
}

func (s Smoke) passing() gates.Fact {
	switch {
	case len(s.Checks) == 0:
		return gates.Fact{Detail: "no [[smoke]] checks"}
	case s.Waiting():
		return gates.Fact{Detail: "waits for the deploy to start"}
	}
	var unrun []string
	for _, c := range s.Checks {
		if c.Runs == 0 {
			unrun = append(unrun, c.Name)
		}
	}
	if len(unrun) > 0 {
		return gates.Fact{Detail: "not run yet: " + strings.Join(unrun, ", ")}
	}
	if failing := s.Failing(); len(failing) > 0 {
		parts := make([]string, len(failing))
		for i, c := range failing {
			parts[i] = c.Name + " (" + c.Last.Why + ")"
		}
		return gates.Fact{Known: true, Detail: "failing: " + strings.Join(parts, ", ")}
	}
	n := len(s.Checks)
	if n == 1 {
		return gates.Fact{Known: true, Bool: true, Detail: "1 check passing"}
	}
	return gates.Fact{Known: true, Bool: true, Detail: fmt.Sprintf("%d checks passing", n)}
}
