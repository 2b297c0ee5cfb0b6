package preflight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

const (
	// measureApp names the session that runs the migration on the clone,
	// so the clone's own lock views tell it apart.
	measureApp = "flightdeck-preflight"
	// measureEvery is how often the locks of the migration's session are
	// sampled while a statement runs.
	measureEvery = 10 * time.Millisecond
)

// Measure runs a migration's statements on a clone, one session, in
// order, as psql -v ON_ERROR_STOP=1 would: BEGIN and COMMIT in the
// migration act as written, and the first statement that fails ends the
// run (an open transaction block is rolled back). It records what each
// statement really held: the relation locks of the migration's backend,
// sampled every 10 ms from a second session while the statement runs
// (the only way to see the locks of statements that cannot run in a
// transaction block, such as CREATE INDEX CONCURRENTLY), and read exactly
// on the migration's own session after each statement inside a
// transaction block. A lock taken inside a block is held until the block
// ends, and its Held says so.
//
// A statement outside a block runs in a block of its own, so its locks
// are read exactly too; only one Postgres will not run in a block
// (CONCURRENTLY, VACUUM) is left to sampling, where a lock held for less
// than the interval can go unseen.
//
// It must never be pointed at production: every statement runs for real.
// emit, if not nil, gets one line per statement as it finishes. The error
// is the failed statement's (also in its Observed.Err) or why the clone
// could not be used.
func Measure(ctx context.Context, cc *pgx.ConnConfig, stmts []Statement, lockTimeout time.Duration, emit func(line string)) ([]Observed, error) {
	if emit == nil {
		emit = func(string) {}
	}
	cfg := cc.Copy()
	cfg.RuntimeParams["application_name"] = measureApp
	// A dropped socket would leave the statement running on the clone,
	// its locks held, until it finished: a cancelled run cancels it there.
	cfg.BuildContextWatcherHandler = cancelOnServer
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("measure on the clone: %w", err)
	}
	defer conn.Close(context.Background())
	wcfg := cc.Copy()
	wcfg.RuntimeParams["application_name"] = measureApp + "-watch"
	wcfg.BuildContextWatcherHandler = cancelOnServer
	wcfg.RuntimeParams["default_transaction_read_only"] = "on"
	// A sample that cannot be taken at once is worth nothing later.
	wcfg.RuntimeParams["statement_timeout"] = "1000"
	watch, err := pgx.ConnectConfig(ctx, wcfg)
	if err != nil {
		return nil, fmt.Errorf("measure on the clone: the watching session: %w", err)
	}
	defer watch.Close(context.Background())
	if lockTimeout > 0 {
		ms := max(lockTimeout.Milliseconds(), 1)
		if err := execSimple(ctx, conn, "SET lock_timeout = '"+strconv.FormatInt(ms, 10)+"ms'"); err != nil {
			return nil, fmt.Errorf("measure on the clone: %w", err)
		}
	}
	m := &measurer{conn: conn, watch: watch, pid: conn.PgConn().PID(), open: map[relLock]*openLock{}, emit: emit}
	for _, st := range stmts {
		if err := m.run(ctx, st); err != nil {
			return m.observed, err
		}
	}
	if len(m.open) > 0 {
		// The session's close rolls the block back.
		m.closeBlock(time.Now())
		emit("(end)  the migration left a transaction block open: it was rolled back")
	}
	return m.observed, nil
}

type relLock struct {
	rel  string
	lock Lock
}

// openLock is a lock taken inside a transaction block, held until the
// block ends, by the statement that took it.
type openLock struct {
	from  time.Time
	owner int
}

type measurer struct {
	conn, watch *pgx.Conn
	pid         uint32
	observed    []Observed
	open        map[relLock]*openLock
	emit        func(string)
}

// run runs one statement. Outside a transaction block it is run inside
// one of its own, so the locks it took can be read exactly before COMMIT
// however short they were; a statement Postgres refuses to run in a block
// (CONCURRENTLY, VACUUM) runs again on its own, watched by sampling.
func (m *measurer) run(ctx context.Context, st Statement) error {
	return m.runStatement(ctx, st, m.conn.PgConn().TxStatus() == 'I' && !isTransactionControl(st.SQL))
}

func (m *measurer) runStatement(ctx context.Context, st Statement, wrap bool) error {
	i := len(m.observed)
	m.observed = append(m.observed, Observed{Statement: st})
	start := time.Now()
	stop := m.sample(ctx, start)
	var err error
	if wrap {
		err = execSimple(ctx, m.conn, "BEGIN")
	}
	if err == nil {
		err = execSimple(ctx, m.conn, st.SQL)
	}
	end := time.Now()
	seen := stop()
	o := &m.observed[i]
	o.Took = end.Sub(start)

	status := m.conn.PgConn().TxStatus()
	var pgErr *pgconn.PgError
	if wrap && errors.As(err, &pgErr) && pgErr.Code == "25001" { // active_sql_transaction
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = execSimple(rctx, m.conn, "ROLLBACK")
		cancel()
		m.observed = m.observed[:i]
		return m.runStatement(ctx, st, false)
	}
	if err != nil {
		o.Err = err.Error()
		for k, s := range seen {
			if m.open[k] == nil {
				m.open[k] = &openLock{from: s.from, owner: i}
			}
		}
		if status != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = execSimple(rctx, m.conn, "ROLLBACK")
			cancel()
		}
		m.closeBlock(time.Now())
		m.emit(statementLine(st, o.Took, "failed: "+strings.Join(strings.Fields(err.Error()), " ")))
		return fmt.Errorf("%s: %w", st.Where(), err)
	}

	var taken []HeldLock
	if status == 'T' {
		held, err := m.ownLocks(ctx)
		if err != nil {
			return fmt.Errorf("%s: reading the locks it holds: %w", st.Where(), err)
		}
		for _, k := range held {
			if m.open[k] != nil {
				continue
			}
			from := start
			if s, ok := seen[k]; ok {
				from = s.from
			}
			m.open[k] = &openLock{from: from, owner: i}
			taken = append(taken, HeldLock{Relation: k.rel, Lock: k.lock})
		}
		if wrap {
			if err := execSimple(ctx, m.conn, "COMMIT"); err != nil {
				o.Err = err.Error()
				m.closeBlock(time.Now())
				return fmt.Errorf("%s: %w", st.Where(), err)
			}
			end = time.Now()
			o.Took = end.Sub(start)
			m.closeBlock(end)
			m.emit(statementLine(st, o.Took, heldText(o.Locks, false, "")))
			return nil
		}
		sortHeld(taken)
		m.emit(statementLine(st, o.Took, heldText(strongestHeld(taken), true, "")))
		return nil
	}

	for k, s := range seen {
		if m.open[k] != nil {
			continue
		}
		to := end
		if !s.gone.IsZero() && s.gone.Before(end) {
			to = s.gone
		}
		o.Locks = append(o.Locks, HeldLock{Relation: k.rel, Lock: k.lock, Held: max(to.Sub(s.from), 0)})
	}
	o.Locks = strongestHeld(o.Locks)
	released := m.closeBlock(end)
	line := statementLine(st, o.Took, heldText(o.Locks, false, ""))
	if len(released) > 0 {
		line += "; released " + heldText(released, false, "after ")
	}
	m.emit(line)
	return nil
}

// statementLine is what the operator watches of one statement as it
// finishes: where, the statement on one line, how long, what it held.
func statementLine(st Statement, took time.Duration, what string) string {
	return fmt.Sprintf("%s  %s  %s  %s", st.Where(), snapshot.QueryLine(st.SQL, 60), figureDuration(took), what)
}

// closeBlock ends the open transaction block at end: each lock taken in it
// was held by its statement until then. It returns what was released.
func (m *measurer) closeBlock(end time.Time) []HeldLock {
	var released []HeldLock
	for k, l := range m.open {
		h := HeldLock{Relation: k.rel, Lock: k.lock, Held: max(end.Sub(l.from), 0)}
		o := &m.observed[l.owner]
		o.Locks = strongestHeld(append(o.Locks, h))
		released = append(released, h)
	}
	clear(m.open)
	sortHeld(released)
	return released
}

func sortHeld(hs []HeldLock) {
	slices.SortFunc(hs, func(a, b HeldLock) int {
		if c := cmp.Compare(b.Lock, a.Lock); c != 0 {
			return c
		}
		return cmp.Compare(a.Relation, b.Relation)
	})
}

// heldText lists locks for a line: each with how long it was held
// (after "after " once released), or, in an open block, with the note
// that they are held until it ends.
func heldText(hs []HeldLock, open bool, after string) string {
	if len(hs) == 0 {
		return "no locks"
	}
	const shown = 3 // a rewrite locks every index too: the table says it
	parts := make([]string, 0, min(len(hs), shown)+1)
	for i, h := range hs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(hs)-shown))
			break
		}
		p := h.Lock.String() + " on " + h.Relation
		if !open {
			p += " " + after + figureDuration(h.Held)
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, ", ")
	if open {
		s += " (held until the transaction ends)"
	}
	return s
}

// measureLocksSQL lists a backend's granted relation locks in the database,
// named schema-qualified. The catalogs, TOAST and temporary schemas (all
// "pg_…") are the session's own business.
const measureLocksSQL = `SELECT c.oid::int8, quote_ident(n.nspname) || '.' || quote_ident(c.relname), l.mode
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = %s AND l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND n.nspname NOT LIKE 'pg\_%%' AND n.nspname <> 'information_schema'`

// strongestHeld keeps one lock per relation, the strongest (a
// statement that takes SHARE and then ACCESS EXCLUSIVE on a table held
// ACCESS EXCLUSIVE), sorted strongest first.
func strongestHeld(hs []HeldLock) []HeldLock {
	best := map[string]HeldLock{}
	for _, h := range hs {
		if b, ok := best[h.Relation]; !ok || h.Lock > b.Lock || (h.Lock == b.Lock && h.Held > b.Held) {
			best[h.Relation] = h
		}
	}
	out := make([]HeldLock, 0, len(best))
	for _, h := range best {
		out = append(out, h)
	}
	sortHeld(out)
	return out
}

// isTransactionControl reports whether sql begins or ends a transaction
// block itself, and so must not be wrapped in one.
func isTransactionControl(sql string) bool {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return false
	}
	for _, st := range tree.GetStmts() {
		if st.GetStmt().GetTransactionStmt() != nil {
			return true
		}
	}
	return false
}

type span struct {
	from time.Time // the last sample that did not see it, or the start
	gone time.Time // the first sample that no longer saw it
}

// sample watches the migration's backend from the second session until
// the returned stop is called, which returns every lock seen.
func (m *measurer) sample(ctx context.Context, start time.Time) (stop func() map[relLock]span) {
	done := make(chan struct{})
	result := make(chan map[relLock]span, 1)
	sql := fmt.Sprintf(measureLocksSQL, "$1")
	go func() {
		spans := map[relLock]*span{}
		prev := start
		tick := time.NewTicker(measureEvery)
		defer tick.Stop()
		for {
			at := time.Now()
			held, err := queryLocks(ctx, m.watch, sql, m.pid)
			if err == nil {
				now := map[relLock]bool{}
				for _, h := range held {
					now[h.relLock] = true
					if s := spans[h.relLock]; s == nil {
						spans[h.relLock] = &span{from: prev}
					} else {
						s.gone = time.Time{}
					}
				}
				for k, s := range spans {
					if !now[k] && s.gone.IsZero() {
						s.gone = at
					}
				}
				prev = at
			}
			select {
			case <-done:
				out := make(map[relLock]span, len(spans))
				for k, s := range spans {
					out[k] = *s
				}
				result <- out
				return
			case <-ctx.Done():
				<-done
				result <- nil
				return
			case <-tick.C:
			}
		}
	}()
	return func() map[relLock]span {
		close(done)
		return <-result
	}
}

type oidLock struct {
	oid int64
	relLock
}

func queryLocks(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]oidLock, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oidLock
	for rows.Next() {
		var (
			l    oidLock
			mode string
		)
		if err := rows.Scan(&l.oid, &l.rel, &mode); err != nil {
			return nil, err
		}
		if l.lock = LockFromMode(mode); l.lock != NoLock {
			out = append(out, l)
		}
	}
	return out, rows.Err()
}

// ownLocks reads, on the migration's session, inside its transaction, the
// relation locks it holds: exact, where sampling may miss a short
// statement. Relations created in the transaction are left out: nobody
// else can see them, let alone wait for them, and the watching session's
// snapshot tells them apart.
func (m *measurer) ownLocks(ctx context.Context) ([]relLock, error) {
	held, err := queryLocks(ctx, m.conn, fmt.Sprintf(measureLocksSQL, "pg_backend_pid()"), pgx.QueryExecModeSimpleProtocol)
	if err != nil || len(held) == 0 {
		return nil, err
	}
	oids := make([]int64, len(held))
	for i, h := range held {
		oids[i] = h.oid
	}
	rows, err := m.watch.Query(ctx, "SELECT oid::int8 FROM pg_class WHERE oid::int8 = ANY($1)", oids)
	if err != nil {
		return nil, err
	}
	visible, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var out []relLock
	for _, h := range held {
		if slices.Contains(visible, h.oid) {
			out = append(out, h.relLock)
		}
	}
	return out, nil
}

// execSimple sends sql with the simple protocol, as psql does, so utility
// statements and BEGIN/COMMIT work, and discards any rows.
func execSimple(ctx context.Context, conn *pgx.Conn, sql string) error {
	mrr := conn.PgConn().Exec(ctx, sql)
	var first error
	for mrr.NextResult() {
		if _, err := mrr.ResultReader().Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := mrr.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// figureDuration is a statement's duration: "350ms", "4.1s", "1m12s".
func figureDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return figureAge(d)
}
