package sources

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// The cockpit's own session must never pile onto a locked database: every
// statement gives up after ProbeStatementTimeout, and waits for a lock (a
// catalog another session rewrites) at most ProbeLockTimeout.
const (
	ProbeStatementTimeout = 2 * time.Second
	ProbeLockTimeout      = time.Second
	probeConnectTimeout   = 3 * time.Second
)

// PostgresConnConfig parses a target's DSN the way libpq does (PG* variables
// and .pgpass included), after template expansion, and marks the session as
// the cockpit's so it is recognisable in pg_stat_activity.
func PostgresConnConfig(t config.PostgresTarget, vars map[string]string) (*pgconn.Config, error) {
	cc, err := PostgresPgxConfig(t, vars)
	if err != nil {
		return nil, err
	}
	return &cc.Config, nil
}

// PostgresPgxConfig is PostgresConnConfig for pgx connections.
func PostgresPgxConfig(t config.PostgresTarget, vars map[string]string) (*pgx.ConnConfig, error) {
	dsn, err := config.Expand(t.DSN, vars, false)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", t.Name, err)
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", t.Name, err)
	}
	// Only a password actually given replaces libpq's own sources
	// (PGPASSWORD, PGPASSFILE, ~/.pgpass), which ParseConfig has read.
	if t.Password.IsSet() && t.Password.Value() != "" {
		cc.Password = t.Password.Value()
	}
	cc.RuntimeParams["application_name"] = "flightdeck"
	return cc, nil
}

// readOnlySession makes a connection safe to watch a production database
// with: read-only, short statement and lock timeouts, and no transaction left
// open by accident.
func readOnlySession(cc *pgx.ConnConfig) {
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	cc.RuntimeParams["statement_timeout"] = strconv.Itoa(int(ProbeStatementTimeout.Milliseconds()))
	cc.RuntimeParams["lock_timeout"] = strconv.Itoa(int(ProbeLockTimeout.Milliseconds()))
	cc.RuntimeParams["idle_in_transaction_session_timeout"] = "5000"
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > probeConnectTimeout {
		cc.ConnectTimeout = probeConnectTimeout
	}
}

// ProbePostgres connects to one target as the locks pane does and checks
// that its role can do what the cockpit needs: read every session's query
// and wait (pg_read_all_stats, part of pg_monitor) and cancel or terminate
// other roles' sessions (pg_signal_backend).
func ProbePostgres(ctx context.Context, t config.PostgresTarget, vars map[string]string) snapshot.Reach {
	cc, err := PostgresPgxConfig(t, vars)
	if err != nil {
		return snapshot.Reach{Target: t.Name, Err: err}
	}
	readOnlySession(cc)
	r := snapshot.Reach{Target: fmt.Sprintf("%s (%s)", t.Name, where(&cc.Config))}
	if dl, ok := ctx.Deadline(); ok {
		cc.ConnectTimeout = time.Until(dl)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		r.Err = err
		return r
	}
	defer conn.Close(context.Background())
	r.Detail = "PostgreSQL " + conn.PgConn().ParameterStatus("server_version")
	var (
		role                  string
		super, stats, signals bool
	)
	if err := conn.QueryRow(ctx, `SELECT current_user, rolsuper,
  pg_has_role('pg_read_all_stats', 'USAGE'), pg_has_role('pg_signal_backend', 'USAGE')
FROM pg_roles WHERE rolname = current_user`).Scan(&role, &super, &stats, &signals); err != nil {
		r.Err = fmt.Errorf("reading the rights of the role it signs in as: %w", err)
		return r
	}
	if super {
		r.Detail += fmt.Sprintf("; role %s is a superuser", role)
		return r
	}
	var problems, fixes []string
	if !stats {
		problems = append(problems, fmt.Sprintf("role %s cannot see other sessions' queries and waits (the locks pane would call them idle)", role))
		fixes = append(fixes, "GRANT pg_monitor TO "+sqlIdent(role))
	}
	if !signals {
		problems = append(problems, fmt.Sprintf("role %s may cancel or terminate only its own sessions", role))
		fixes = append(fixes, "GRANT pg_signal_backend TO "+sqlIdent(role))
	}
	if len(problems) > 0 {
		r.Err = errors.New(strings.Join(problems, "; "))
		r.Fix = strings.Join(fixes, "; ") + " (as a superuser or the database's admin role)"
		return r
	}
	r.Detail += fmt.Sprintf("; role %s sees every session (pg_read_all_stats) and may signal them (pg_signal_backend)", role)
	return r
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// sqlIdent quotes a role name only where SQL needs it, so the GRANT reads
// as a person would type it.
func sqlIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

func where(pc *pgconn.Config) string {
	return fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)
}

// Postgres is the locks source: it reads every target each Poll interval, all
// targets at once, never starting a read while one is in flight.
type Postgres struct {
	Config *config.Config
	Day    time.Time // picks the clone's templated name; zero means today
	// Interval overrides [postgres] poll, for tests.
	Interval time.Duration
}

// Name implements Source.
func (p *Postgres) Name() string { return "postgres" }

// Run implements Source. A target that fails keeps its last good reading
// with its error; the snapshot itself fails only when the configuration
// cannot be used at all.
func (p *Postgres) Run(ctx context.Context, emit func(Snapshot[snapshot.DBState])) error {
	cfg := p.Config
	if errs := cfg.SecretErrors["postgres"]; len(errs) > 0 {
		return errs
	}
	day := p.Day
	if day.IsZero() {
		day = time.Now()
	}
	vars := cfg.TemplateVars(day)
	probes := make([]*LockProbe, len(cfg.Postgres.Targets))
	for i, t := range cfg.Postgres.Targets {
		probes[i] = &LockProbe{Target: t, Vars: vars}
	}
	defer func() {
		for _, pr := range probes {
			pr.Close()
		}
	}()
	interval := p.Interval
	if interval <= 0 {
		interval = cfg.Postgres.Poll.D()
	}
	last := make([]snapshot.TargetLocks, len(probes))
	read := func(ctx context.Context) (snapshot.DBState, error) {
		var wg sync.WaitGroup
		for i, pr := range probes {
			wg.Go(func() {
				// The server's timeouts do nothing for a cut network or a
				// pooler queueing the probe: bound the whole read here, so
				// one hung target cannot hold the others' readings back.
				rctx, cancel := context.WithTimeout(ctx, probeConnectTimeout+ProbeStatementTimeout+time.Second)
				t, err := pr.Read(rctx)
				cancel()
				if err != nil {
					// Keep what was last seen, marked with why it is old.
					t = last[i]
					t.Name, t.Err = pr.Target.Name, err
					if t.Where == "" {
						t.Where = pr.where
					}
				}
				last[i] = t
			})
		}
		wg.Wait()
		s := snapshot.DBState{Targets: append([]snapshot.TargetLocks(nil), last...),
			LockThreshold: cfg.Postgres.LockThreshold.D(), LongQuery: cfg.Postgres.LongQuery.D()}
		return s, nil
	}
	return Poll(ctx, interval, read, emit)
}

// LockProbe reads one target's backends and locks over one long-lived
// connection, reconnecting after a failure.
type LockProbe struct {
	Target config.PostgresTarget
	Vars   map[string]string

	conn     *pgx.Conn
	where    string
	database string
	version  int // server_version_num
}

// Close drops the connection.
func (p *LockProbe) Close() {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.conn.Close(ctx)
		p.conn = nil
	}
}

func (p *LockProbe) connect(ctx context.Context) error {
	cc, err := PostgresPgxConfig(p.Target, p.Vars)
	if err != nil {
		return err
	}
	readOnlySession(cc)
	p.where, p.database = where(&cc.Config), cc.Database
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	// Without pg_read_all_stats the server hides other roles' sessions'
	// transactions and queries: they would all look idle and the pane
	// would say "nothing waits" while a migration holds the table.
	var seesAll bool
	if err := conn.QueryRow(ctx, `SELECT pg_has_role('pg_read_all_stats', 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&seesAll); err != nil {
		conn.Close(context.Background())
		return err
	}
	if !seesAll {
		conn.Close(context.Background())
		return fmt.Errorf("role %q cannot see other sessions' queries and transactions: GRANT pg_monitor TO %q (or pg_read_all_stats)", cc.User, cc.User)
	}
	p.version, _ = strconv.Atoi(conn.PgConn().ParameterStatus("server_version_num"))
	if p.version == 0 {
		var v string
		if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err == nil {
			p.version, _ = strconv.Atoi(v)
		}
	}
	p.conn = conn
	return nil
}

// backendsSQL reads the target database's sessions. It first lists them
// with the per-backend accessors, which cost next to nothing, and builds
// the full pg_stat_activity row only for the sessions in a transaction (a
// session outside one holds no lock that matters here and runs no query)
// and for any other session that blocks someone (an idle one: a
// session-level advisory lock outlives its transaction; a background
// worker): a pool of a thousand idle connections would
// otherwise be most of the probe's cost. pg_blocking_pids is asked only for
// the sessions waiting on a lock, since each call takes every lock-manager
// partition. The last row (pid NULL) carries the number of idle sessions
// left out.
const backendsSQL = `WITH ids AS MATERIALIZED (
  SELECT pg_stat_get_backend_pid(i) AS pid, pg_stat_get_backend_xact_start(i) IS NULL AS idle
  FROM pg_stat_get_backend_idset() i
  WHERE pg_stat_get_backend_dbid(i) = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND pg_stat_get_backend_pid(i) <> pg_backend_pid()
), busy AS MATERIALIZED (
  SELECT s.pid, s.backend_type, s.usesysid, s.application_name, s.client_addr, s.state,
    s.wait_event_type, s.wait_event, s.xact_start, s.query_start, s.state_change, s.query,
    CASE WHEN s.wait_event_type = 'Lock' THEN pg_blocking_pids(s.pid) END AS blockers
  FROM ids CROSS JOIN LATERAL pg_stat_get_activity(ids.pid) s
  WHERE NOT ids.idle AND s.backend_type IN ('client backend', 'autovacuum worker')
), blocking AS (
  SELECT DISTINCT unnest(blockers) AS pid FROM busy WHERE blockers IS NOT NULL
), a AS (
  SELECT * FROM busy
  UNION ALL
  SELECT s.pid, s.backend_type, s.usesysid, s.application_name, s.client_addr, s.state,
    s.wait_event_type, s.wait_event, s.xact_start, s.query_start, s.state_change, s.query, NULL
  FROM ids CROSS JOIN LATERAL pg_stat_get_activity(ids.pid) s
  WHERE ids.pid IN (SELECT pid FROM blocking) AND ids.pid NOT IN (SELECT pid FROM busy)
)
SELECT a.pid, a.backend_type, coalesce(pg_get_userbyid(a.usesysid)::text, ''), coalesce(a.application_name, ''),
  coalesce(host(a.client_addr), ''), coalesce(a.state, ''),
  coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''),
  a.xact_start, a.query_start, a.state_change, coalesce(a.query, ''), a.blockers,
  statement_timestamp(), 0::bigint
FROM a
UNION ALL
SELECT NULL, '', '', '', '', '', '', '', NULL, NULL, NULL, '', NULL, statement_timestamp(),
  count(*) FILTER (WHERE ids.idle AND ids.pid NOT IN (SELECT pid FROM blocking))
FROM ids`

// locksSQL copies the lock table once and returns the waits and the heavy
// relation locks held, then a count per session and mode; the scan keeps
// the sessions of the target database (already read), which is cheaper than
// asking pg_stat_activity again here. A relation is named only in the
// database the probe is connected to: elsewhere the same OID is another
// table.
const locksSQL = `WITH l AS MATERIALIZED (
  SELECT pid, locktype, mode, granted, database, relation, %s AS waitstart FROM pg_locks
  WHERE pid <> pg_backend_pid()
)
SELECT l.pid, l.locktype, l.mode, l.granted,
  CASE WHEN l.relation IS NULL THEN ''
       WHEN l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) THEN l.relation::regclass::text
       ELSE 'oid ' || l.relation::text END,
  l.waitstart, 0::bigint
FROM l
WHERE (NOT l.granted OR (l.locktype = 'relation' AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')))
UNION ALL
SELECT l.pid, '', l.mode, l.granted, '', NULL, count(*) FROM l GROUP BY l.pid, l.mode, l.granted`

// ErrCatalogContended says the probe gave up instead of queueing behind
// someone else's lock on a catalog.
var ErrCatalogContended = errors.New("the probe's own read timed out: the catalog or lock table is contended; it will try again")

// Read takes one reading of the target. Both statements go in one pipeline,
// so they cost one round trip and run in one implicit read-only transaction.
func (p *LockProbe) Read(ctx context.Context) (snapshot.TargetLocks, error) {
	t := snapshot.TargetLocks{Name: p.Target.Name}
	if p.conn == nil || p.conn.IsClosed() {
		p.conn = nil
		if err := p.connect(ctx); err != nil {
			t.Where = p.where
			return t, err
		}
	}
	t.Where = p.where
	t.Server = p.conn.PgConn().ParameterStatus("server_version")
	waitstart := "NULL::timestamptz"
	if p.version >= 140000 {
		waitstart = "waitstart"
	}
	started := time.Now()
	b := &pgx.Batch{}
	b.Queue(backendsSQL)
	b.Queue(fmt.Sprintf(locksSQL, waitstart))
	br := p.conn.SendBatch(ctx, b)
	err := p.scan(br, &t)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	t.Took = time.Since(started)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "57014" || pgErr.Code == "55P03") {
			// statement_timeout or lock_timeout: the session is fine.
			return t, fmt.Errorf("%w (%s)", ErrCatalogContended, pgErr.Message)
		}
		p.Close()
		return t, err
	}
	t.GoodAt = time.Now()
	return t, nil
}

func (p *LockProbe) scan(br pgx.BatchResults, t *snapshot.TargetLocks) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			b                        snapshot.Backend
			pid                      *int32
			xact, query, change, now *time.Time
			blockers                 []int32
			idle                     int64
		)
		if err := rows.Scan(&pid, &b.Type, &b.User, &b.Application, &b.ClientAddr, &b.State,
			&b.WaitEventType, &b.WaitEvent, &xact, &query, &change, &b.Query, &blockers, &now, &idle); err != nil {
			rows.Close()
			return err
		}
		t.At = deref(now)
		if pid == nil {
			t.Idle = int(idle)
			continue
		}
		b.PID, b.Database = *pid, p.database
		b.XactStart, b.QueryStart, b.StateChange = deref(xact), deref(query), deref(change)
		b.BlockedBy = blockers
		t.Backend = append(t.Backend, b)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = br.Query()
	if err != nil {
		return err
	}
	var locks []lockRow
	modes := map[string]*snapshot.ModeCount{}
	var order []string
	mine := make(map[int32]bool, len(t.Backend))
	for _, b := range t.Backend {
		mine[b.PID] = true
	}
	for rows.Next() {
		var (
			pid   *int32
			l     lockRow
			since *time.Time
			n     int64
		)
		if err := rows.Scan(&pid, &l.LockType, &l.Mode, &l.Granted, &l.Relation, &since, &n); err != nil {
			rows.Close()
			return err
		}
		if pid == nil || !mine[*pid] {
			// Other databases' sessions, and this one's idle sessions that block nobody.
			continue
		}
		if n > 0 {
			m := modes[l.Mode]
			if m == nil {
				m = &snapshot.ModeCount{Mode: l.Mode}
				modes[l.Mode] = m
				order = append(order, l.Mode)
			}
			if l.Granted {
				m.Granted += int(n)
			} else {
				m.Waiting += int(n)
			}
			t.Locks += int(n)
			continue
		}
		l.PID, l.WaitStart = *pid, deref(since)
		locks = append(locks, l)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range lockModeOrder {
		if c := modes[m]; c != nil {
			t.Modes = append(t.Modes, *c)
			delete(modes, m)
		}
	}
	for _, m := range order {
		if c := modes[m]; c != nil {
			t.Modes = append(t.Modes, *c)
		}
	}
	if t.At.IsZero() {
		t.At = time.Now()
	}
	buildTarget(t, locks)
	return nil
}

// lockModeOrder is strongest first, so the summary leads with what hurts.
var lockModeOrder = []string{"AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock",
	"ShareUpdateExclusiveLock", "RowExclusiveLock", "RowShareLock", "AccessShareLock"}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
