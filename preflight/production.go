package preflight

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Production is asked while people use it: every statement gives up after
// productionStatementTimeout, a catalog lock is waited for at most
// productionLockTimeout, and nothing can be written by accident.
const (
	productionConnectTimeout   = 5 * time.Second
	productionStatementTimeout = 2 * time.Second
	productionLockTimeout      = time.Second
	holderQuery                = 200 // runes of a holder's query kept
)

// ReadProduction asks production about everything the migration touches:
// the tables' size, the indexes' use, and the transactions holding or
// waiting for locks on them now. Names are resolved by to_regclass in the
// session's search_path, as the migration's own statements would be, and
// the maps are keyed by the names as written. Holders and Waiting of an
// index are those of its table, under the index's name, so every
// Relation.Name finds its entry. The four queries go in one round trip.
//
// It never fails: a connection or query failure is Production.Err, and the
// maps then hold whatever was read before it.
func ReadProduction(ctx context.Context, target string, cc *pgx.ConnConfig, as []Analysis) (p Production) {
	p = Production{
		Target:  target,
		At:      time.Now(),
		Tables:  map[string]TableFacts{},
		Indexes: map[string]IndexFacts{},
		Holders: map[string][]Holder{},
		Waiting: map[string]int{},
	}
	defer func() { p.Took = time.Since(p.At) }()

	var tables, indexes []string
	seen := map[Relation]bool{}
	for _, a := range as {
		if a.NewTable {
			continue
		}
		for _, r := range a.Relations {
			k := Relation{Name: r.Name, Index: r.Index}
			if seen[k] {
				continue
			}
			seen[k] = true
			if !regclassSafe(r.Name, cc.Database) {
				// to_regclass raises on a malformed or cross-database
				// name: left out, it reads as absent instead of failing
				// every other name's reading.
				if r.Index {
					p.Indexes[r.Name] = IndexFacts{}
				} else {
					p.Tables[r.Name] = TableFacts{}
				}
				continue
			}
			if r.Index {
				indexes = append(indexes, r.Name)
			} else {
				tables = append(tables, r.Name)
			}
		}
	}
	if len(tables)+len(indexes) == 0 {
		return p
	}

	cfg := cc.Copy()
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(productionStatementTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(productionLockTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "5000"
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > productionConnectTimeout {
		cfg.ConnectTimeout = productionConnectTimeout
	}
	// Without a describe step each query is one message in the batch's
	// single round trip, not a prepare and then an execute.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	// A dropped socket would leave the query running on production until
	// its statement_timeout: a cancelled reading cancels it there too.
	cfg.BuildContextWatcherHandler = cancelOnServer
	// The server's timeouts do nothing for a cut network or a pooler that
	// queues the session.
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+productionStatementTimeout+time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.Err = err
		return p
	}
	defer conn.Close(context.Background())

	lastScan := "NULL::timestamptz"
	if serverMajorVersion(conn.PgConn().ParameterStatus("server_version")) >= 16 {
		lastScan = "pg_stat_get_lastscan(c.oid)"
	}
	b := &pgx.Batch{}
	b.Queue(productionHeadSQL)
	b.Queue(productionTablesSQL, tables)
	b.Queue(fmt.Sprintf(productionIndexesSQL, lastScan), indexes)
	b.Queue(productionLocksSQL, append(slices.Clone(tables), indexes...))
	br := conn.SendBatch(ctx, b)
	err = readProductionRows(br, &p)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	p.Err = err
	return p
}

// productionHeadSQL: index scans count from the database's last
// statistics reset.
const productionHeadSQL = `SELECT (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())`

// exclusiveCTE lists the relations with an ACCESS EXCLUSIVE lock held or
// asked for: see relationSize.
const exclusiveCTE = `WITH exclusive AS MATERIALIZED (
  SELECT relation FROM pg_locks
  WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
`

// relationSize is the size of table x (an oid expression), with
// relationSizeJoin joined in. pg_total_relation_size opens the table, its
// TOAST table and its indexes under ACCESS SHARE, which queues behind an
// ACCESS EXCLUSIVE lock held or asked for, as by a migration under way:
// the whole reading would fail after lock_timeout, when the holders matter
// most. Such a table is sized from pg_class instead, as of its last
// VACUUM, ANALYZE or CREATE INDEX.
func relationSize(x string) string {
	return `CASE WHEN ` + x + ` IS NULL THEN 0 WHEN s.locked THEN coalesce(s.pages, 0)
    ELSE coalesce(pg_total_relation_size(` + x + `), 0) END`
}

func relationSizeJoin(x string) string {
	return `LEFT JOIN LATERAL (
  SELECT bool_or(p.oid IN (SELECT relation FROM exclusive)) AS locked,
    sum(p.relpages)::int8 * current_setting('block_size')::int8 AS pages
  FROM (SELECT ` + x + ` AS oid
    UNION ALL SELECT reltoastrelid FROM pg_class WHERE oid = ` + x + `
    UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = ` + x + `) o
  JOIN pg_class p ON p.oid = o.oid
) s ON true`
}

// Rows of a table never analyzed are -1 from Postgres 14 on; before, 0.
var productionTablesSQL = exclusiveCTE + `SELECT n.name, c.oid IS NOT NULL,
  coalesce(c.reltuples, 0)::float8, ` + relationSize("c.oid") + `
FROM unnest($1::text[]) AS n(name)
LEFT JOIN pg_class c ON c.oid = to_regclass(n.name) AND c.relkind IN ('r', 'p', 'm', 'f')
` + relationSizeJoin("c.oid")

// productionIndexesSQL reads the scan counters with the functions
// pg_stat_user_indexes is built on, by oid, rather than the view, which
// joins every index of the database first. The table's size comes along,
// since a dropped index's queries fall back to scanning it. Only the
// constraints on the index's own table count: a foreign key elsewhere
// names the referenced key's index too, and is dropped with it only by
// CASCADE.
var productionIndexesSQL = exclusiveCTE + `SELECT n.name, c.oid IS NOT NULL,
  coalesce(quote_ident(tn.nspname) || '.' || quote_ident(t.relname), ''),
  coalesce(pg_stat_get_numscans(c.oid), 0), %s,
  coalesce(k.conname, ''),
  coalesce(t.reltuples, 0)::float8, ` + relationSize("t.oid") + `
FROM unnest($1::text[]) AS n(name)
LEFT JOIN pg_class c ON c.oid = to_regclass(n.name) AND c.relkind IN ('i', 'I')
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN LATERAL (SELECT conname FROM pg_constraint
  WHERE conindid = c.oid AND conrelid = i.indrelid AND contype IN ('p', 'u', 'x') LIMIT 1) k ON true
` + relationSizeJoin("t.oid")

// productionLocksSQL copies the lock table once, keeps the relation locks
// on the tables asked about, and builds the activity row only for the
// sessions holding or waiting for one. pg_stat_get_activity(NULL) would
// list every backend, hence the guard. Prepared transactions (pid NULL)
// are not sessions and are left out. A transaction open for less than a
// second is the application's ordinary traffic, which a lock waits behind
// for milliseconds: only older ones are holders.
const productionLocksSQL = `WITH want AS (
  SELECT n.name, coalesce(i.indrelid, c.oid) AS relid
  FROM unnest($1::text[]) AS n(name)
  JOIN pg_class c ON c.oid = to_regclass(n.name)
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
), l AS MATERIALIZED (
  SELECT pid, relation, mode, granted FROM pg_locks
  WHERE locktype = 'relation' AND pid <> pg_backend_pid()
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND relation IN (SELECT relid FROM want)
)
SELECT w.name, l.pid, l.granted, l.mode,
  coalesce(pg_get_userbyid(a.usesysid)::text, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
  coalesce(extract(epoch FROM statement_timestamp() - a.xact_start), 0)::float8,
  left(coalesce(a.query, ''), 200)
FROM l JOIN want w ON w.relid = l.relation
LEFT JOIN LATERAL (SELECT * FROM pg_stat_get_activity(l.pid) WHERE l.pid IS NOT NULL) a ON true
WHERE NOT l.granted OR a.xact_start <= statement_timestamp() - interval '1 second'`

func readProductionRows(br pgx.BatchResults, p *Production) error {
	var reset *time.Time
	if err := br.QueryRow().Scan(&reset); err != nil {
		return err
	}
	var statsReset time.Time
	if reset != nil {
		statsReset = *reset
	}

	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			name   string
			f      TableFacts
			tuples float64
		)
		if err := rows.Scan(&name, &f.Exists, &tuples, &f.Bytes); err != nil {
			rows.Close()
			return err
		}
		f.Rows = reltuplesRows(tuples)
		p.Tables[name] = f
	}
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			name   string
			f      IndexFacts
			last   *time.Time
			tuples float64
			bytes  int64
		)
		if err := rows.Scan(&name, &f.Exists, &f.Table, &f.Scans, &last, &f.Constraint, &tuples, &bytes); err != nil {
			rows.Close()
			return err
		}
		if last != nil {
			f.LastScan = *last
		}
		f.StatsReset = statsReset
		p.Indexes[name] = f
		if f.Exists {
			if _, ok := p.Tables[f.Table]; !ok {
				p.Tables[f.Table] = TableFacts{Exists: true, Rows: reltuplesRows(tuples), Bytes: bytes}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = br.Query()
	if err != nil {
		return err
	}
	type key struct {
		name string
		pid  int32
	}
	held := map[key]*Holder{}
	var order []key
	waiting := map[key]bool{}
	for rows.Next() {
		var (
			k       key
			granted bool
			mode    string
			h       Holder
			age     float64
		)
		if err := rows.Scan(&k.name, &k.pid, &granted, &mode, &h.User, &h.App, &h.State, &age, &h.Query); err != nil {
			rows.Close()
			return err
		}
		if !granted {
			if !waiting[k] {
				waiting[k] = true
				p.Waiting[k.name]++
			}
			continue
		}
		lock := LockFromMode(mode)
		if prev := held[k]; prev != nil {
			prev.Mode = max(prev.Mode, lock)
			continue
		}
		h.PID, h.Mode = k.pid, lock
		h.XactAge = time.Duration(age * float64(time.Second))
		h.Query = snapshot.QueryLine(h.Query, holderQuery)
		held[k] = &h
		order = append(order, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range order {
		p.Holders[k.name] = append(p.Holders[k.name], *held[k])
	}
	for _, hs := range p.Holders {
		slices.SortStableFunc(hs, func(a, b Holder) int {
			if c := cmp.Compare(b.XactAge, a.XactAge); c != 0 {
				return c
			}
			return cmp.Compare(a.PID, b.PID)
		})
	}
	return nil
}

func cancelOnServer(pc *pgconn.PgConn) ctxwatch.Handler {
	return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: time.Second}
}

// reltuplesRows reads pg_class.reltuples: negative means never analyzed.
func reltuplesRows(tuples float64) int64 {
	if tuples < 0 {
		return -1
	}
	return int64(tuples)
}

// serverMajorVersion reads the major version from server_version ("15.8 (Debian
// …)", "16beta1"); 0 when it cannot.
func serverMajorVersion(v string) int {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}

// regclassSafe reports whether to_regclass can take name without raising:
// one to three dotted parts, none empty, quotes balanced, and a database
// part naming the database connected to.
func regclassSafe(name, database string) bool {
	type part struct {
		text   string
		quoted bool
	}
	var (
		parts  []part
		cur    strings.Builder
		quoted bool // inside quotes
		was    bool // the current part had quotes
	)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '"' && quoted && i+1 < len(name) && name[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted, was = !quoted, true
		case c == '.' && !quoted:
			parts = append(parts, part{cur.String(), was})
			cur.Reset()
			was = false
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, part{cur.String(), was})
	if quoted || len(parts) > 3 || slices.ContainsFunc(parts, func(p part) bool { return p.text == "" }) {
		return false
	}
	if len(parts) == 3 {
		db := parts[0].text
		if !parts[0].quoted {
			db = strings.ToLower(db)
		}
		return db == database
	}
	return true
}
