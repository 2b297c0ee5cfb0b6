package sandboxtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is one Postgres connection a test drives, as the workload or a
// migration would: statements that block run in the background, and the
// test waits for them when it needs to.
type Session struct {
	t    testing.TB
	Conn *pgx.Conn
	PID  int32
	wg   sync.WaitGroup
}

// OpenSession connects to dsn with application_name app. At cleanup,
// whatever the session still waits for is cancelled, so a blocked
// statement never outlives its test.
func OpenSession(t testing.TB, dsn, app string) *Session {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = app
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{t: t, Conn: conn, PID: int32(conn.PgConn().PID())}
	t.Cleanup(func() {
		conn.PgConn().CancelRequest(context.Background())
		s.wg.Wait()
		conn.Close(context.Background())
	})
	return s
}

// Exec runs sql and fails the test if it fails.
func (s *Session) Exec(sql string, args ...any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Conn.Exec(ctx, sql, args...); err != nil {
		s.t.Fatalf("pid %d: %s: %v", s.PID, sql, err)
	}
}

// Background runs sql without waiting; its error arrives on the channel.
func (s *Session) Background(sql string) <-chan error {
	done := make(chan error, 1)
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := s.Conn.Exec(ctx, sql)
		done <- err
	})
	return done
}
