package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// Kinds of the Postgres actions, as the journal records them.
const (
	KindPostgresCancel    = "postgres.cancel"
	KindPostgresTerminate = "postgres.terminate"
)

// Per-backend outcomes, as the journal records them. Postgres answers true
// when the signal was sent and false when the pid is not a backend (it
// ended on its own); a role without the right gets an error instead.
const (
	SignalSent             = "true"
	SignalNoSuchBackend    = "false"
	SignalPermissionDenied = "permission denied"
	SignalChanged          = "not signalled: the session changed since the preview"
)

// PGSignal cancels the current query of, or terminates, a set of backends
// on one target. With no PIDs it picks the target's root blockers when the
// preview is made; what runs is exactly what the preview listed.
type PGSignal struct {
	Terminate bool
	Target    config.PostgresTarget
	Vars      map[string]string
	PIDs      []int32
	StepID    string

	previewed bool
	// started is each backend's start as the preview saw it: the signal
	// goes only to the same session, never to one that reused its pid.
	started map[int32]time.Time
	// prepared lists the pids of 0 the blockers included: prepared
	// transactions, which no signal reaches.
	prepared bool
}

// PGSignalResult is one backend's outcome.
type PGSignalResult struct {
	PID    int32  `json:"pid"`
	Result string `json:"result"` // SignalSent, SignalNoSuchBackend, SignalPermissionDenied, or the error
	Query  string `json:"query,omitempty"`
}

// PGSignalDetail is what the journal keeps of a run.
type PGSignalDetail struct {
	Target  string           `json:"target"`
	Results []PGSignalResult `json:"results"`
}

func (a *PGSignal) verb() string {
	if a.Terminate {
		return "terminate"
	}
	return "cancel"
}

func (a *PGSignal) function() string {
	if a.Terminate {
		return "pg_terminate_backend"
	}
	return "pg_cancel_backend"
}

// Kind implements Action.
func (a *PGSignal) Kind() string {
	if a.Terminate {
		return KindPostgresTerminate
	}
	return KindPostgresCancel
}

// Step implements Action.
func (a *PGSignal) Step() string { return a.StepID }

// Dangerous implements Action: a cancelled migration rolls back, a
// terminated session loses its transaction.
func (a *PGSignal) Dangerous() bool { return true }

// connect opens a short-lived session of the cockpit's own: signalling
// needs no transaction, and a stuck server must not hold the operator.
func (a *PGSignal) connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := sources.PostgresPgxConfig(a.Target, a.Vars)
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["statement_timeout"] = "5000"
	cc.RuntimeParams["lock_timeout"] = "1000"
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > 5*time.Second {
		cc.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", a.Target.Name, err)
	}
	return conn, nil
}

type backendNow struct {
	pid        int32
	started    time.Time
	state, app string
	user       string
	queryAge   time.Duration
	query      string
}

// Preview implements Action: each backend as it is now, its query and how
// long it has run, read live so the operator confirms what is really there.
func (a *PGSignal) Preview(ctx context.Context) (Preview, error) {
	if !a.previewed && len(a.PIDs) == 0 {
		probe := &sources.LockProbe{Target: a.Target, Vars: a.Vars}
		tl, err := probe.Read(ctx)
		probe.Close()
		if err != nil {
			return Preview{}, fmt.Errorf("postgres target %q: reading the blockers: %w", a.Target.Name, err)
		}
		a.PIDs = tl.RootBlockers()
		if len(a.PIDs) == 0 {
			return Preview{}, fmt.Errorf("nothing is blocked on %s: no root blocker to %s", a.Target.Name, a.verb())
		}
	}
	a.previewed = true
	// pg_blocking_pids says 0 for a prepared transaction: no backend to
	// signal, and pg_cancel_backend(0) would only fail.
	kept := a.PIDs[:0:0]
	for _, p := range a.PIDs {
		if p == 0 {
			a.prepared = true
			continue
		}
		kept = append(kept, p)
	}
	a.PIDs = kept
	conn, err := a.connect(ctx)
	if err != nil {
		return Preview{}, err
	}
	defer conn.Close(context.Background())
	now, err := a.describe(ctx, conn)
	if err != nil {
		return Preview{}, err
	}
	a.started = map[int32]time.Time{}
	for pid, b := range now {
		a.started[pid] = b.started
	}
	pv := Preview{Title: fmt.Sprintf("%s %d backend%s on %s (%s)", a.verb(), len(a.PIDs), plural(len(a.PIDs)), a.Target.Name, a.function())}
	for _, pid := range a.PIDs {
		b, ok := now[pid]
		if !ok {
			pv.Lines = append(pv.Lines, fmt.Sprintf("pid %d: no longer running", pid))
			continue
		}
		line := fmt.Sprintf("pid %d %s %s, %s %s: %s", pid, b.user, orDash(b.app), b.state, gates.FormatDuration(b.queryAge.Round(time.Second)), snapshot.QueryLine(b.query, 400))
		pv.Lines = append(pv.Lines, line)
		if !a.Terminate && strings.HasPrefix(b.state, "idle in transaction") {
			pv.Lines = append(pv.Lines, fmt.Sprintf("  pid %d runs no query: cancel does nothing to it and it keeps its locks; terminate (K) ends the session", pid))
		}
	}
	if a.prepared {
		pv.Lines = append(pv.Lines, "a prepared transaction (pid 0) blocks too: no signal reaches it; find it in pg_prepared_xacts and ROLLBACK PREPARED it")
	}
	if len(a.PIDs) == 0 {
		return pv, errors.New("only prepared transactions block: find them in pg_prepared_xacts and ROLLBACK PREPARED them")
	}
	if a.Terminate {
		pv.Lines = append(pv.Lines, "terminated sessions roll back their open transactions and disconnect")
	} else {
		pv.Lines = append(pv.Lines, "cancelled queries fail with an error and their transactions roll back")
	}
	return pv, nil
}

func (a *PGSignal) describe(ctx context.Context, conn *pgx.Conn) (map[int32]backendNow, error) {
	rows, err := conn.Query(ctx, `SELECT pid, backend_start, coalesce(state, ''), coalesce(application_name, ''), coalesce(usename, ''),
		coalesce(extract(epoch FROM statement_timestamp() - query_start), 0)::float8, coalesce(query, '')
		FROM pg_stat_activity WHERE pid = ANY($1)`, a.PIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", a.Target.Name, err)
	}
	out := map[int32]backendNow{}
	for rows.Next() {
		var (
			b       backendNow
			seconds float64
		)
		if err := rows.Scan(&b.pid, &b.started, &b.state, &b.app, &b.user, &seconds, &b.query); err != nil {
			rows.Close()
			return nil, err
		}
		b.queryAge = time.Duration(seconds * float64(time.Second))
		out[b.pid] = b
	}
	return out, rows.Err()
}

// Run implements Action. Each backend is signalled on its own, so one the
// role may not touch does not stop the others; every outcome is recorded.
func (a *PGSignal) Run(ctx context.Context) (Result, error) {
	if len(a.PIDs) == 0 {
		return Result{}, errors.New("no backend chosen: preview first")
	}
	conn, err := a.connect(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close(context.Background())
	queries, _ := a.describe(ctx, conn)
	d := PGSignalDetail{Target: a.Target.Name}
	sent := 0
	for _, pid := range a.PIDs {
		r := PGSignalResult{PID: pid, Query: snapshot.QueryLine(queries[pid].query, 400)}
		var ok bool
		// The function name is one of two constants; the pid is a
		// parameter. After a preview, only the session it showed is
		// signalled: the pid may since belong to another.
		var err error
		started, seen := a.started[pid]
		if a.previewed && !seen {
			// Gone already when the preview looked; its pid is not ours
			// to signal any more.
			r.Result = SignalNoSuchBackend
			d.Results = append(d.Results, r)
			continue
		}
		if seen {
			err = conn.QueryRow(ctx, "SELECT "+a.function()+"(pid) FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2", pid, started).Scan(&ok)
		} else {
			err = conn.QueryRow(ctx, "SELECT "+a.function()+"($1)", pid).Scan(&ok)
		}
		var pgErr *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			r.Result = SignalChanged
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			r.Result = SignalPermissionDenied
		case err != nil:
			r.Result = "error: " + snapshot.OneLine(err.Error())
		case ok:
			r.Result = SignalSent
			sent++
		default:
			r.Result = SignalNoSuchBackend
		}
		d.Results = append(d.Results, r)
	}
	parts := make([]string, len(d.Results))
	for i, r := range d.Results {
		parts[i] = fmt.Sprintf("%d %s", r.PID, r.Result)
	}
	res := Result{
		OK:      sent == len(a.PIDs),
		Summary: fmt.Sprintf("%s on %s: %s", a.verb(), a.Target.Name, strings.Join(parts, ", ")),
	}
	res.Detail, _ = json.Marshal(d)
	return res, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// SortedPIDs returns pids sorted and without repeats, the order previews and
// journal entries use.
func SortedPIDs(pids []int32) []int32 {
	out := slices.Clone(pids)
	slices.Sort(out)
	return slices.Compact(out)
}
