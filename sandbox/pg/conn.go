package pg

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// connConfig parses dsn for the sandbox's own connections. pgx's default
// reaction to a cancelled context is to drop the socket, and a backend that
// is sleeping or waiting on a lock does not notice its client has gone: a
// migration abandoned by its caller would keep its ACCESS EXCLUSIVE lock
// until pg_sleep ran out. A cancel request ends the statement on the server
// first.
func connConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse Postgres DSN for %s: %w", where(dsn), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 2 * time.Second}
	}
	return cfg, nil
}

func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := connConfig(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres at %s: %w", where(dsn), err)
	}
	return conn, nil
}

// closeConn closes conn even when the caller's context has already ended,
// so the server sees a clean Terminate instead of a dropped socket.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// where names a DSN's user, server and database for messages, leaving out
// any password.
func where(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "the given DSN"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		return fmt.Sprintf("%s@%s/%s", u.User.Username(), u.Host, db)
	}
	return fmt.Sprintf("%s/%s", u.Host, db)
}

// DSNWithDatabase returns the URL-form dsn pointed at another database on
// the same server with the same credentials; the clone's DSN is the
// application's with the clone's name.
func DSNWithDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("point DSN for %s at database %q: only postgres:// URLs are supported", where(dsn), database)
	}
	u.Path = "/" + database
	u.RawPath = ""
	return u.String(), nil
}
