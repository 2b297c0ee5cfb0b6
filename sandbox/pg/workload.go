package pg

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Workload plays the acme application: web sessions that list a clinic's
// day, open a patient's history, book and reschedule, and worker sessions
// that confirm upcoming visits, bill completed ones and settle invoices.
// Each names itself in application_name (acme-web-<n>, acme-worker-<n>, or
// the pod it plays, with AppName). Nearly everything touches
// appointments, so a lock on it stalls every session within a moment, as
// in production. Sessions survive server restarts, terminated backends and
// timeouts: they count the error and reconnect with capped, jittered
// backoff.
type Workload struct {
	DSN string
	// Conns is the number of sessions; a third of them (at least one, from
	// two up) are workers.
	Conns int
	// StatementTimeout is each session's statement_timeout. Default 30s,
	// the runbook's tolerance: a query blocked for longer fails, as the
	// application's would.
	StatementTimeout time.Duration
	// Pause is the mean pause between one session's actions. Default 50ms.
	Pause time.Duration
	// AppName names session n (from 1) of a tier, "web" or "worker", as a
	// real application names its connections after its pod (the downward
	// API's metadata.name in application_name), so the cockpit can tell
	// which pod holds a lock. Asked at every connect; nil means
	// acme-<tier>-<n>.
	AppName func(tier string, n int) string
	// Gone reports that what a session is named after has gone away (its
	// pod was replaced in a rollout): the session ends and connects again
	// under a new name, as the pod's connections ended with it. Asked
	// between actions; nil means never.
	Gone func(name string) bool

	ops, errs, connects atomic.Int64
	mu                  sync.Mutex
	lastErr             string
}

// WorkloadStats are a Workload's counters since it was created.
type WorkloadStats struct {
	Ops       int64 // actions completed, each one short transaction
	Errors    int64 // actions and connection attempts that failed
	Connects  int64 // connections made, reconnections included
	LastError string
}

// Stats may be called while Run is running.
func (w *Workload) Stats() WorkloadStats {
	w.mu.Lock()
	last := w.lastErr
	w.mu.Unlock()
	return WorkloadStats{Ops: w.ops.Load(), Errors: w.errs.Load(), Connects: w.connects.Load(), LastError: last}
}

// RunWorkload runs conns sessions of the application against appDSN until
// ctx ends, then returns nil. It fails early only on arguments it can never
// use; server trouble is ridden out.
func RunWorkload(ctx context.Context, appDSN string, conns int) error {
	return (&Workload{DSN: appDSN, Conns: conns}).Run(ctx)
}

// Run runs the sessions until ctx ends and returns once all have closed.
func (w *Workload) Run(ctx context.Context) error {
	if w.Conns < 1 {
		return fmt.Errorf("run the sandbox workload: %d connections asked for, need at least 1", w.Conns)
	}
	if _, err := connConfig(w.DSN); err != nil {
		return fmt.Errorf("run the sandbox workload: %w", err)
	}
	workers := w.Conns / 3
	if workers == 0 && w.Conns >= 2 {
		workers = 1
	}
	var wg sync.WaitGroup
	for n := 1; n <= w.Conns-workers; n++ {
		wg.Go(func() { w.session(ctx, "web", n, webActions) })
	}
	for n := 1; n <= workers; n++ {
		wg.Go(func() { w.session(ctx, "worker", n, workerActions) })
	}
	wg.Wait()
	return nil
}

func (w *Workload) statementTimeout() time.Duration {
	if w.StatementTimeout > 0 {
		return w.StatementTimeout
	}
	return 30 * time.Second
}

func (w *Workload) pause() time.Duration {
	if w.Pause > 0 {
		return w.Pause
	}
	return 50 * time.Millisecond
}

func (w *Workload) fail(err error) {
	w.errs.Add(1)
	w.mu.Lock()
	w.lastErr = err.Error()
	w.mu.Unlock()
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

func (w *Workload) appName(tier string, n int) string {
	if w.AppName != nil {
		if name := w.AppName(tier, n); name != "" {
			return name
		}
	}
	return "acme-" + tier + "-" + strconv.Itoa(n)
}

func (w *Workload) session(ctx context.Context, tier string, n int, actions []action) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	backoff := minBackoff
	for ctx.Err() == nil {
		name := w.appName(tier, n)
		conn, err := w.connect(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fail(err)
			sleep(ctx, jitter(rng, backoff))
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		w.connects.Add(1)
		backoff = minBackoff
		w.drive(ctx, conn, name, actions, rng)
		closeConn(conn)
	}
}

func (w *Workload) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg, err := connConfig(w.DSN)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = name
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(w.statementTimeout().Milliseconds(), 10)
	// An application never leaves a transaction open between requests;
	// this keeps a stalled session from posing as a lock holder.
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "10000"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to %s: %w", name, where(w.DSN), err)
	}
	return conn, nil
}

// drive runs actions on conn until ctx ends, the connection is lost, or
// the pod the session is named after is gone.
func (w *Workload) drive(ctx context.Context, conn *pgx.Conn, name string, actions []action, rng *rand.Rand) {
	for ctx.Err() == nil {
		if w.Gone != nil && w.Gone(name) {
			return
		}
		a := actions[rng.IntN(len(actions))]
		// The server's statement_timeout is the real bound; this one only
		// catches a server that stopped answering altogether.
		actx, cancel := context.WithTimeout(ctx, w.statementTimeout()+5*time.Second)
		err := a.run(actx, conn, rng)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.fail(fmt.Errorf("%s: %s: %w", name, a.name, err))
			var pgErr *pgconn.PgError
			if conn.IsClosed() || !errors.As(err, &pgErr) {
				return
			}
		} else {
			w.ops.Add(1)
		}
		sleep(ctx, jitter(rng, w.pause()))
	}
}

func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	return d/2 + time.Duration(rng.Int64N(int64(d)+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

type action struct {
	name string
	run  func(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error
}

func randAppointment(rng *rand.Rand) int64 { return 1 + rng.Int64N(SeedRows) }
func randPatient(rng *rand.Rand) int64     { return 1 + rng.Int64N(SeedPatients) }
func randClinic(rng *rand.Rand) int        { return 1 + rng.IntN(SeedClinics) }

// readAll drains a query, as an application rendering the rows would.
func readAll(ctx context.Context, conn *pgx.Conn, sql string, args ...any) error {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	return rows.Err()
}

func execSQL(ctx context.Context, conn *pgx.Conn, sql string, args ...any) error {
	_, err := conn.Exec(ctx, sql, args...)
	return err
}

// Reads outnumber writes, as in a practice-management web application.
var webActions = []action{
	{"list a clinic's day", listDay},
	{"list a clinic's day", listDay},
	{"list a clinic's day", listDay},
	{"open a patient's history", patientHistory},
	{"open a patient's history", patientHistory},
	{"book an appointment", book},
	{"reschedule an appointment", reschedule},
}

var workerActions = []action{
	{"confirm upcoming appointments", confirmUpcoming},
	{"bill a completed appointment", bill},
	{"settle open invoices", settle},
}

func listDay(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
	return readAll(ctx, conn, `
		SELECT a.id, a.starts_at, a.duration_min, a.status, a.reason, p.name, p.species
		FROM appointments a JOIN patients p ON p.id = a.patient_id
		WHERE a.clinic_id = $1
		  AND a.starts_at >= date_trunc('day', now()) + $2 * interval '1 day'
		  AND a.starts_at <  date_trunc('day', now()) + ($2 + 1) * interval '1 day'
		ORDER BY a.starts_at LIMIT 50`, randClinic(rng), rng.IntN(15)-7)
}

func patientHistory(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
	return readAll(ctx, conn, `
		SELECT p.name, p.species, c.full_name, c.phone, a.starts_at, a.status, a.reason
		FROM patients p
		JOIN clients c ON c.id = p.client_id
		LEFT JOIN appointments a ON a.patient_id = p.id
		WHERE p.id = $1
		ORDER BY a.starts_at DESC LIMIT 20`, randPatient(rng))
}

func book(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
	return execSQL(ctx, conn, `
		INSERT INTO appointments (clinic_id, patient_id, starts_at, duration_min, status, reason)
		SELECT clinic_id, id, date_trunc('hour', now()) + $2 * interval '1 hour', 30, 'booked', $3
		FROM patients WHERE id = $1`,
		randPatient(rng), 1+rng.IntN(24*30), []string{"Vaccination", "Follow-up", "Limping", "Annual wellness exam"}[rng.IntN(4)])
}

func reschedule(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
	return execSQL(ctx, conn, `
		UPDATE appointments SET starts_at = starts_at + interval '1 day', updated_at = now()
		WHERE id = $1 AND status IN ('booked', 'confirmed')`, randAppointment(rng))
}

func confirmUpcoming(ctx context.Context, conn *pgx.Conn, _ *rand.Rand) error {
	return execSQL(ctx, conn, `
		UPDATE appointments SET status = 'confirmed', updated_at = now()
		WHERE id IN (SELECT id FROM appointments
		             WHERE status = 'booked' AND starts_at BETWEEN now() AND now() + interval '2 days'
		             ORDER BY starts_at LIMIT 10 FOR UPDATE SKIP LOCKED)`)
}

// bill is a two-statement transaction, so the lock pane also sees a
// session that holds row locks while it waits.
func bill(ctx context.Context, conn *pgx.Conn, rng *rand.Rand) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var id int64
		var clinic int
		err := tx.QueryRow(ctx, `
			UPDATE appointments SET updated_at = now()
			WHERE id = $1 AND status = 'completed' RETURNING id, clinic_id`, randAppointment(rng)).Scan(&id, &clinic)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO invoices (appointment_id, clinic_id, amount_cents, status) VALUES ($1, $2, $3, 'open')`,
			id, clinic, 4500+rng.IntN(30000))
		return err
	})
}

func settle(ctx context.Context, conn *pgx.Conn, _ *rand.Rand) error {
	return execSQL(ctx, conn, `
		UPDATE invoices SET status = 'paid'
		WHERE id IN (SELECT id FROM invoices WHERE status = 'open' ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED)`)
}
