package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CloneName is the runbook's name for the day's clone of a database:
// "<database>-clone-<YYYY-MM-DD>", the date taken in day's location as
// `date '+%Y-%m-%d'` takes it in the local one.
func CloneName(database string, day time.Time) string {
	return database + "-clone-" + day.Format("2006-01-02")
}

// CreateClone copies database source into a new database clone on the
// same server (CREATE DATABASE ... TEMPLATE), owned by source's owner, so
// the application's DSN reaches it with only the database name changed.
// If clone exists already it is left alone.
//
// A template must have no other sessions while it is copied. Terminating
// them is not enough against an application that reconnects (as
// RunWorkload does, within a fraction of a second), so the source is first
// closed to new connections, then its sessions are terminated, and it is
// reopened once the copy is done, whatever happened. The application sees
// its connections dropped and refused for the few seconds the copy takes.
// adminDSN must be a superuser's.
func CreateClone(ctx context.Context, adminDSN, source, clone string) (err error) {
	if source == "" || clone == "" || source == clone {
		return fmt.Errorf("clone database %q as %q: need two different, non-empty names", source, clone)
	}
	conn, err := connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("clone database %s: %w", source, err)
	}
	defer closeConn(conn)
	fail := func(step string, err error) error {
		return fmt.Errorf("clone database %s as %s on %s: %s: %w", source, clone, where(adminDSN), step, err)
	}

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", clone).Scan(&exists); err != nil {
		return fail("look up the clone", err)
	}
	if exists {
		return nil
	}
	var owner string
	var allow bool
	err = conn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba), datallowconn FROM pg_database WHERE datname = $1", source).Scan(&owner, &allow)
	if errors.Is(err, pgx.ErrNoRows) {
		return fail("look up the source", fmt.Errorf("database %q does not exist", source))
	}
	if err != nil {
		return fail("look up the source", err)
	}

	src := pgx.Identifier{source}.Sanitize()
	if allow {
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+src+" ALLOW_CONNECTIONS false"); err != nil {
			return fail("close the source to new connections", err)
		}
		defer func() {
			// The caller's context may be what ended the clone; the
			// application must get its database back regardless.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if rerr := reopen(rctx, adminDSN, src); rerr != nil {
				err = errors.Join(err, fail("reopen the source to connections (run ALTER DATABASE "+src+" ALLOW_CONNECTIONS true, or Up, which does it)", rerr))
			}
		}()
	}

	// Postgres 15's default strategy (WAL_LOG) is kept: FILE_COPY's two
	// checkpoints made the copy, and so the application's outage, about
	// four times longer on a VM disk.
	create := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", pgx.Identifier{clone}.Sanitize(), src, pgx.Identifier{owner}.Sanitize())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := terminateSessions(ctx, conn, source, deadline); err != nil {
			return fail("end the sessions on the source", err)
		}
		_, err = conn.Exec(ctx, create)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pgErr) && pgErr.Code == "42P04":
			// duplicate_database: a concurrent CreateClone won the race.
			return nil
		case errors.As(err, &pgErr) && pgErr.Code == "55006" && time.Now().Before(deadline):
			// object_in_use: a session slipped in before the close took
			// effect (or a superuser, whom ALLOW_CONNECTIONS does not stop).
			continue
		default:
			return fail(create, err)
		}
	}
}

// terminateSessions ends every other session on database and waits until
// they are gone, since pg_terminate_backend only signals. A session that
// was authenticating when the database closed is not in pg_stat_activity
// yet, but CREATE DATABASE counts it and then waits 5s for it to leave
// before failing, so the database must look empty twice in a row.
func terminateSessions(ctx context.Context, conn *pgx.Conn, database string, deadline time.Time) error {
	empty := 0
	for {
		var left int
		err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid))
			FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, database).Scan(&left)
		if err != nil {
			return err
		}
		if left > 0 {
			empty = 0
		} else if empty++; empty == 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sessions on %s were still there after 30s of pg_terminate_backend", left, database)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func reopen(ctx context.Context, adminDSN, quotedDB string) error {
	conn, err := connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	_, err = conn.Exec(ctx, "ALTER DATABASE "+quotedDB+" ALLOW_CONNECTIONS true")
	return err
}
