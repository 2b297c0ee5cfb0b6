// Package preflight judges a migration before it runs: each statement read
// with the Postgres parser itself (the lock it takes, whether it rewrites or
// scans the table), joined with how production uses what it touches (rows,
// index scans, transactions holding the table now), and measured on a clone
// (the locks it really held, and for how long).
//
// Reading the SQL and judging it is pure (Load, Analyze, Judge); asking
// production (ReadProduction) and measuring on a clone (Measure) talk to
// Postgres, read-only and bounded by timeouts on production.
package preflight

import (
	"fmt"
	"strconv"
	"time"
)

// Lock is a table-level lock mode, weakest first, as the Postgres
// documentation lists them (13.3.1 "Table-Level Locks").
type Lock int

const (
	NoLock Lock = iota
	AccessShare
	RowShare
	RowExclusive
	ShareUpdateExclusive
	Share
	ShareRowExclusive
	Exclusive
	AccessExclusive
)

var lockNames = [...]string{"", "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
	"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}

// pg_locks.mode spells the same modes this way.
var lockModes = [...]string{"", "AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
	"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}

func (l Lock) String() string {
	if l < 0 || int(l) >= len(lockNames) {
		return "Lock(" + strconv.Itoa(int(l)) + ")"
	}
	return lockNames[l]
}

// LockFromMode reads pg_locks.mode ("AccessExclusiveLock"); NoLock for a
// mode that is not a table-level one.
func LockFromMode(mode string) Lock {
	for i, m := range lockModes {
		if i > 0 && m == mode {
			return Lock(i)
		}
	}
	return NoLock
}

// conflicts is the documentation's Table 13.2 "Conflicting Lock Modes": bit
// j of conflicts[i] is set when mode i conflicts with mode j.
var conflicts = [...]uint16{
	NoLock:               0,
	AccessShare:          1 << AccessExclusive,
	RowShare:             1<<Exclusive | 1<<AccessExclusive,
	RowExclusive:         1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	ShareUpdateExclusive: 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	Share:                1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	ShareRowExclusive:    1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	Exclusive:            1<<RowShare | 1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	AccessExclusive:      1<<AccessShare | 1<<RowShare | 1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
}

// Conflicts reports whether l and o cannot be held on one table at once by
// two transactions.
func (l Lock) Conflicts(o Lock) bool {
	if l <= NoLock || o <= NoLock || int(l) >= len(conflicts) || int(o) >= len(conflicts) {
		return false
	}
	return conflicts[l]&(1<<o) != 0
}

// BlocksReads: plain SELECTs (ACCESS SHARE) wait behind it.
func (l Lock) BlocksReads() bool { return l.Conflicts(AccessShare) }

// BlocksWrites: INSERT, UPDATE and DELETE (ROW EXCLUSIVE) wait behind it.
func (l Lock) BlocksWrites() bool { return l.Conflicts(RowExclusive) }

// Verdict is the judgement of a statement. The zero value is Unknown, so a
// statement nobody judged is never taken for safe.
type Verdict int

const (
	Unknown Verdict = iota
	OK
	Warn
	Block
)

func (v Verdict) String() string {
	switch v {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Block:
		return "block"
	}
	return "unknown"
}

// rank orders verdicts by how much they hold a deploy up: unknown is worse
// than warn (nobody can vouch for it) but not a block.
func (v Verdict) rank() int {
	return [...]int{Unknown: 2, OK: 0, Warn: 1, Block: 3}[v]
}

// Worse returns the worse of two verdicts.
func Worse(a, b Verdict) Verdict {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Statement is one statement of a migration, as written.
type Statement struct {
	// File is the migration file as configured, or "command" for what the
	// migrations command printed.
	File string
	// Line is where the statement starts in File, from 1.
	Line int
	// SQL is the statement's text as written, without its semicolon.
	SQL string
	// Fingerprint is the parser's fingerprint of the statement: the same
	// statement shown by pg_stat_activity has the same one.
	Fingerprint string
}

// Where is "file:line".
func (s Statement) Where() string { return s.File + ":" + strconv.Itoa(s.Line) }

// Relation is a relation a statement locks, named as written.
type Relation struct {
	Name string // "appointments" or "public.appointments", as written
	// Index is set for an index the statement locks or drops; Name is then
	// the index's name and the table is found in production.
	Index bool
	Lock  Lock
}

// Hazard is one thing wrong with a statement, and what to write instead.
type Hazard struct {
	// Code is stable across versions, for the journal and tests:
	// HazardRewrite, HazardScan, …
	Code    string
	Verdict Verdict
	Reason  string // why, in a sentence
	Fix     string // the safe rewrite; "" when there is none to give
}

// Hazard codes.
const (
	HazardRewrite        = "rewrite"            // rewrites the table under ACCESS EXCLUSIVE
	HazardScan           = "scan"               // reads the whole table under its lock
	HazardBlockingIndex  = "blocking-index"     // CREATE INDEX without CONCURRENTLY blocks writes
	HazardConcurrentInTx = "concurrently-in-tx" // CONCURRENTLY inside a transaction block fails
	HazardNoLockTimeout  = "no-lock-timeout"    // ACCESS EXCLUSIVE with no lock_timeout: everything queues
	HazardHeldLong       = "held-long"          // a strong lock held across the statements that follow it
	HazardDropIndexUsed  = "drop-index-in-use"  // the index production uses
	HazardDropIndex      = "drop-index"         // DROP INDEX without CONCURRENTLY
	HazardBreaksCode     = "breaks-running-code"
	HazardQueue          = "queue" // sessions in a transaction on the table now
	HazardProduction     = "production-unknown"
)

// Analysis is what the parse tree says of one statement, before anyone asks
// production.
type Analysis struct {
	Statement
	// Kind names the statement: "CREATE INDEX", "ALTER TABLE", "SET", …
	Kind string
	// Relations are the relations it locks, in the order written.
	Relations []Relation
	// Rewrites: the table is rewritten in full; Scans: read in full under
	// the statement's lock (a rewrite scans too).
	Rewrites, Scans bool
	// InTransaction: inside an explicit BEGIN … COMMIT of the migration.
	InTransaction bool
	// LockTimeout: a lock_timeout other than 0 is in force when it runs.
	LockTimeout bool
	// NewTable: every relation it touches was created earlier in the same
	// migration, so its locks keep nobody waiting.
	NewTable bool
	Hazards  []Hazard
}

// Lock is the strongest lock the statement takes.
func (a Analysis) Lock() Lock {
	var l Lock
	for _, r := range a.Relations {
		l = max(l, r.Lock)
	}
	return l
}

// TableFacts is what production says of a table.
type TableFacts struct {
	Exists bool
	// Rows is pg_class.reltuples: the planner's estimate; -1 when the
	// table was never vacuumed or analyzed.
	Rows  int64
	Bytes int64 // pg_total_relation_size
}

// IndexFacts is what production says of an index.
type IndexFacts struct {
	Exists bool
	Table  string // its table, schema-qualified
	// Scans is pg_stat_user_indexes.idx_scan: scans since StatsReset.
	Scans int64
	// LastScan is pg_stat_user_indexes.last_idx_scan (Postgres 16 and
	// later); zero when unknown.
	LastScan time.Time
	// StatsReset is pg_stat_database.stats_reset; zero when the
	// statistics were never reset.
	StatsReset time.Time
	// Constraint names the constraint the index backs (primary key,
	// unique, exclusion), "" when none.
	Constraint string
}

// Holder is a session in a transaction holding a lock on a table now.
type Holder struct {
	PID     int32
	User    string
	App     string
	State   string // pg_stat_activity.state
	XactAge time.Duration
	Mode    Lock // its strongest lock on the table
	Query   string
}

// Production is what production says of everything a migration touches.
type Production struct {
	Target string // the [[postgres.target]] asked
	// Err is why production could not be read; the verdicts that need it
	// are then Unknown, never OK.
	Err     error
	At      time.Time
	Tables  map[string]TableFacts // by name as written
	Indexes map[string]IndexFacts // by name as written
	// Holders are the transactions open longer than a second that hold a
	// lock on a table, by the name as written; an index's are its
	// table's, under the index's name.
	Holders map[string][]Holder
	Waiting map[string]int // by table name as written: sessions waiting for a lock on it now
	Took    time.Duration  // how long the reading took
}

// Judged is a statement with its verdict: the parse tree's hazards and
// production's.
type Judged struct {
	Analysis
	Verdict Verdict
	// Findings are every hazard, the parse tree's and production's, worst
	// first.
	Findings []Hazard
	// Figures is production's account of what the statement touches:
	// "appointments: 1.0M rows, 187 MB; 2 transactions on it now".
	Figures string
}

// Observed is what a statement really held when it ran on a clone.
type Observed struct {
	Statement
	Took time.Duration
	// Locks are the locks it held on relations, strongest first.
	Locks []HeldLock
	Err   string // the statement's error, e.g. a lock_timeout
}

// HeldLock is one lock seen held on a relation during a measured run.
type HeldLock struct {
	Relation string // schema-qualified
	Lock     Lock
	// Held is how long it was held: from when it was first seen (sampled,
	// or read inside the transaction) to the end of its transaction.
	Held time.Duration
}

// ParseError is SQL the Postgres parser refused, placed in its file.
type ParseError struct {
	File    string
	Line    int
	Message string // the parser's own message
}

func (e *ParseError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Message
}

// MarshalText writes the mode as the documentation names it, so the journal
// reads "ACCESS EXCLUSIVE" rather than a number.
func (l Lock) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (l *Lock) UnmarshalText(b []byte) error {
	for i, n := range lockNames {
		if n == string(b) {
			*l = Lock(i)
			return nil
		}
	}
	return fmt.Errorf("unknown lock mode %q", b)
}
