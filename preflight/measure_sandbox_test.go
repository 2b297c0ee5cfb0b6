package preflight_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// scratchDB makes a database of the test's own on the sandbox server, a
// stand-in for a clone that never touches acme, runs setup in it, and
// drops it at cleanup. It returns a superuser DSN for it.
func scratchDB(tb testing.TB, prefix, setup string) string {
	tb.Helper()
	info := sandboxtest.Start(tb)
	var b [3]byte
	rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, info.PostgresAdmin)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	u, err := url.Parse(info.PostgresAdmin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	dsn := u.String()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, setup); err != nil {
		tb.Fatal(err)
	}
	return dsn
}

const cloneSetup = `CREATE TABLE t (id int PRIMARY KEY, n int, m int, s text);
INSERT INTO t SELECT g, g % 1000, g, md5(g::text) FROM generate_series(1, 300000) g;
ANALYZE t`

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) emit(t *testing.T) func(string) {
	return func(s string) {
		t.Log(s)
		l.mu.Lock()
		l.l = append(l.l, s)
		l.mu.Unlock()
	}
}

func heldOn(o preflight.Observed, rel string, lock preflight.Lock) (preflight.HeldLock, bool) {
	for _, h := range o.Locks {
		if h.Relation == rel && h.Lock == lock {
			return h, true
		}
	}
	return preflight.HeldLock{}, false
}

func near(a, b, slack time.Duration) bool {
	d := a - b
	return d >= -slack && d <= slack
}

// TestMeasureOnAClone runs a migration on a table of 300,000 rows and
// checks the locks seen against what the documentation says each
// statement takes, and for how long.
func TestMeasureOnAClone(t *testing.T) {
	dsn := scratchDB(t, "preflight_measure", cloneSetup)
	cc := connConfig(t, dsn)
	stmt := func(line int, sql string) preflight.Statement {
		return preflight.Statement{File: "migrate.sql", Line: line, SQL: sql}
	}
	stmts := []preflight.Statement{
		stmt(1, "CREATE INDEX t_n_idx ON t (n)"),
		stmt(2, "CREATE INDEX CONCURRENTLY t_m_idx ON t (m)"),
		stmt(3, "ALTER TABLE t ALTER COLUMN n TYPE bigint"),
		stmt(4, "BEGIN"),
		stmt(5, "ALTER TABLE t ADD COLUMN x int"),
		stmt(6, "SELECT pg_sleep(0.3)"),
		stmt(7, "COMMIT"),
	}
	var out lines
	obs, err := preflight.Measure(context.Background(), cc, stmts, 0, out.emit(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != len(stmts) || len(out.l) != len(stmts) {
		t.Fatalf("%d observations, %d lines for %d statements", len(obs), len(out.l), len(stmts))
	}

	// CREATE INDEX holds SHARE for the whole build: writes wait that long.
	create := obs[0]
	h, ok := heldOn(create, "public.t", preflight.Share)
	if !ok || !near(h.Held, create.Took, 25*time.Millisecond+create.Took/20) {
		t.Errorf("CREATE INDEX took %s, locks %+v: want SHARE on public.t for about as long", create.Took, create.Locks)
	}
	if create.Locks[0] != h {
		t.Errorf("locks %+v: want SHARE on public.t first, the strongest", create.Locks)
	}
	if !strings.HasPrefix(out.l[0], "migrate.sql:1  CREATE INDEX t_n_idx ON t (n)  ") || !strings.Contains(out.l[0], "  SHARE on public.t ") {
		t.Errorf("line %q", out.l[0])
	}

	// CONCURRENTLY cannot run in a transaction block: only sampling sees
	// its SHARE UPDATE EXCLUSIVE, which lets writes through.
	if h, ok := heldOn(obs[1], "public.t", preflight.ShareUpdateExclusive); !ok || h.Held <= 0 {
		t.Errorf("CREATE INDEX CONCURRENTLY locks %+v: want SHARE UPDATE EXCLUSIVE on public.t", obs[1].Locks)
	}
	if _, ok := heldOn(obs[1], "public.t", preflight.Share); ok {
		t.Errorf("CREATE INDEX CONCURRENTLY locks %+v: SHARE seen", obs[1].Locks)
	}

	// A type change rewrites the table under ACCESS EXCLUSIVE.
	if h, ok := heldOn(obs[2], "public.t", preflight.AccessExclusive); !ok || !near(h.Held, obs[2].Took, 25*time.Millisecond+obs[2].Took/20) {
		t.Errorf("ALTER COLUMN TYPE took %s, locks %+v: want ACCESS EXCLUSIVE on public.t throughout", obs[2].Took, obs[2].Locks)
	}

	// In a block, the ALTER's lock outlives the ALTER: held until COMMIT,
	// across the sleep.
	alter := obs[4]
	h, ok = heldOn(alter, "public.t", preflight.AccessExclusive)
	block := alter.Took + obs[5].Took + obs[6].Took
	if !ok || h.Held < 300*time.Millisecond || h.Held < block-10*time.Millisecond || h.Held > block+150*time.Millisecond {
		t.Errorf("ALTER in a block took %s, the block %s; locks %+v: want ACCESS EXCLUSIVE on public.t until COMMIT", alter.Took, block, alter.Locks)
	}
	if len(obs[5].Locks) != 0 || len(obs[6].Locks) != 0 {
		t.Errorf("the sleep and COMMIT: %+v, %+v: the lock belongs to the ALTER", obs[5].Locks, obs[6].Locks)
	}
	if !strings.Contains(out.l[4], "ACCESS EXCLUSIVE on public.t (held until the transaction ends)") ||
		!strings.Contains(out.l[6], "released ACCESS EXCLUSIVE on public.t after ") {
		t.Errorf("lines %q, %q: want the lock held, then released", out.l[4], out.l[6])
	}
	for _, o := range obs {
		for _, l := range o.Locks {
			if strings.HasPrefix(l.Relation, "pg_") {
				t.Errorf("%s: catalog lock %+v", o.Where(), l)
			}
		}
	}
}

// TestMeasureStopsAtALockTimeout: a transaction holding the table makes
// the ALTER give up after lock_timeout (55P03); the run stops there, its
// block rolled back, as psql -v ON_ERROR_STOP=1 would.
func TestMeasureStopsAtALockTimeout(t *testing.T) {
	dsn := scratchDB(t, "preflight_measure", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)")
	cc := connConfig(t, dsn)
	holder := sandboxtest.OpenSession(t, dsn, "preflight-holder")
	holder.Exec("BEGIN")
	holder.Exec("SELECT 1 FROM t LIMIT 1")

	stmts := []preflight.Statement{
		{File: "migrate.sql", Line: 1, SQL: "BEGIN"},
		{File: "migrate.sql", Line: 2, SQL: "ALTER TABLE t ADD COLUMN y int"},
		{File: "migrate.sql", Line: 3, SQL: "COMMIT"},
		{File: "migrate.sql", Line: 4, SQL: "CREATE TABLE after_the_failure ()"},
	}
	var out lines
	obs, err := preflight.Measure(context.Background(), cc, stmts, 200*time.Millisecond, out.emit(t))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("error %v: want lock_timeout's 55P03", err)
	}
	if len(obs) != 2 || !strings.Contains(obs[1].Err, "55P03") || obs[1].Took < 200*time.Millisecond || obs[1].Took > 2*time.Second {
		t.Fatalf("observed %+v: want two statements, the ALTER failed after about 200ms", obs)
	}
	if !strings.Contains(out.l[1], "failed: ERROR: canceling statement due to lock timeout (SQLSTATE 55P03)") {
		t.Errorf("line %q", out.l[1])
	}
	var tables int
	if err := holder.Conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_class WHERE relname = 'after_the_failure'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the statement after the failure ran (%d, %v)", tables, err)
	}
}
