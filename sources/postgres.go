package sources

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// PostgresConnConfig parses a target's DSN the way libpq does (PG* variables
// and .pgpass included), after template expansion, and marks the session as
// the cockpit's so it is recognisable in pg_stat_activity.
func PostgresConnConfig(t config.PostgresTarget, vars map[string]string) (*pgconn.Config, error) {
	dsn, err := config.Expand(t.DSN, vars, false)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", t.Name, err)
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", t.Name, err)
	}
	if t.Password.IsSet() {
		pc.Password = t.Password.Value()
	}
	pc.RuntimeParams["application_name"] = "flightdeck"
	return pc, nil
}

// ProbePostgres connects to one target and asks for the server version.
func ProbePostgres(ctx context.Context, t config.PostgresTarget, vars map[string]string) Reach {
	pc, err := PostgresConnConfig(t, vars)
	if err != nil {
		return Reach{Target: t.Name, Err: err}
	}
	r := Reach{Target: fmt.Sprintf("%s (%s:%d/%s)", t.Name, pc.Host, pc.Port, pc.Database)}
	if dl, ok := ctx.Deadline(); ok {
		pc.ConnectTimeout = time.Until(dl)
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		r.Err = err
		return r
	}
	defer conn.Close(context.Background())
	r.Detail = "PostgreSQL " + conn.ParameterStatus("server_version")
	return r
}
