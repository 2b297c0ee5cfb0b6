package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// KindMigrationsDryRun is the dry run of the pending migrations on a clone.
const KindMigrationsDryRun = "migrations.dry_run"

// Streaming is implemented by actions whose lines the operator watches as
// they come (a command's output, a dry run's statements). The engine sets
// the function before Run.
type Streaming interface {
	SetOutput(func(line string))
}

// MigrationsDryRun runs the pending migrations on a clone, statement by
// statement and with a lock_timeout, recording the locks each one really
// held and for how long: the pre-flight's prediction, measured.
type MigrationsDryRun struct {
	Target      config.PostgresTarget
	Production  string // the pre-flight's target: the dry run refuses to run there
	Vars        map[string]string
	Origin      preflight.Origin
	LockTimeout time.Duration
	StepID      string

	output func(string)
	stmts  []preflight.Statement
}

// MigrationsDryRunDetail is what the journal keeps of a dry run: the
// engine hands it back to the pre-flight after a restart.
type MigrationsDryRunDetail struct {
	Target   string               `json:"target"`
	Observed []preflight.Observed `json:"observed"`
}

// Kind implements Action.
func (a *MigrationsDryRun) Kind() string { return KindMigrationsDryRun }

// Step implements Action.
func (a *MigrationsDryRun) Step() string { return a.StepID }

// Dangerous implements Action: it changes the clone's schema.
func (a *MigrationsDryRun) Dangerous() bool { return true }

// SetOutput implements Streaming.
func (a *MigrationsDryRun) SetOutput(f func(string)) { a.output = f }

// Preview implements Action: which statements run where, read now.
func (a *MigrationsDryRun) Preview(ctx context.Context) (Preview, error) {
	if a.Target.Name == a.Production {
		return Preview{}, fmt.Errorf("%s is the pre-flight's production target: a dry run runs on a clone, never there", a.Target.Name)
	}
	stmts, err := a.Origin.Load(ctx)
	if err != nil {
		return Preview{}, err
	}
	if len(stmts) == 0 {
		return Preview{}, fmt.Errorf("no pending migrations to dry-run")
	}
	a.stmts = stmts
	pv := Preview{Title: fmt.Sprintf("dry-run %d statement%s on %s with lock_timeout %s", len(stmts), plural(len(stmts)), a.Target.Name, a.LockTimeout)}
	for _, s := range stmts {
		pv.Lines = append(pv.Lines, s.Where()+"  "+snapshot.QueryLine(s.SQL, 200))
	}
	pv.Lines = append(pv.Lines, "each statement's locks are recorded; the first that fails stops the run, as psql -v ON_ERROR_STOP=1 does")
	return pv, nil
}

// Run implements Action.
func (a *MigrationsDryRun) Run(ctx context.Context) (Result, error) {
	if a.Target.Name == a.Production {
		return Result{}, fmt.Errorf("%s is the pre-flight's production target: a dry run runs on a clone, never there", a.Target.Name)
	}
	if a.stmts == nil {
		stmts, err := a.Origin.Load(ctx)
		if err != nil {
			return Result{}, err
		}
		a.stmts = stmts
	}
	cc, err := sources.PostgresPgxConfig(a.Target, a.Vars)
	if err != nil {
		return Result{}, err
	}
	emit := a.output
	if emit == nil {
		emit = func(string) {}
	}
	obs, err := preflight.Measure(ctx, cc, a.stmts, a.LockTimeout, emit)
	d := MigrationsDryRunDetail{Target: a.Target.Name, Observed: obs}
	res := Result{OK: err == nil, Summary: fmt.Sprintf("dry run on %s: %d of %d statements ran", a.Target.Name, ran(obs), len(a.stmts))}
	res.Detail, _ = json.Marshal(d)
	if err != nil {
		res.Summary += ": " + err.Error()
	}
	return res, nil
}

func ran(obs []preflight.Observed) int {
	n := 0
	for _, o := range obs {
		if o.Err == "" {
			n++
		}
	}
	return n
}
