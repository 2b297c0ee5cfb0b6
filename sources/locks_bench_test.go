package sources_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/sources"
)

// benchDB makes (once) a database for the probe benchmarks and returns a
// superuser DSN for it: superuser from 127.0.0.1 needs no password round
// trips, so opening a thousand sessions takes seconds, not minutes.
func benchDB(b *testing.B) (dsn string, admin *pgx.Conn) {
	info := sandboxtest.Start(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, info.PostgresAdmin)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close(context.Background()) })
	var exists bool
	admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'bench_locks')").Scan(&exists)
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE bench_locks"); err != nil {
			b.Fatal(err)
		}
	}
	u, _ := url.Parse(info.PostgresAdmin)
	u.Path = "/bench_locks"
	dsn = u.String()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS queue (id int)"); err != nil {
		b.Fatal(err)
	}
	return dsn, admin
}

// openIdle opens n sessions that sit idle, as a connection pool's do.
func openIdle(b *testing.B, dsn string, n int) []*pgx.Conn {
	conns := make([]*pgx.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := pgx.Connect(context.Background(), dsn)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				conns[i] = c
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	b.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background())
			}
		}
	})
	if firstErr != nil {
		b.Fatalf("opening %d sessions: %v", n, firstErr)
	}
	return conns
}

// BenchmarkLockProbe reads the state the issue sets: 1,000 idle sessions and
// a queue of 20 behind one blocker; then the same with one session holding
// 10,000 locks. Besides the round trip (ns/op), it reports what the server
// spent per poll as pg_stat_statements measured it (server-ms/poll).
func BenchmarkLockProbe(b *testing.B) {
	dsn, admin := benchDB(b)
	ctx := context.Background()
	conns := openIdle(b, dsn, 1021)
	blocker, queue := conns[0], conns[1:21]
	if _, err := blocker.Exec(ctx, "BEGIN; LOCK TABLE queue IN ACCESS EXCLUSIVE MODE"); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, c := range queue {
		wg.Go(func() { c.Exec(context.Background(), "SELECT count(*) FROM queue") })
	}
	b.Cleanup(func() {
		blocker.Exec(context.Background(), "ROLLBACK")
		wg.Wait()
	})
	run := func(b *testing.B, wantWaits, wantLocks int) {
		p := &sources.LockProbe{Target: config.PostgresTarget{Name: "bench", DSN: dsn}}
		defer p.Close()
		for {
			tl, err := p.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(tl.Waits) >= wantWaits && tl.Locks >= wantLocks {
				break
			}
		}
		if _, err := admin.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
			b.Fatal(err)
		}
		// The least any tool watching sessions must do, as the yardstick
		// for the probe's cost on a machine other than this one.
		yard, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer yard.Close(ctx)
		b.ResetTimer()
		for b.Loop() {
			if _, err := p.Read(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			rows, _ := yard.Query(ctx, "SELECT * FROM pg_stat_activity /* yardstick */")
			rows.Close()
			b.StartTimer()
		}
		b.StopTimer()
		var yardMs float64
		admin.QueryRow(ctx, `SELECT coalesce(max(mean_exec_time), 0) FROM pg_stat_statements WHERE query LIKE '%yardstick%'`).Scan(&yardMs)
		var total float64
		var calls int64
		err = admin.QueryRow(ctx, `SELECT coalesce(sum(s.total_exec_time), 0), coalesce(max(s.calls), 0)
			FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
			WHERE d.datname = 'bench_locks' AND (s.query LIKE '%pg_blocking_pids%' OR s.query LIKE '%MATERIALIZED%')`).Scan(&total, &calls)
		if err != nil {
			b.Fatal(err)
		}
		if calls > 0 {
			b.ReportMetric(total/float64(calls), "server-ms/poll")
			if yardMs > 0 {
				b.ReportMetric(total/float64(calls)/yardMs, "x-pg_stat_activity")
			}
		}
		rows, _ := admin.Query(ctx, `SELECT s.mean_exec_time, left(regexp_replace(s.query, '\s+', ' ', 'g'), 60)
			FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
			WHERE d.datname = 'bench_locks' AND s.calls >= $1 AND s.query NOT LIKE '%yardstick%' ORDER BY 1 DESC`, int64(b.N))
		for rows.Next() {
			var ms float64
			var q string
			rows.Scan(&ms, &q)
			b.Logf("%.3f ms  %s", ms, q)
		}
	}
	b.Run("1000idle+20waiting", func(b *testing.B) { run(b, 20, 0) })
	b.Run("10000locks", func(b *testing.B) {
		holder := conns[21]
		if _, err := holder.Exec(ctx, "BEGIN; SELECT count(pg_advisory_xact_lock(g)) FROM generate_series(1, 10000) g"); err != nil {
			b.Fatal(err)
		}
		defer holder.Exec(context.Background(), "ROLLBACK")
		run(b, 20, 10000)
	})
}
