package preflight_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// benchSetup is a schema of 1,000 tables, each with its primary key and
// one more index, a few rows in each, analyzed, every index looked up once.
const benchSetup = `SET enable_seqscan = off;
DO $$
BEGIN
  FOR i IN 1..1000 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, n int)', i);
    EXECUTE format('CREATE INDEX t%s_n_idx ON t%s (n)', i, i);
    EXECUTE format('INSERT INTO t%s SELECT g, g FROM generate_series(1, 20) g', i);
    EXECUTE format('SELECT count(*) FROM t%s WHERE n = 1', i);
  END LOOP;
END $$;
ANALYZE`

// BenchmarkPreflight is the whole pre-flight a deploy waits for, from the
// text of a migration of 200 statements (half altering tables, half
// dropping indexes) to its verdicts: parsed, analysed, production read
// (a database of 1,000 tables with a transaction open on some of them),
// judged.
func BenchmarkPreflight(b *testing.B) {
	dsn := scratchDB(b, "preflight_bench", benchSetup)
	cc := connConfig(b, dsn)
	holder := sandboxtest.OpenSession(b, dsn, "preflight-holder")
	holder.Exec("BEGIN")
	for i := 1; i <= 10; i += 2 {
		holder.Exec(fmt.Sprintf("SELECT 1 FROM t%d LIMIT 1", i))
	}
	var sql strings.Builder
	for i := 1; i <= 200; i++ {
		if i%2 == 1 {
			fmt.Fprintf(&sql, "ALTER TABLE t%d ALTER COLUMN n TYPE bigint;\n", i)
		} else {
			fmt.Fprintf(&sql, "DROP INDEX t%d_n_idx;\n", i)
		}
	}
	migration := sql.String()
	stmts, err := preflight.Parse("migrate.sql", migration)
	if err != nil {
		b.Fatal(err)
	}
	as := preflight.Analyze(stmts)
	time.Sleep(1100 * time.Millisecond) // the holder's transaction must be a second old

	// The session ReadProduction opens is read-only and bounded.
	settings := map[string]string{}
	check := *cc
	check.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		for _, name := range []string{"statement_timeout", "lock_timeout", "default_transaction_read_only"} {
			res, err := pc.Exec(ctx, "SHOW "+name).ReadAll()
			if err != nil {
				return err
			}
			settings[name] = string(res[0].Rows[0][0])
		}
		return nil
	}
	p := preflight.ReadProduction(context.Background(), "production", &check, as)
	if p.Err != nil {
		b.Fatal(p.Err)
	}
	if settings["statement_timeout"] != "2s" || settings["lock_timeout"] != "1s" || settings["default_transaction_read_only"] != "on" {
		b.Fatalf("the session's settings %v: want a 2s statement_timeout, a 1s lock_timeout, read-only", settings)
	}
	if len(p.Tables) != 200 || len(p.Indexes) != 100 || len(p.Holders) != 5 {
		b.Fatalf("%d tables, %d indexes, %d tables with holders: want 200 (100 as written, 100 the indexes'), 100, 5",
			len(p.Tables), len(p.Indexes), len(p.Holders))
	}
	js := preflight.Judge(as, p)
	for i, j := range js {
		if j.Verdict != preflight.Block {
			b.Fatalf("%s: %s: want block (%+v)", as[i].SQL, j.Verdict, j.Findings)
		}
	}

	// End to end, as the source and `flightdeck preflight` run it: the
	// text parsed, each statement analysed, production asked, verdicts.
	ctx := context.Background()
	for b.Loop() {
		stmts, err := preflight.Parse("migrate.sql", migration)
		if err != nil {
			b.Fatal(err)
		}
		as := preflight.Analyze(stmts)
		p := preflight.ReadProduction(ctx, "production", cc, as)
		if p.Err != nil {
			b.Fatal(p.Err)
		}
		preflight.Judge(as, p)
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/op")
	if per > 200*time.Millisecond {
		b.Errorf("%s per pre-flight of 200 statements: want at most 200ms", per)
	}
}
