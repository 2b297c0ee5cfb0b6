package sources_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// lockTable makes a table of the test's own in the sandbox's application
// database, so concurrent tests never share a lock.
func lockTable(t *testing.T, dsn string) string {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	name := "locks_" + hex.EncodeToString(b[:])
	s := sandboxtest.OpenSession(t, dsn, "flightdeck-test-setup")
	s.Exec(fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, n int)", name))
	s.Exec(fmt.Sprintf("INSERT INTO %s SELECT g, 0 FROM generate_series(1, 10) g", name))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Conn.Exec(ctx, "DROP TABLE IF EXISTS "+name)
	})
	return name
}

func probeFor(t *testing.T, dsn string) *sources.LockProbe {
	p := &sources.LockProbe{Target: config.PostgresTarget{Name: "production", DSN: dsn}}
	t.Cleanup(p.Close)
	return p
}

// readUntil reads until ok accepts the reading, or fails after 15 s.
func readUntil(t *testing.T, p *sources.LockProbe, what string, ok func(snapshot.TargetLocks) bool) snapshot.TargetLocks {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last snapshot.TargetLocks
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tl, err := p.Read(ctx)
		cancel()
		if err == nil {
			last = tl
			if ok(tl) {
				return tl
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("never saw %s; last reading: waits %+v, held %+v", what, last.Waits, last.Held)
	return last
}

func waitOf(tl snapshot.TargetLocks, pid int32) (snapshot.Wait, bool) {
	for _, w := range tl.Waits {
		if w.PID == pid {
			return w, true
		}
	}
	return snapshot.Wait{}, false
}

func treeOf(tl snapshot.TargetLocks, pids ...int32) []snapshot.TreeRow {
	var rows []snapshot.TreeRow
	for _, r := range tl.Tree {
		if slices.Contains(pids, r.PID) {
			rows = append(rows, r)
		}
	}
	return rows
}

// TestLockChainShownAsTree: A holds a row, B waits for A while holding
// another row, C waits for B. The tree is A ▸ B ▸ C with A the root
// blocker, and the waits grow between readings.
func TestLockChainShownAsTree(t *testing.T) {
	info := sandboxtest.Start(t)
	dsn := info.PostgresApp
	tbl := lockTable(t, dsn)
	a, b, c := sandboxtest.OpenSession(t, dsn, "chain-a"), sandboxtest.OpenSession(t, dsn, "chain-b"), sandboxtest.OpenSession(t, dsn, "chain-c")
	a.Exec("BEGIN")
	a.Exec(fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = 1", tbl))
	b.Exec("BEGIN")
	b.Exec(fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = 2", tbl))
	bErr := b.Background(fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = 1", tbl))
	cErr := c.Background(fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = 2", tbl))

	p := probeFor(t, dsn)
	first := readUntil(t, p, "B waiting for A and C for B", func(tl snapshot.TargetLocks) bool {
		wb, okB := waitOf(tl, b.PID)
		wc, okC := waitOf(tl, c.PID)
		return okB && okC && slices.Equal(wb.BlockedBy, []int32{a.PID}) && slices.Equal(wc.BlockedBy, []int32{b.PID})
	})
	got := treeOf(first, a.PID, b.PID, c.PID)
	want := []snapshot.TreeRow{{PID: a.PID, Depth: 0}, {PID: b.PID, Depth: 1}, {PID: c.PID, Depth: 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("tree = %+v, want %+v", got, want)
	}
	if roots := first.RootsOf(c.PID); !slices.Equal(roots, []int32{a.PID}) {
		t.Errorf("RootsOf(C) = %v, want [A=%d]", roots, a.PID)
	}
	ab, _ := first.Find(a.PID)
	if !ab.IdleInTransaction() || ab.Blocks != 1 {
		t.Errorf("A = %+v: want idle in transaction blocking 1", ab)
	}
	wb, _ := waitOf(first, b.PID)
	if wb.LockType != "transactionid" || wb.Mode != "ShareLock" {
		t.Errorf("B waits for %s %s, want ShareLock on A's transactionid", wb.Mode, wb.LockType)
	}

	time.Sleep(1100 * time.Millisecond)
	second := readUntil(t, p, "the chain again", func(tl snapshot.TargetLocks) bool {
		_, ok := waitOf(tl, c.PID)
		return ok
	})
	w1, _ := waitOf(first, c.PID)
	w2, _ := waitOf(second, c.PID)
	if w2.For <= w1.For || w2.For-w1.For < time.Second {
		t.Errorf("C's wait did not grow by the time between readings: %v then %v", w1.For, w2.For)
	}
	if second.At.Sub(first.At) < time.Second {
		t.Errorf("server times %v and %v are less than a second apart", first.At, second.At)
	}
	a.Exec("ROLLBACK")
	if err := <-bErr; err != nil {
		t.Fatal(err)
	}
	b.Exec("ROLLBACK")
	if err := <-cErr; err != nil {
		t.Fatal(err)
	}
}

// TestTwoBlockersOnOneWaiter: two readers hold ACCESS SHARE; an ACCESS
// EXCLUSIVE request waits for both, and both are listed (pg_activity got
// this wrong once) and both are its root blockers.
func TestTwoBlockersOnOneWaiter(t *testing.T) {
	info := sandboxtest.Start(t)
	dsn := info.PostgresApp
	tbl := lockTable(t, dsn)
	r1, r2, w := sandboxtest.OpenSession(t, dsn, "reader-1"), sandboxtest.OpenSession(t, dsn, "reader-2"), sandboxtest.OpenSession(t, dsn, "ddl")
	for _, r := range []*sandboxtest.Session{r1, r2} {
		r.Exec("BEGIN")
		r.Exec("SELECT count(*) FROM " + tbl)
	}
	wErr := w.Background(fmt.Sprintf("ALTER TABLE %s ADD COLUMN extra int", tbl))
	p := probeFor(t, dsn)
	tl := readUntil(t, p, "the DDL waiting for both readers", func(tl snapshot.TargetLocks) bool {
		ww, ok := waitOf(tl, w.PID)
		return ok && len(ww.BlockedBy) == 2
	})
	ww, _ := waitOf(tl, w.PID)
	want := []int32{r1.PID, r2.PID}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(ww.BlockedBy))
	if !slices.Equal(got, want) {
		t.Errorf("blocked by %v, want %v", got, want)
	}
	if ww.Mode != "AccessExclusiveLock" || ww.Relation != tbl {
		t.Errorf("wait = %+v, want AccessExclusiveLock on %s", ww, tbl)
	}
	if roots := tl.RootsOf(w.PID); !slices.Equal(roots, want) {
		t.Errorf("RootsOf = %v, want %v", roots, want)
	}
	rows := treeOf(tl, r1.PID, r2.PID, w.PID)
	if len(rows) != 4 {
		t.Fatalf("tree rows %+v: want each reader with the DDL under it", rows)
	}
	if !rows[3].Repeat || rows[1].Repeat {
		t.Errorf("the waiter's second appearance should be marked as a repeat: %+v", rows)
	}
	for _, r := range []*sandboxtest.Session{r1, r2} {
		r.Exec("ROLLBACK")
	}
	if err := <-wErr; err != nil {
		t.Fatal(err)
	}
}

// TestProbeNeverBlocksDDL: while the probe reads as fast as it can, DDL
// with a 200 ms lock timeout must never time out because of it.
func TestProbeNeverBlocksDDL(t *testing.T) {
	info := sandboxtest.Start(t)
	dsn := info.PostgresApp
	tbl := lockTable(t, dsn)
	p := probeFor(t, dsn)
	if _, err := p.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := p.Read(ctx); err == nil {
				reads.Add(1)
			}
		}
	})
	ddl := sandboxtest.OpenSession(t, dsn, "ddl")
	ddl.Exec("SET lock_timeout = '200ms'")
	// At least 40 rounds, and on until the probe has read 20 times
	// alongside, however slow a shared machine makes either.
	for i := 0; i < 40 || reads.Load() < 20; i++ {
		if i > 1000 { // dropped columns still count towards the 1,600 a table may have
			t.Fatalf("only %d probe reads alongside %d rounds of DDL", reads.Load(), i)
		}
		ddl.Exec(fmt.Sprintf("ALTER TABLE %s ADD COLUMN c%d int", tbl, i))
		ddl.Exec(fmt.Sprintf("ALTER TABLE %s DROP COLUMN c%d", tbl, i))
	}
	cancel()
	wg.Wait()
}

// TestMigrationOnProductionBlocksWorkload runs the sandbox migration against
// the database the workload uses: the workload's sessions queue behind the
// migration, which is their root blocker and holds ACCESS EXCLUSIVE.
func TestMigrationOnProductionBlocksWorkload(t *testing.T) {
	info := sandboxtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pg.RunMigration(ctx, info.PostgresApp, 6) }()
	t.Cleanup(func() { cancel(); <-done })
	p := probeFor(t, info.PostgresApp)
	tl := readUntil(t, p, "workload sessions waiting for the migration", func(tl snapshot.TargetLocks) bool {
		mig := migrationPID(tl)
		if mig == 0 {
			return false
		}
		n := 0
		for _, w := range tl.Waits {
			b, _ := tl.Find(w.PID)
			if workloadSession(b.Application) && slices.Contains(tl.RootsOf(w.PID), mig) {
				n++
			}
		}
		return n >= 2
	})
	mig := migrationPID(tl)
	held := false
	for _, h := range tl.Held {
		if h.PID == mig && h.Mode == "AccessExclusiveLock" && h.Relation == "appointments" && h.Waiters > 0 {
			held = true
		}
	}
	if !held {
		t.Errorf("the migration's ACCESS EXCLUSIVE on appointments with waiters is missing: %+v", tl.Held)
	}
	if !slices.Contains(tl.RootBlockers(), mig) {
		t.Errorf("root blockers %v do not include the migration %d", tl.RootBlockers(), mig)
	}
	f := snapshot.DBState{Targets: []snapshot.TargetLocks{tl}, LockThreshold: 30 * time.Second, LongQuery: time.Minute}.Facts()
	if mw := f["locks.max_wait"]; !mw.Known || mw.Duration <= 0 {
		t.Errorf("locks.max_wait = %+v", mw)
	}
}

// TestMigrationOnCloneHoldsLock: on the clone nothing waits, and what the
// pane and locks.max_hold show is the lock held and for how long.
func TestMigrationOnCloneHoldsLock(t *testing.T) {
	info := sandboxtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pg.RunMigration(ctx, info.PostgresClone, 6) }()
	t.Cleanup(func() { cancel(); <-done })
	p := probeFor(t, info.PostgresClone)
	tl := readUntil(t, p, "the held ACCESS EXCLUSIVE on the clone for over 2 s", func(tl snapshot.TargetLocks) bool {
		for _, h := range tl.Held {
			if h.PID == migrationPID(tl) && h.Relation == "appointments" && h.Mode == "AccessExclusiveLock" && h.For > 2*time.Second {
				return true
			}
		}
		return false
	})
	f := snapshot.DBState{Targets: []snapshot.TargetLocks{tl}, LongQuery: time.Minute}.Facts()
	if mh := f["locks.max_hold"]; !mh.Known || mh.Duration <= 2*time.Second || !strings.Contains(mh.Detail, "appointments") {
		t.Errorf("locks.max_hold = %+v", mh)
	}
}

func migrationPID(tl snapshot.TargetLocks) int32 {
	for _, b := range tl.Backend {
		if b.Application == pg.MigrationApp && b.State == "active" {
			return b.PID
		}
	}
	return 0
}

// TestPostgresSourceTargetDown: a target that cannot be reached is marked
// down with its reason while the other target keeps reporting, and the
// gates are unknown rather than passing on half the picture.
func TestPostgresSourceTargetDown(t *testing.T) {
	info := sandboxtest.Start(t)
	cfg := &config.Config{Postgres: &config.Postgres{
		Poll: config.Duration(200 * time.Millisecond), LockThreshold: config.Duration(30 * time.Second), LongQuery: config.Duration(time.Minute),
		Targets: []config.PostgresTarget{
			{Name: "production", DSN: info.PostgresApp},
			{Name: "clone", DSN: "postgres://app@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=1"},
		},
	}}
	src := &sources.Postgres{Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan snapshot.DBState, 16)
	go src.Run(ctx, func(s sources.Snapshot[snapshot.DBState]) {
		select {
		case got <- s.Data:
		default:
		}
	})
	var s snapshot.DBState
	for s = range got {
		if len(s.Targets) == 2 && s.Targets[0].Err == nil && s.Targets[1].Err != nil {
			break
		}
	}
	if s.Targets[0].At.IsZero() || len(s.Targets[0].Backend)+s.Targets[0].Idle == 0 {
		t.Errorf("production read nothing: %+v", s.Targets[0])
	}
	if err := s.Down(); err == nil || !strings.Contains(err.Error(), "clone") {
		t.Errorf("Down() = %v, want the clone named", err)
	}
	if f := s.Facts()["locks.max_wait"]; f.Known || !strings.Contains(f.Detail, "clone") {
		t.Errorf("locks.max_wait with the clone down = %+v, want unknown naming the clone", f)
	}
}

// TestPostgresRestartSurvival stops and starts a server of the test's own
// under the source: the target shows down with the reason, then recovers by
// itself without a new source.
func TestPostgresRestartSurvival(t *testing.T) {
	sandboxtest.Start(t) // only for the skip/fail policy: the server here is private
	dir := t.TempDir()
	ctx := context.Background()
	inst, err := pg.Up(ctx, pg.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Down(context.Background(), pg.Options{Dir: dir}) })
	cfg := &config.Config{Postgres: &config.Postgres{
		Poll: config.Duration(100 * time.Millisecond), LockThreshold: config.Duration(30 * time.Second), LongQuery: config.Duration(time.Minute),
		Targets: []config.PostgresTarget{{Name: "production", DSN: inst.AppDSN}},
	}}
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	snaps := make(chan snapshot.DBState, 1)
	go (&sources.Postgres{Config: cfg}).Run(runCtx, func(s sources.Snapshot[snapshot.DBState]) {
		select {
		case <-snaps:
		default:
		}
		snaps <- s.Data
	})
	until := func(what string, ok func(snapshot.TargetLocks) bool) snapshot.TargetLocks {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case s := <-snaps:
				if ok(s.Targets[0]) {
					return s.Targets[0]
				}
			case <-deadline:
				t.Fatalf("never saw %s", what)
			}
		}
	}
	before := until("a first good reading", func(tl snapshot.TargetLocks) bool { return tl.Err == nil })

	// A catalog held by someone else: the probe gives up after its lock
	// timeout, says why, and its session is fine for the next read.
	probe := &sources.LockProbe{Target: config.PostgresTarget{Name: "production", DSN: inst.AppDSN}}
	defer probe.Close()
	if _, err := probe.Read(ctx); err != nil {
		t.Fatal(err)
	}
	admin := sandboxtest.OpenSession(t, inst.AdminDSN, "catalog-lock")
	admin.Exec("BEGIN")
	admin.Exec("LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE")
	if _, err := probe.Read(ctx); !errors.Is(err, sources.ErrCatalogContended) {
		t.Errorf("read with pg_database locked: %v, want ErrCatalogContended", err)
	}
	admin.Exec("ROLLBACK")
	if _, err := probe.Read(ctx); err != nil {
		t.Errorf("read after the catalog was released: %v", err)
	}

	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	down := until("the target down", func(tl snapshot.TargetLocks) bool { return tl.Err != nil })
	if down.GoodAt.Before(before.GoodAt) {
		t.Errorf("the down target lost its last good reading: good at %v, before %v", down.GoodAt, before.GoodAt)
	}
	if _, err := pg.Up(ctx, pg.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	until("recovery after the restart", func(tl snapshot.TargetLocks) bool { return tl.Err == nil && tl.GoodAt.After(down.GoodAt) })
}

// TestIdleSessionBlockerIsListed: a session-level advisory lock outlives its
// transaction, so an idle session can block; it is listed, not just counted
// among the idle.
func TestIdleSessionBlockerIsListed(t *testing.T) {
	info := sandboxtest.Start(t)
	dsn := info.PostgresApp
	holder, waiter := sandboxtest.OpenSession(t, dsn, "advisory-holder"), sandboxtest.OpenSession(t, dsn, "advisory-waiter")
	key := time.Now().UnixNano() % 1000000
	holder.Exec("SELECT pg_advisory_lock($1)", key)
	t.Cleanup(func() { holder.Conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key) })
	waiterErr := waiter.Background(fmt.Sprintf("SELECT pg_advisory_lock(%d)", key))
	p := probeFor(t, dsn)
	tl := readUntil(t, p, "the waiter blocked by the idle holder", func(tl snapshot.TargetLocks) bool {
		w, ok := waitOf(tl, waiter.PID)
		return ok && slices.Equal(w.BlockedBy, []int32{holder.PID})
	})
	b, ok := tl.Find(holder.PID)
	if !ok || b.State != "idle" {
		t.Fatalf("the idle holder is not listed: %+v %v", b, ok)
	}
	if !slices.Contains(tl.RootBlockers(), holder.PID) {
		t.Errorf("root blockers %v lack the idle holder %d", tl.RootBlockers(), holder.PID)
	}
	time.Sleep(1100 * time.Millisecond)
	tl = readUntil(t, p, "the wait still there", func(tl snapshot.TargetLocks) bool { _, ok := waitOf(tl, waiter.PID); return ok })
	f := snapshot.DBState{Targets: []snapshot.TargetLocks{tl}, LongQuery: time.Minute}.Facts()["locks.root_blocker_age"]
	if !f.Known || f.Duration < time.Second {
		t.Errorf("locks.root_blocker_age = %+v with an idle holder blocking for over a second", f)
	}
	holder.Exec("SELECT pg_advisory_unlock($1)", key)
	if err := <-waiterErr; err != nil {
		t.Fatal(err)
	}
	waiter.Exec("SELECT pg_advisory_unlock_all()")
}

// TestProbeRefusesARoleThatCannotSeeSessions: without pg_read_all_stats
// every other role's session would look idle and the pane would say
// nothing waits; the target is down with what to grant instead.
func TestProbeRefusesARoleThatCannotSeeSessions(t *testing.T) {
	info := sandboxtest.Start(t)
	admin := sandboxtest.OpenSession(t, info.PostgresAdmin, "flightdeck-test-setup")
	var b [3]byte
	rand.Read(b[:])
	role := "blind_" + hex.EncodeToString(b[:])
	admin.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'blind'", role))
	t.Cleanup(func() { admin.Conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	u, _ := url.Parse(info.PostgresApp)
	u.User = url.UserPassword(role, "blind")
	p := probeFor(t, u.String())
	_, err := p.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GRANT pg_monitor") {
		t.Fatalf("read as a role without pg_read_all_stats: %v", err)
	}
}

// workloadSession: the sandbox workload names its sessions after the api
// and worker pods, or acme-<tier>-<n> before it has read them.
func workloadSession(app string) bool {
	return strings.HasPrefix(app, "acme-") && app != "acme-migrate" || strings.HasPrefix(app, "api-") || strings.HasPrefix(app, "worker-")
}
