package preflight

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Hazard codes only the parse tree gives, beside those of types.go.
const (
	// HazardUnclassified: a statement whose lock flightdeck does not know.
	HazardUnclassified = "unclassified"
	// HazardEveryRow: an UPDATE or DELETE with no WHERE.
	HazardEveryRow = "every-row"
	// HazardNoEffect: a statement Postgres accepts and ignores (SET LOCAL
	// outside a transaction block).
	HazardNoEffect = "no-effect"
	// HazardFails: a statement that errors as written (LOCK outside a
	// transaction block, ADD COLUMN … NOT NULL with no default on a table
	// with rows).
	HazardFails = "fails"
)

// Verdict is the worst of the statement's hazards; OK when it has none.
func (a Analysis) Verdict() Verdict {
	v := OK
	for _, h := range a.Hazards {
		v = Worse(v, h.Verdict)
	}
	return v
}

// Analyze judges each statement from its parse tree alone, in order. Each
// file is its own session, as psql -f or a migration framework runs it: an
// open transaction block, lock_timeout and the tables a file created carry
// from one statement to the next and stop at the file's end.
func Analyze(stmts []Statement) []Analysis {
	out := make([]Analysis, len(stmts))
	notes := make([]blockNote, len(stmts))
	var s *session
	for i, st := range stmts {
		if s == nil || st.File != s.file {
			s = newSession(st.File)
		}
		out[i], notes[i] = s.analyze(st)
	}
	holdLong(out, notes)
	return out
}

// session is what a file's earlier statements leave in force.
type session struct {
	file string
	inTx bool
	// lock_timeout: the session's value, the value the open block began
	// with (ROLLBACK restores it) and a SET LOCAL's until the block ends.
	timeout, timeoutAtBegin bool
	local, localSet         bool
	tables                  []qname          // created by this file
	indexes                 map[string]qname // index created by this file → its table
	checks                  []notNullCheck   // CHECK (col IS NOT NULL) constraints added by this file
	held                    []heldLock       // locks the open block holds, on tables that existed before
}

type heldLock struct {
	q    qname
	lock Lock
}

// blockNote is what holdLong needs of each statement once all are read.
type blockNote struct {
	ends bool       // it closes the transaction block
	took []Relation // strong locks it first took inside the block
}

func newSession(file string) *session {
	return &session{file: file, indexes: map[string]qname{}}
}

func (s *session) lockTimeout() bool {
	if s.localSet {
		return s.local
	}
	return s.timeout
}

func (s *session) created(q qname) bool {
	for _, t := range s.tables {
		if t.matches(q) {
			return true
		}
	}
	return false
}

func (s *session) holds(q qname, l Lock) bool {
	for _, h := range s.held {
		if h.q.matches(q) && h.lock >= l {
			return true
		}
	}
	return false
}

// judge gathers one statement's analysis.
type judge struct {
	s    *session
	a    *Analysis
	refs []qname // the name behind each of a.Relations
	news []bool  // whether each was created by this file
	note blockNote
}

func (s *session) analyze(st Statement) (Analysis, blockNote) {
	a := Analysis{Statement: st, InTransaction: s.inTx, LockTimeout: s.lockTimeout()}
	j := &judge{s: s, a: &a}
	tree, err := pg_query.Parse(st.SQL)
	switch {
	case err != nil:
		j.unclassified("the Postgres parser refuses it (" + err.Error() + ")")
	case len(tree.Stmts) != 1:
		j.unclassified(fmt.Sprintf("it holds %d statements, not one", len(tree.Stmts)))
	default:
		j.classify(tree.Stmts[0].Stmt)
	}
	j.finish()
	return a, j.note
}

func (j *judge) hazard(code string, v Verdict, reason, fix string) {
	j.a.Hazards = append(j.a.Hazards, Hazard{Code: code, Verdict: v, Reason: reason, Fix: fix})
}

func (j *judge) unclassified(why string) {
	reason := "flightdeck does not know the lock this statement takes"
	if why != "" {
		reason += ": " + why
	}
	j.hazard(HazardUnclassified, Warn, reason, "")
}

// rel records a lock on a relation as written; naming it twice keeps its
// first place and the stronger lock.
func (j *judge) rel(rv *pg_query.RangeVar, l Lock) {
	if rv == nil {
		return
	}
	j.lock(qname{rv.Schemaname, rv.Relname}, relName(rv), false, l)
}

// index records a lock on an index. The index's table takes the lock's
// effect; it is known here only when this file created the index.
func (j *judge) index(q qname, l Lock) {
	j.lock(q, q.String(), true, l)
}

func (j *judge) lock(q qname, name string, index bool, l Lock) {
	for i, r := range j.a.Relations {
		if r.Name == name && r.Index == index {
			j.a.Relations[i].Lock = max(r.Lock, l)
			return
		}
	}
	isNew := j.s.created(q)
	if index {
		t, ok := j.s.indexes[q.name]
		isNew = ok && j.s.created(t)
	}
	j.a.Relations = append(j.a.Relations, Relation{Name: name, Index: index, Lock: l})
	j.refs = append(j.refs, q)
	j.news = append(j.news, isNew)
}

// existing: the relation was there before this file, so someone may be
// using it.
func (j *judge) existing(i int) bool { return i < len(j.news) && !j.news[i] }

// strong locks keep writers (or everyone) waiting while they are awaited
// or held.
func strong(l Lock) bool { return l.BlocksWrites() }

func (j *judge) finish() {
	a, s := j.a, j.s
	a.NewTable = len(a.Relations) > 0
	for i := range a.Relations {
		a.NewTable = a.NewTable && !j.existing(i)
	}

	var waits []Relation
	for i, r := range a.Relations {
		if !j.existing(i) || !strong(r.Lock) || (a.InTransaction && s.holds(j.refs[i], r.Lock)) {
			continue
		}
		waits = append(waits, r)
		if a.InTransaction {
			j.note.took = append(j.note.took, r)
		}
	}
	if len(waits) > 0 && !a.LockTimeout {
		worst := waits[0]
		for _, r := range waits {
			if r.Lock > worst.Lock {
				worst = r
			}
		}
		who := "every write"
		if worst.Lock.BlocksReads() {
			who = "every query"
		}
		on := onNames(waits)
		j.hazard(HazardNoLockTimeout, Warn,
			fmt.Sprintf("without lock_timeout it waits for %s behind any open transaction on %s, and %s on %s queues behind it",
				worst.Lock, on, who, on),
			"SET lock_timeout = '2s'; before it, and retry the migration when it times out")
	}
	if a.InTransaction && s.inTx {
		for i, r := range a.Relations {
			if j.existing(i) {
				s.held = append(s.held, heldLock{j.refs[i], r.Lock})
			}
		}
	}
}

// onNames names the tables behind relations for a sentence.
func onNames(rs []Relation) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
		if r.Index {
			names[i] = "the table of index " + r.Name
		}
	}
	return strings.Join(names, ", ")
}

// holdLong warns of strong locks taken inside a transaction block and held
// while the block's later statements run: everyone waiting on the table
// waits for all of them.
func holdLong(out []Analysis, notes []blockNote) {
	for i := range out {
		if len(notes[i].took) == 0 {
			continue
		}
		n, closed := 0, false
		for k := i + 1; k < len(out) && out[k].File == out[i].File; k++ {
			if notes[k].ends {
				closed = true
				break
			}
			n++
		}
		if n == 0 {
			continue
		}
		for _, r := range notes[i].took {
			who := "every write"
			if r.Lock.BlocksReads() {
				who = "every query"
			}
			until := "until COMMIT"
			if !closed {
				until = "until the file ends (it has no COMMIT)"
			}
			follow := "statement that follows"
			if n > 1 {
				follow = "statements that follow"
			}
			on := onNames([]Relation{r})
			out[i].Hazards = append(out[i].Hazards, Hazard{
				Code:    HazardHeldLong,
				Verdict: Warn,
				Reason: fmt.Sprintf("%s on %s is held %s, across the %d %s it: %s on %s queues for the whole block",
					r.Lock, on, until, n, follow, who, on),
				Fix: "take the lock last: move this statement to just before COMMIT, or into a transaction of its own",
			})
		}
	}
}
