// Package gates defines the checks a runbook step can wait on: named
// predicates over live facts ("rollout.complete", "locks.max_wait < 30s"),
// how they are written in config, and how they are judged against the latest
// facts the sources have gathered.
//
// The package is pure: sources fill a Facts map, the runbook evaluates
// expressions against it. Nothing here does I/O.
package gates

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is what a gate's fact holds, and so how the gate is written.
type Type int

const (
	// Bool gates are written bare: "rollout.complete".
	Bool Type = iota
	// Duration gates compare against a duration: "locks.max_wait < 30s".
	Duration
	// Number gates compare against a number: "db.long_running_queries == 0".
	Number
)

func (t Type) String() string {
	switch t {
	case Bool:
		return "bool"
	case Duration:
		return "duration"
	case Number:
		return "number"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Spec describes one gate the cockpit understands.
type Spec struct {
	Name string
	Type Type
	// Source is the config section whose source feeds the fact: "kubernetes",
	// "postgres", "jira", "sentry" or "git". A gate is only usable when that
	// section is configured.
	Source string
	Doc    string
}

// Known lists every gate, grouped by source. Sources publish facts under
// exactly these names.
var Known = []Spec{
	{Name: "rollout.complete", Type: Bool, Source: "kubernetes",
		Doc: "every watched deployment has finished its rollout: updated, available and ready replicas match the spec"},
	{Name: "rollout.no_crashloops", Type: Bool, Source: "kubernetes",
		Doc: "no container of a watched deployment is in CrashLoopBackOff, ImagePullBackOff or ErrImagePull"},
	{Name: "rollout.old_pods_gone", Type: Bool, Source: "kubernetes",
		Doc: "no pods of old ReplicaSets remain, and none were removed before the new ones were ready"},
	{Name: "locks.max_wait", Type: Duration, Source: "postgres",
		Doc: "the longest time any backend is currently waiting for a lock"},
	{Name: "locks.max_hold", Type: Duration, Source: "postgres",
		Doc: "the longest time a heavy lock (ACCESS EXCLUSIVE, EXCLUSIVE, SHARE ROW EXCLUSIVE) has been held"},
	{Name: "locks.root_blocker_age", Type: Duration, Source: "postgres",
		Doc: "age of the transaction of the oldest root blocker: a backend that blocks others while waiting on no one; 0 when nothing is blocked"},
	{Name: "db.long_running_queries", Type: Number, Source: "postgres",
		Doc: "number of active queries running longer than [postgres] long_query"},
	{Name: "sentry.no_spike", Type: Bool, Source: "sentry",
		Doc: "the error rate has not exceeded spike_factor times its baseline (and spike_floor) for spike_intervals one-minute intervals in a row"},
	{Name: "sentry.no_new_issues", Type: Bool, Source: "sentry",
		Doc: "no issue first seen since the deploy started, other than those matched by ignore"},
	{Name: "jira.columns_clean", Type: Bool, Source: "jira",
		Doc: "every card satisfies the merged_to / not_merged_to / check_release / no_blockers rules of its column"},
	{Name: "smoke.passing", Type: Bool, Source: "smoke",
		Doc: "every [[smoke]] check passed its last run (expected status, body matching), run continuously from the deploy's start"},
	{Name: "migrations.safe", Type: Bool, Source: "migrations",
		Doc: "the pre-flight blocks no statement of the pending migrations: each was parsed, judged for the lock it takes and whether it rewrites or scans its table, and joined with production's figures; unknown while production cannot be read"},
	{Name: "git.branches_in_sync", Type: Bool, Source: "git",
		Doc: "each local branch matches its remote, and every branch is merged into the one before it (production into staging into master)"},
}

// Lookup returns the spec of a known gate.
func Lookup(name string) (Spec, bool) {
	for _, s := range Known {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names returns the names of all known gates, in the order of Known.
func Names() []string {
	names := make([]string, len(Known))
	for i, s := range Known {
		names[i] = s.Name
	}
	return names
}

// Op is a comparison operator.
type Op string

const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

// Longest first, so that "<=" is not read as "<" followed by "=".
var ops = []Op{LessEqual, GreaterEqual, Equal, NotEqual, Less, Greater}

// Expr is a parsed gate expression.
type Expr struct {
	Raw      string // as written in config
	Name     string
	Op       Op // empty for a bool gate
	Duration time.Duration
	Number   float64
}

// IsZero reports whether e is the zero Expr, as on a step without a gate.
func (e Expr) IsZero() bool { return e.Name == "" }

// String renders e canonically: "locks.max_wait < 30s".
func (e Expr) String() string {
	if e.Op == "" {
		return e.Name
	}
	return e.Name + " " + string(e.Op) + " " + e.limit()
}

func (e Expr) limit() string {
	if s, ok := Lookup(e.Name); ok && s.Type == Duration {
		return FormatDuration(e.Duration)
	}
	return formatNumber(e.Number)
}

// Parse parses a gate as written in config: "rollout.complete",
// "locks.max_wait < 30s", "db.long_running_queries==0". Errors are plain
// sentences meant to be prefixed with a file:line by the caller.
func Parse(s string) (Expr, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Expr{}, fmt.Errorf("empty gate: write a gate name, e.g. %q", "rollout.complete")
	}
	if strings.HasPrefix(s, "!") {
		return Expr{}, fmt.Errorf("gate %q: negation is not supported; every gate is written so that passing is the safe state", raw)
	}
	nameEnd := strings.IndexFunc(s, func(r rune) bool { return !isNameRune(r) })
	if nameEnd < 0 {
		nameEnd = len(s)
	}
	name := s[:nameEnd]
	rest := strings.TrimSpace(s[nameEnd:])
	if name == "" {
		return Expr{}, fmt.Errorf("gate %q does not start with a gate name: write e.g. %q", raw, "rollout.complete")
	}
	spec, ok := Lookup(name)
	if !ok {
		if sug := Suggest(name, Names()); sug != "" {
			return Expr{}, fmt.Errorf("unknown gate %q (did you mean %q?)", name, sug)
		}
		return Expr{}, fmt.Errorf("unknown gate %q: known gates are %s", name, strings.Join(Names(), ", "))
	}
	e := Expr{Raw: raw, Name: name}
	if rest == "" {
		switch spec.Type {
		case Duration:
			return Expr{}, fmt.Errorf("gate %q compares a duration: write e.g. %q", name, name+" < 30s")
		case Number:
			return Expr{}, fmt.Errorf("gate %q compares a number: write e.g. %q", name, name+" == 0")
		}
		return e, nil
	}
	if spec.Type == Bool {
		return Expr{}, fmt.Errorf("gate %q is true or false and takes no comparison: write just %q", name, name)
	}
	op, value, err := splitOp(rest)
	if err != nil {
		return Expr{}, fmt.Errorf("gate %q: %v", raw, err)
	}
	e.Op = op
	switch spec.Type {
	case Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			if _, nerr := strconv.ParseFloat(value, 64); nerr == nil {
				return Expr{}, fmt.Errorf("bad duration %q in gate %q: add a unit, e.g. %ss", value, raw, value)
			}
			return Expr{}, fmt.Errorf("bad duration %q in gate %q: write e.g. 30s, 2m or 1m30s", value, raw)
		}
		if d < 0 {
			return Expr{}, fmt.Errorf("negative duration %q in gate %q: durations here are ages, 0 or more", value, raw)
		}
		e.Duration = d
	case Number:
		n, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return Expr{}, fmt.Errorf("bad number %q in gate %q: write e.g. %q", value, raw, name+" == 0")
		}
		e.Number = n
	}
	return e, nil
}

func isNameRune(r rune) bool {
	return r == '.' || r == '_' || r == '-' ||
		('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// splitOp reads "< 30s" into its operator and operand.
func splitOp(s string) (Op, string, error) {
	for _, op := range ops {
		if strings.HasPrefix(s, string(op)) {
			v := strings.TrimSpace(s[len(op):])
			if v == "" {
				return "", "", fmt.Errorf("missing a value after %q", op)
			}
			if strings.ContainsAny(v[:1], "<>=!") {
				return "", "", fmt.Errorf("unknown operator %q: use one of < <= > >= == !=", string(op)+v[:1])
			}
			return op, v, nil
		}
	}
	switch {
	case strings.HasPrefix(s, "=>"):
		return "", "", fmt.Errorf("unknown operator %q: write >=", "=>")
	case strings.HasPrefix(s, "=<"):
		return "", "", fmt.Errorf("unknown operator %q: write <=", "=<")
	case strings.HasPrefix(s, "="):
		return "", "", fmt.Errorf("%q is assignment: compare with ==", "=")
	}
	word := s
	if i := strings.IndexAny(word, " \t"); i >= 0 {
		word = word[:i]
	}
	return "", "", fmt.Errorf("expected an operator (< <= > >= == !=) but found %q", word)
}

// Fact is the latest observation behind a gate, published by a source.
type Fact struct {
	// Known is false until the source has data; a source that lost its
	// connection keeps publishing its last good facts instead.
	Known    bool
	Bool     bool
	Duration time.Duration
	Number   float64
	// Detail is a short human account of the observation, e.g.
	// "api 4/6 ready" or "pid 4412 on orders". For a fact that is not
	// Known it says why, e.g. "connection refused".
	Detail string
}

// Facts maps gate names to their latest facts.
type Facts map[string]Fact

// State is the outcome of evaluating a gate.
type State int

const (
	Unknown State = iota
	Pass
	Fail
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Result is the judgement of one gate, ready to show.
type Result struct {
	State State
	// Value is the observation against the limit: "12s < 30s" when passing,
	// "45s, want < 30s" when failing, "true", or the fact's detail.
	Value string
	// Reason says why the state is Unknown.
	Reason string
}

// Eval judges e against the facts. A gate whose fact is missing or not yet
// known is Unknown, never Fail: the cockpit must not claim a database is
// locked because Postgres has not answered yet.
func (e Expr) Eval(f Facts) Result {
	spec, ok := Lookup(e.Name)
	if !ok {
		return Result{State: Unknown, Reason: fmt.Sprintf("unknown gate %q", e.Name)}
	}
	fact, ok := f[e.Name]
	if !ok || !fact.Known {
		reason := "no data from " + spec.Source + " yet"
		if ok && fact.Detail != "" {
			reason += " (" + fact.Detail + ")"
		}
		return Result{State: Unknown, Reason: reason}
	}
	switch spec.Type {
	case Bool:
		r := Result{State: Fail, Value: strconv.FormatBool(fact.Bool)}
		if fact.Bool {
			r.State = Pass
		}
		if fact.Detail != "" {
			r.Value = fact.Detail
		}
		return r
	case Duration:
		return e.compared(e.Op.holds(cmp(fact.Duration, e.Duration)), FormatDuration(fact.Duration), fact.Detail)
	case Number:
		return e.compared(e.Op.holds(cmpFloat(fact.Number, e.Number)), formatNumber(fact.Number), fact.Detail)
	}
	return Result{State: Unknown, Reason: "gate of unknown type " + spec.Type.String()}
}

func (e Expr) compared(pass bool, observed, detail string) Result {
	r := Result{State: Pass, Value: observed + " " + string(e.Op) + " " + e.limit()}
	if !pass {
		r.State = Fail
		r.Value = observed + ", want " + string(e.Op) + " " + e.limit()
	}
	if detail != "" {
		r.Value += " (" + detail + ")"
	}
	return r
}

// holds reports whether the operator accepts a comparison result c (-1, 0, 1).
// An empty or unknown operator never holds: a malformed Expr must not pass.
func (o Op) holds(c int) bool {
	switch o {
	case Less:
		return c < 0
	case LessEqual:
		return c <= 0
	case Greater:
		return c > 0
	case GreaterEqual:
		return c >= 0
	case Equal:
		return c == 0
	case NotEqual:
		return c != 0
	}
	return false
}

func cmp(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FormatDuration renders a duration compactly for a narrow pane: "350ms",
// "12.5s", "1m12s", "2h", never "1m0s".
func FormatDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	switch {
	case d == 0:
		return "0s"
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= 10*time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if neg {
		s = "-" + s
	}
	return s
}

func formatNumber(n float64) string {
	return strconv.FormatFloat(n, 'f', -1, 64)
}
