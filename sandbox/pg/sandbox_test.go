package pg

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/internal/ci"
)

// needServer skips a test that needs the server programs when they are
// missing, except under CI, where a silent skip would pass a suite that
// never ran.
func needServer(t *testing.T) {
	t.Helper()
	_, err := BinDir()
	if err == nil {
		return
	}
	if ci.On() {
		t.Fatalf("%v\nCI is set, so the sandbox Postgres tests must run: install the server with %s", err, InstallCommand)
	}
	t.Skipf("skipping: no PostgreSQL server on this machine (%s installs one): %v", InstallCommand, err)
}

// shortTempDir is under /tmp whatever TMPDIR says, because the server's
// Unix socket path must stay under 108 bytes. It is opened to the server's
// account, so a root run keeps the cluster in place.
func shortTempDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", pattern)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// logWriter sends whole progress lines to the test log.
type logWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.t.Log(strings.TrimRight(line, "\n"))
	}
}

func mustConnect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeConn(conn) })
	return conn
}

func queryInt(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWorkload runs a Workload until the returned stop is called, and
// waits for it to get going.
func startWorkload(t *testing.T, dsn string, conns int) (w *Workload, stop func()) {
	t.Helper()
	w = &Workload{DSN: dsn, Conns: conns}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("workload: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("workload did not stop within 15s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, 15*time.Second, "the workload to complete 20 actions", func() bool { return w.Stats().Ops >= 20 })
	return w, stop
}

func opsAdvance(t *testing.T, w *Workload, by int64, timeout time.Duration, what string) {
	t.Helper()
	from := w.Stats().Ops
	eventually(t, timeout, what, func() bool { return w.Stats().Ops >= from+by })
}

// procUID reads the real uid of pid from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read status of postmaster %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

// postmasters counts the processes in dataDir whose parent is not one of
// them: one per running server.
func postmasters(dataDir string) int {
	pids := processesIn(dataDir)
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	n := 0
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); !in[ppid] {
				n++
			}
		}
	}
	return n
}

// blockedBy reports the workload sessions waiting on a lock that the
// migration's backend holds, and their application names.
func blockedBy(ctx context.Context, admin *pgx.Conn) (migrationPID int, blocked int, apps []string, err error) {
	err = admin.QueryRow(ctx, `
		SELECT m.pid, count(w.pid), coalesce(array_agg(DISTINCT w.application_name), '{}')
		FROM pg_stat_activity m
		JOIN pg_stat_activity w ON m.pid = ANY (pg_blocking_pids(w.pid)) AND w.wait_event_type = 'Lock'
		WHERE m.application_name = $1
		GROUP BY m.pid`, MigrationApp).Scan(&migrationPID, &blocked, &apps)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return
}

// TestSandbox walks one server through its life in order: a cold Up with
// the seed, reuse, restart under load, the migration story, the clone, and
// Down. One server keeps the million-row seed to a single payment.
func TestSandbox(t *testing.T) {
	needServer(t)
	ctx := t.Context()
	dir := shortTempDir(t, "fdpg")
	o := Options{Dir: dir, Progress: &logWriter{t: t}}
	t.Cleanup(func() {
		if err := Down(context.Background(), o); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t0 := time.Now()
	inst, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("cold Up: %v", err)
	}
	t.Logf("TIMING cold Up (initdb, start, seed): %s", since(t0))

	t.Run("up", func(t *testing.T) {
		if inst.Port == 0 || inst.PID == 0 {
			t.Fatalf("Up returned port %d, pid %d", inst.Port, inst.PID)
		}
		if want := filepath.Join(dir, "postgres"); inst.Dir != want || !strings.HasPrefix(inst.DataDir, want) {
			t.Errorf("Dir %s, DataDir %s: want both in %s", inst.Dir, inst.DataDir, want)
		}
		if _, err := os.Stat(filepath.Join(inst.SocketDir, ".s.PGSQL."+strconv.Itoa(inst.Port))); err != nil {
			t.Errorf("no socket in SocketDir: %v", err)
		}
		b, err := os.ReadFile(filepath.Join(inst.Dir, MigrationFile))
		if err != nil || !strings.Contains(string(b), "pg_sleep(45)") {
			t.Errorf("migration file %s: %v %q", filepath.Join(inst.Dir, MigrationFile), err, b)
		}
		if inst.Database != Database || !strings.Contains(inst.AppDSN, "/"+Database+"?") {
			t.Errorf("Database %q, AppDSN %s", inst.Database, inst.AppDSN)
		}

		app := mustConnect(t, ctx, inst.AppDSN)
		counts := map[string]int64{"clinics": SeedClinics, "clients": SeedClients, "patients": SeedPatients, "appointments": SeedRows}
		for table, want := range counts {
			if got := queryInt(t, ctx, app, "SELECT count(*) FROM "+table); got != want {
				t.Errorf("%s has %d rows, want %d", table, got, want)
			}
		}
		t.Logf("invoices: %d rows", queryInt(t, ctx, app, "SELECT count(*) FROM invoices"))
		// The seed's foreign keys are NOT VALID on the strength of the
		// formulas agreeing; this is the one relation they could get wrong.
		if n := queryInt(t, ctx, app, `SELECT count(*) FROM appointments a JOIN patients p ON p.id = a.patient_id
			WHERE a.clinic_id <> p.clinic_id`); n != 0 {
			t.Errorf("%d appointments are at another clinic than their patient", n)
		}
		var super bool
		if err := app.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
			t.Errorf("the application role must not be a superuser (rolsuper %v, err %v)", super, err)
		}
		if hasStatStatements(inst.BinDir) != inst.StatStatements {
			t.Errorf("StatStatements = %v, but the contrib module installed = %v", inst.StatStatements, !inst.StatStatements)
		}
		if inst.StatStatements {
			queryInt(t, ctx, app, "SELECT count(*) FROM pg_stat_statements")
		}

		t0 := time.Now()
		if err := Seed(ctx, inst.AppDSN); err != nil {
			t.Fatalf("second Seed: %v", err)
		}
		t.Logf("Seed of a seeded database: %s", since(t0))
		if got := queryInt(t, ctx, app, "SELECT count(*) FROM appointments"); got != SeedRows {
			t.Errorf("after a second Seed appointments has %d rows, want %d", got, SeedRows)
		}

		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		wantUID, wantUser := os.Getuid(), u.Username
		if os.Geteuid() == 0 {
			pu, err := user.Lookup("postgres")
			if err != nil {
				t.Fatal(err)
			}
			wantUID, _ = strconv.Atoi(pu.Uid)
			wantUser = "postgres"
		}
		if got := procUID(t, inst.PID); got != wantUID || inst.OSUser != wantUser {
			t.Errorf("server runs as uid %d (OSUser %q), want uid %d (%q)", got, inst.OSUser, wantUID, wantUser)
		}

		running, detail, err := Status(ctx, o)
		if err != nil || !running || !strings.Contains(detail, strconv.Itoa(inst.Port)) {
			t.Errorf("Status = %v, %q, %v", running, detail, err)
		}
	})

	t.Run("reuse", func(t *testing.T) {
		t0 := time.Now()
		again, err := Up(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING warm Up (server running, seeded): %s", since(t0))
		if again.Port != inst.Port || again.PID != inst.PID {
			t.Errorf("second Up: port %d pid %d, want the running server's %d and %d", again.Port, again.PID, inst.Port, inst.PID)
		}
		if n := postmasters(inst.DataDir); n != 1 {
			t.Errorf("%d postmasters run in %s, want 1", n, inst.DataDir)
		}
		if _, err := Up(ctx, Options{Dir: dir, Port: inst.Port + 1}); err == nil {
			t.Errorf("Up with another port than the running server's should fail")
		}
	})

	t.Run("restart", func(t *testing.T) {
		w, stop := startWorkload(t, inst.AppDSN, 4)
		defer stop()
		oldPID := inst.PID
		t0 := time.Now()
		if err := inst.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("Stop: %s", since(t0))
		if processAlive(oldPID) || len(processesIn(inst.DataDir)) > 0 {
			t.Fatalf("after Stop, postmaster %d alive %v, processes in the data directory %v", oldPID, processAlive(oldPID), processesIn(inst.DataDir))
		}
		if running, detail, err := Status(ctx, o); err != nil || running {
			t.Errorf("Status after Stop = %v, %q, %v", running, detail, err)
		}
		if err := inst.Stop(ctx); err != nil {
			t.Errorf("Stop of a stopped server: %v", err)
		}

		t0 = time.Now()
		again, err := Up(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING Up of a stopped, seeded sandbox: %s", since(t0))
		if again.Port != inst.Port {
			t.Errorf("restarted on port %d, want the previous %d", again.Port, inst.Port)
		}
		inst = again
		app := mustConnect(t, ctx, inst.AppDSN)
		if got := queryInt(t, ctx, app, "SELECT count(*) FROM appointments WHERE id <= $1", SeedRows); got != SeedRows {
			t.Errorf("after a restart appointments 1..%d has %d rows", SeedRows, got)
		}
		opsAdvance(t, w, 20, 20*time.Second, "the workload to resume after the restart")
		if s := w.Stats(); s.Connects <= 4 || s.Errors == 0 {
			t.Errorf("the workload should have lost and remade its connections: %+v", s)
		}
	})

	t.Run("migration blocks the workload", func(t *testing.T) {
		w, stop := startWorkload(t, inst.AppDSN, 6)
		defer stop()
		adminApp, err := DSNWithDatabase(inst.AdminDSN, Database)
		if err != nil {
			t.Fatal(err)
		}
		admin := mustConnect(t, ctx, adminApp)

		migrated := make(chan error, 1)
		started := time.Now()
		go func() { migrated <- RunMigration(ctx, inst.AppDSN, 5) }()

		var pid, blocked int
		var apps []string
		eventually(t, 4*time.Second, "workload sessions waiting on the migration's lock", func() bool {
			var err error
			pid, blocked, apps, err = blockedBy(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			return blocked >= 2
		})
		t.Logf("after %s: migration pid %d blocks %d sessions: %v", since(started), pid, blocked, apps)
		for _, a := range apps {
			if !strings.HasPrefix(a, "acme-web-") && !strings.HasPrefix(a, "acme-worker-") {
				t.Errorf("blocked session with unexpected application_name %q", a)
			}
		}
		held := queryInt(t, ctx, admin, `SELECT count(*) FROM pg_locks
			WHERE pid = $1 AND relation = 'appointments'::regclass AND mode = 'AccessExclusiveLock' AND granted`, pid)
		if held == 0 {
			t.Errorf("migration pid %d holds no granted AccessExclusiveLock", pid)
		}
		opsDuring := w.Stats().Ops

		select {
		case err := <-migrated:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("migration with a 5s hold did not finish within 15s")
		}
		t.Logf("migration committed after %s", since(started))
		eventually(t, 5*time.Second, "the lock waits to clear", func() bool {
			_, blocked, _, err := blockedBy(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			return blocked == 0 && queryInt(t, ctx, admin, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 0
		})
		opsAdvance(t, w, 30, 10*time.Second, "the workload to continue after the migration")
		t.Logf("workload: %+v (ops when the migration held its lock: %d)", w.Stats(), opsDuring)

		app := mustConnect(t, ctx, inst.AppDSN)
		if queryInt(t, ctx, app, "SELECT count(*) FROM schema_migrations WHERE version = $1", int64(MigrationVersion)) != 1 {
			t.Errorf("the migration did not record version %d", MigrationVersion)
		}
	})

	t.Run("cancelled migration releases its lock", func(t *testing.T) {
		admin := mustConnect(t, ctx, inst.AdminDSN)
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		migrated := make(chan error, 1)
		go func() { migrated <- RunMigration(mctx, inst.AppDSN, 300) }()
		locked := func() bool {
			return queryInt(t, ctx, admin, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
				WHERE a.application_name = $1 AND l.mode = 'AccessExclusiveLock' AND l.granted`, MigrationApp) > 0
		}
		eventually(t, 5*time.Second, "the migration to take its lock", locked)
		cancel()
		select {
		case err := <-migrated:
			if err == nil {
				t.Error("a cancelled migration reported success")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("RunMigration did not return within 10s of its context ending")
		}
		eventually(t, 5*time.Second, "the cancelled migration's lock to go", func() bool { return !locked() })
	})

	t.Run("clone", func(t *testing.T) {
		w, stop := startWorkload(t, inst.AppDSN, 4)
		defer stop()
		name := CloneName(Database, time.Now())
		t0 := time.Now()
		if err := CreateClone(ctx, inst.AdminDSN, Database, name); err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING CreateClone under load: %s", since(t0))
		if err := CreateClone(ctx, inst.AdminDSN, Database, name); err != nil {
			t.Errorf("CreateClone of an existing clone: %v", err)
		}
		admin := mustConnect(t, ctx, inst.AdminDSN)
		if queryInt(t, ctx, admin, "SELECT count(*) FROM pg_database WHERE datname = $1 AND datallowconn", Database) != 1 {
			t.Errorf("%s is still closed to connections after the clone", Database)
		}
		opsAdvance(t, w, 20, 20*time.Second, "the workload to resume after the clone")
		stop()

		cloneDSN, err := DSNWithDatabase(inst.AppDSN, name)
		if err != nil {
			t.Fatal(err)
		}
		clone := mustConnect(t, ctx, cloneDSN)
		app := mustConnect(t, ctx, inst.AppDSN)
		// No session was open while the copy ran, so the clone is the
		// source as it was then: what the source holds up to the clone's
		// highest id, since ids only grow.
		cloneRows := queryInt(t, ctx, clone, "SELECT count(*) FROM appointments")
		cloneMax := queryInt(t, ctx, clone, "SELECT max(id) FROM appointments")
		srcRows := queryInt(t, ctx, app, "SELECT count(*) FROM appointments WHERE id <= $1", cloneMax)
		if cloneRows != srcRows || cloneRows < SeedRows {
			t.Errorf("clone has %d appointments, the source had %d up to id %d (seeded %d)", cloneRows, srcRows, cloneMax, SeedRows)
		}
		t.Logf("clone %s: %d appointments", name, cloneRows)

		migrated := make(chan error, 1)
		go func() { migrated <- RunMigration(ctx, cloneDSN, 3) }()
		eventually(t, 3*time.Second, "the migration on the clone to hold ACCESS EXCLUSIVE", func() bool {
			return queryInt(t, ctx, clone, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
				WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				  AND c.relname = 'appointments' AND l.mode = 'AccessExclusiveLock' AND l.granted`) == 1
		})
		if err := <-migrated; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("down", func(t *testing.T) {
		pm, err := readPostmaster(inst.DataDir)
		if err != nil || !pm.running {
			t.Fatalf("before Down: %+v, %v", pm, err)
		}
		if err := Down(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "postgres")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Down left %s: %v", filepath.Join(dir, "postgres"), err)
		}
		if processAlive(pm.pid) {
			t.Errorf("postmaster %d still runs after Down", pm.pid)
		}
		if left := processesIn(inst.DataDir); len(left) > 0 {
			t.Errorf("processes %v still run in %s after Down", left, inst.DataDir)
		}
		if running, detail, err := Status(ctx, o); err != nil || running || !strings.Contains(detail, "no sandbox postgres") {
			t.Errorf("Status after Down = %v, %q, %v", running, detail, err)
		}
		if err := Down(ctx, o); err != nil {
			t.Errorf("Down of a removed sandbox: %v", err)
		}
	})
}
