package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// DBState is one reading of every [[postgres.target]]. Targets are read
// together and each keeps its own error, so the clone being down (it does not
// exist until the runbook creates it) never hides production.
type DBState struct {
	Targets []TargetLocks
	// Thresholds from config, carried so that the pane and the gates judge
	// the same way.
	LockThreshold time.Duration
	LongQuery     time.Duration
}

// TargetLocks is one database's backends and locks at one moment.
type TargetLocks struct {
	Name    string
	Where   string // host:port/database, for the pane; never the password
	Server  string // server version
	Err     error  // this target's last failure; the rest is then its last good reading
	GoodAt  time.Time
	At      time.Time     // server time of the reading
	Took    time.Duration // round trip of the poll, as the cockpit saw it
	Backend []Backend     // the database's sessions, bar idle ones that block nobody and the cockpit's own
	Idle    int           // idle sessions not listed in Backend
	Waits   []Wait        // lock waits, longest first
	Held    []HeldLock    // heavy relation locks held, longest first
	Modes   []ModeCount   // the listed sessions' locks by mode
	Locks   int           // how many locks the listed sessions hold or wait for
	Tree    []TreeRow     // blocking tree, root blockers first

	byPID map[int32]int // index into Backend; nil in readings built by hand
}

// Backend is one server process as pg_stat_activity shows it.
type Backend struct {
	PID           int32
	Type          string // "client backend", "autovacuum worker"
	User          string
	Application   string
	ClientAddr    string
	Database      string
	State         string // active, idle, idle in transaction, …
	WaitEventType string
	WaitEvent     string
	XactStart     time.Time
	QueryStart    time.Time
	StateChange   time.Time
	Query         string
	BlockedBy     []int32 // every pid this backend waits for, from pg_blocking_pids
	Blocks        int     // how many backends wait for this one, directly
}

// Wait is one backend waiting for a heavyweight lock.
type Wait struct {
	PID       int32
	BlockedBy []int32
	LockType  string // relation, transactionid, tuple, …
	Mode      string // the mode asked for, e.g. RowExclusiveLock
	Relation  string // when the lock is on a relation
	Since     time.Time
	For       time.Duration
}

// HeldLock is a heavy relation lock that is granted.
type HeldLock struct {
	PID      int32
	Mode     string
	Relation string
	// For is how long the holder's transaction has run: Postgres does not
	// record when a lock was granted, and a lock is held until the
	// transaction ends, so this is an upper bound that is exact for the
	// usual migration (lock taken by its first statement).
	For     time.Duration
	Waiters int // backends waiting for this pid, directly
}

// ModeCount counts the locks of one mode.
type ModeCount struct {
	Mode    string
	Granted int
	Waiting int
}

// TreeRow is one line of the blocking tree: a root blocker at depth 0, the
// backends waiting for it below. A waiter with several blockers appears under
// each of them.
type TreeRow struct {
	PID   int32
	Depth int
	// Repeat marks a backend already shown higher up (a second blocker's
	// waiter, or a cycle): its own waiters are not repeated.
	Repeat bool
}

// Index makes Find constant-time; readings from the probe come indexed,
// this is for readings built by hand.
func (t *TargetLocks) Index() {
	if t.byPID != nil {
		return
	}
	t.byPID = make(map[int32]int, len(t.Backend))
	for i, b := range t.Backend {
		t.byPID[b.PID] = i
	}
}

// Find returns the backend with pid.
func (t *TargetLocks) Find(pid int32) (Backend, bool) {
	if t.byPID != nil {
		if i, ok := t.byPID[pid]; ok {
			return t.Backend[i], true
		}
		return Backend{}, false
	}
	for _, b := range t.Backend {
		if b.PID == pid {
			return b, true
		}
	}
	return Backend{}, false
}

// Target returns the reading of the named target.
func (s DBState) Target(name string) (TargetLocks, bool) {
	for _, t := range s.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return TargetLocks{}, false
}

// Down joins the errors of the targets that failed their last read.
func (s DBState) Down() error {
	var errs []error
	for _, t := range s.Targets {
		if t.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, t.Err))
		}
	}
	return errors.Join(errs...)
}

// LongRunning lists the active queries, and the transactions idle in the
// middle, older than limit, oldest first.
func (t *TargetLocks) LongRunning(limit time.Duration) []Backend {
	type aged struct {
		i   int
		age time.Duration
	}
	var found []aged
	for i, b := range t.Backend {
		if b.State == "idle" {
			continue
		}
		if b.QueryAge(t.At) > limit || b.IdleInTransaction() && b.XactAge(t.At) > limit {
			found = append(found, aged{i, max(b.QueryAge(t.At), b.XactAge(t.At))})
		}
	}
	slices.SortStableFunc(found, func(a, b aged) int { return int(b.age - a.age) })
	out := make([]Backend, len(found))
	for k, f := range found {
		out[k] = t.Backend[f.i]
	}
	return out
}

// IdleInTransaction is true for a session that opened a transaction and
// stopped talking: it keeps every lock it took.
func (b Backend) IdleInTransaction() bool {
	return strings.HasPrefix(b.State, "idle in transaction")
}

// QueryAge is how long the current (or last) query has run.
func (b Backend) QueryAge(now time.Time) time.Duration { return age(b.QueryStart, now) }

// XactAge is how long the transaction has been open; 0 outside one.
func (b Backend) XactAge(now time.Time) time.Duration { return age(b.XactStart, now) }

func age(t, now time.Time) time.Duration {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return now.Sub(t)
}

// RootBlockers are the backends that block others while waiting for no lock
// themselves: cancelling them is what frees a queue.
func (t *TargetLocks) RootBlockers() []int32 {
	var roots []int32
	for _, r := range t.Tree {
		if r.Depth == 0 {
			roots = append(roots, r.PID)
		}
	}
	return roots
}

// RootsOf returns the root blockers that pid waits behind, directly or
// through others; pid itself when it waits for no one.
func (t *TargetLocks) RootsOf(pid int32) []int32 {
	blockedBy := map[int32][]int32{}
	for _, b := range t.Backend {
		blockedBy[b.PID] = b.BlockedBy
	}
	seen := map[int32]bool{}
	var roots []int32
	var walk func(p int32)
	walk = func(p int32) {
		if seen[p] {
			return
		}
		seen[p] = true
		if len(blockedBy[p]) == 0 {
			roots = append(roots, p)
			return
		}
		for _, q := range blockedBy[p] {
			walk(q)
		}
	}
	walk(pid)
	slices.Sort(roots)
	return roots
}

// Facts are the postgres gates' inputs: the worst value over every target.
// A target that is down makes them unknown, since the worst value might be
// on the one the cockpit cannot see.
func (s DBState) Facts() gates.Facts {
	names := []string{"locks.max_wait", "locks.max_hold", "locks.root_blocker_age", "db.long_running_queries"}
	if err := s.Down(); err != nil || len(s.Targets) == 0 {
		why := "no target read yet"
		if err != nil {
			why = "down: " + OneLine(err.Error())
		}
		f := gates.Facts{}
		for _, n := range names {
			f[n] = gates.Fact{Detail: why}
		}
		return f
	}
	type worst struct {
		d      time.Duration
		detail string
	}
	var wait, hold, root worst
	wait.detail, hold.detail, root.detail = "no lock waits", "no heavy locks held", "nothing blocked"
	long, longDetail := 0, []string{}
	for _, t := range s.Targets {
		for _, w := range t.Waits {
			if w.For > wait.d {
				wait = worst{w.For, fmt.Sprintf("pid %d on %s waits for %s (%s)", w.PID, t.Name, pidList(w.BlockedBy), relOr(w))}
			}
		}
		for _, h := range t.Held {
			if h.For > hold.d {
				hold = worst{h.For, fmt.Sprintf("pid %d on %s holds %s on %s", h.PID, t.Name, h.Mode, h.Relation)}
			}
		}
		// A root's age is its transaction's, but at least the longest wait
		// behind it: an idle session holding an advisory lock has no
		// transaction, and a blocker outside the listed sessions has no
		// row at all.
		behind := map[int32]time.Duration{}
		for _, w := range t.Waits {
			for _, r := range t.RootsOf(w.PID) {
				behind[r] = max(behind[r], w.For)
			}
		}
		for _, p := range t.RootBlockers() {
			b, _ := t.Find(p)
			if a := max(b.XactAge(t.At), behind[p]); a >= root.d {
				root = worst{a, fmt.Sprintf("pid %d on %s blocks %d", p, t.Name, b.Blocks)}
			}
		}
		lr := t.LongRunning(s.LongQuery)
		long += len(lr)
		if len(lr) > 0 {
			longDetail = append(longDetail, fmt.Sprintf("%d on %s, oldest pid %d", len(lr), t.Name, lr[0].PID))
		}
	}
	ld := fmt.Sprintf("none over %s", gates.FormatDuration(s.LongQuery))
	if len(longDetail) > 0 {
		ld = strings.Join(longDetail, "; ")
	}
	return gates.Facts{
		"locks.max_wait":          {Known: true, Duration: wait.d, Detail: wait.detail},
		"locks.max_hold":          {Known: true, Duration: hold.d, Detail: hold.detail},
		"locks.root_blocker_age":  {Known: true, Duration: root.d, Detail: root.detail},
		"db.long_running_queries": {Known: true, Number: float64(long), Detail: ld},
	}
}

func relOr(w Wait) string {
	if w.Relation != "" {
		return w.Mode + " on " + w.Relation
	}
	return w.Mode + " on a " + w.LockType
}

func pidList(p []int32) string {
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
