package preflight_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

func connConfig(t testing.TB, dsn string) *pgx.ConnConfig {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func dropIndex(name string) preflight.Analysis {
	return preflight.Analysis{
		Statement: preflight.Statement{File: "migrate.sql", Line: 1, SQL: "DROP INDEX " + name},
		Kind:      "DROP INDEX",
		Relations: []preflight.Relation{{Name: name, Index: true, Lock: preflight.AccessExclusive}},
	}
}

func alterAppointments() preflight.Analysis {
	return preflight.Analysis{
		Statement: preflight.Statement{File: "migrate.sql", Line: 3, SQL: "ALTER TABLE appointments ADD COLUMN x int"},
		Kind:      "ALTER TABLE",
		Relations: []preflight.Relation{{Name: "appointments", Lock: preflight.AccessExclusive}},
	}
}

func withCode(j preflight.Judged, code string) []preflight.Hazard {
	var out []preflight.Hazard
	for _, h := range j.Findings {
		if h.Code == code {
			out = append(out, h)
		}
	}
	return out
}

// unhumanise reads "1.2M" back as a number.
func unhumanise(s string) float64 {
	mult := map[byte]float64{'k': 1e3, 'M': 1e6, 'B': 1e9}[s[len(s)-1]]
	if mult != 0 {
		s = s[:len(s)-1]
	} else {
		mult = 1
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f * mult
}

// TestIndexScansGrowUnderTheWorkload: the workload looks patients up by
// appointments_patient_id_idx, so its scans grow between two readings,
// and dropping it is a block that names how often it was used.
func TestIndexScansGrowUnderTheWorkload(t *testing.T) {
	info := sandboxtest.Start(t)
	cc := connConfig(t, info.PostgresApp)
	as := []preflight.Analysis{dropIndex("appointments_patient_id_idx")}
	ctx := context.Background()

	first := preflight.ReadProduction(ctx, "production", cc, as)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	f := first.Indexes["appointments_patient_id_idx"]
	if !f.Exists || f.Table != "public.appointments" || f.Scans <= 0 || f.Constraint != "" {
		t.Fatalf("index facts %+v: want an existing, used index of public.appointments backing no constraint", f)
	}
	if tf := first.Tables["public.appointments"]; !tf.Exists || tf.Rows < 900_000 || tf.Bytes < 50<<20 {
		t.Errorf("its table %+v: want about a million rows", tf)
	}
	t.Logf("first reading took %s: %+v", first.Took, f)

	// Backends flush their counters at most once a second, when idle.
	var second preflight.Production
	for deadline := time.Now().Add(20 * time.Second); ; {
		time.Sleep(2 * time.Second)
		second = preflight.ReadProduction(ctx, "production", cc, as)
		if second.Err != nil {
			t.Fatal(second.Err)
		}
		if second.Indexes["appointments_patient_id_idx"].Scans > f.Scans {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scans stayed at %d for 20s under the workload", f.Scans)
		}
	}
	scans := second.Indexes["appointments_patient_id_idx"].Scans
	t.Logf("scans %d → %d", f.Scans, scans)

	j := preflight.Judge(as, second)[0]
	used := withCode(j, preflight.HazardDropIndexUsed)
	if j.Verdict != preflight.Block || len(used) != 1 {
		t.Fatalf("verdict %s, findings %+v: want a block for dropping a used index", j.Verdict, j.Findings)
	}
	t.Logf("reason: %s", used[0].Reason)
	t.Logf("figures: %s", j.Figures)
	m := regexp.MustCompile(`^appointments_patient_id_idx was used ([0-9.]+[kMB]?) times since `).FindStringSubmatch(used[0].Reason)
	if m == nil {
		t.Fatalf("reason %q does not name the count", used[0].Reason)
	}
	if got := unhumanise(m[1]); math.Abs(got-float64(scans)) > 0.06*float64(scans) {
		t.Errorf("reason says %s times, production %d", m[1], scans)
	}
	if !strings.Contains(used[0].Reason, "fall back to scanning appointments (") {
		t.Errorf("reason %q does not size the table scanned instead", used[0].Reason)
	}
}

// TestLongTransactionQueues: a transaction left open on appointments is a
// holder, for the table and for its indexes; an ALTER without lock_timeout
// would queue behind it and stall the application (block), one with
// lock_timeout would give up (warn).
func TestLongTransactionQueues(t *testing.T) {
	info := sandboxtest.Start(t)
	cc := connConfig(t, info.PostgresApp)
	s := sandboxtest.OpenSession(t, info.PostgresApp, "preflight-holder")
	s.Exec("BEGIN")
	s.Exec("SELECT 1 FROM appointments LIMIT 1")
	time.Sleep(1200 * time.Millisecond)

	alter := alterAppointments()
	as := []preflight.Analysis{
		alter,
		dropIndex("appointments_clinic_id_starts_at_idx"),
		{Kind: "ALTER TABLE", Relations: []preflight.Relation{{Name: "no_such_table", Lock: preflight.AccessExclusive}}},
		{Kind: "ALTER TABLE", Relations: []preflight.Relation{{Name: "a.b.c.d", Lock: preflight.AccessExclusive}}},
	}
	p := preflight.ReadProduction(context.Background(), "production", cc, as)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	t.Logf("reading took %s", p.Took)
	if p.Took <= 0 || p.At.IsZero() || p.Target != "production" {
		t.Errorf("target %q at %s took %s: want all three", p.Target, p.At, p.Took)
	}
	find := func(name string) (preflight.Holder, bool) {
		for _, h := range p.Holders[name] {
			if h.PID == s.PID {
				return h, true
			}
		}
		return preflight.Holder{}, false
	}
	h, ok := find("appointments")
	if !ok {
		t.Fatalf("holders of appointments %+v: pid %d missing", p.Holders["appointments"], s.PID)
	}
	if h.Mode != preflight.AccessShare || h.State != "idle in transaction" || h.XactAge < time.Second ||
		h.App != "preflight-holder" || h.User != "app" || h.Query != "SELECT 1 FROM appointments LIMIT 1" {
		t.Errorf("holder %+v", h)
	}
	if _, ok := find("appointments_clinic_id_starts_at_idx"); !ok {
		t.Errorf("the index's holders %+v: want its table's, pid %d among them", p.Holders["appointments_clinic_id_starts_at_idx"], s.PID)
	}
	for _, name := range []string{"no_such_table", "a.b.c.d"} {
		if f, ok := p.Tables[name]; !ok || f.Exists {
			t.Errorf("%s: %+v, want read as absent", name, f)
		}
	}

	j := preflight.Judge(as, p)[0]
	q := withCode(j, preflight.HazardQueue)
	if j.Verdict != preflight.Block || len(q) != 1 || q[0].Verdict != preflight.Block ||
		!strings.Contains(q[0].Reason, "this ALTER TABLE waits behind") {
		t.Fatalf("verdict %s, findings %+v: want a queue block", j.Verdict, j.Findings)
	}
	t.Logf("reason: %s", q[0].Reason)
	t.Logf("figures: %s", j.Figures)

	alter.LockTimeout = true
	j = preflight.Judge([]preflight.Analysis{alter}, p)[0]
	if q := withCode(j, preflight.HazardQueue); j.Verdict != preflight.Warn || len(q) != 1 || q[0].Verdict != preflight.Warn {
		t.Errorf("with lock_timeout: verdict %s, findings %+v: want a queue warning", j.Verdict, j.Findings)
	}
}

// TestProductionDownIsUnknown: with nothing listening, the reading fails
// at once, and no statement that touches a table is ok.
func TestProductionDownIsUnknown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cc := connConfig(t, fmt.Sprintf("postgres://app:app@%s/acme?sslmode=disable", addr))
	as := []preflight.Analysis{
		{Kind: "SET", Statement: preflight.Statement{SQL: "SET lock_timeout = '2s'"}},
		alterAppointments(),
		dropIndex("appointments_patient_id_idx"),
	}
	start := time.Now()
	p := preflight.ReadProduction(context.Background(), "production", cc, as)
	took := time.Since(start)
	if p.Err == nil {
		t.Fatal("no error reading a server that is not there")
	}
	if took > 2*time.Second || p.Took > took {
		t.Errorf("took %s (recorded %s): want the refusal at once", took, p.Took)
	}
	js := preflight.Judge(as, p)
	for i, want := range []preflight.Verdict{preflight.OK, preflight.Unknown, preflight.Unknown} {
		if js[i].Verdict != want {
			t.Errorf("%s: %s, want %s (%+v)", as[i].Kind, js[i].Verdict, want, js[i].Findings)
		}
	}
	if r := js[1].Findings[0].Reason; !strings.HasPrefix(r, "production (production) could not be read: ") || !strings.Contains(r, addr) {
		t.Errorf("reason %q: want the target and the failure", r)
	}
}

// TestReadsPastAnAccessExclusiveLock: a migration under way holds ACCESS
// EXCLUSIVE on a table and a query waits behind it. Production is still
// read at once (the table sized from the catalog rather than by opening
// it, which would queue too), and the holder and the waiter are counted.
func TestReadsPastAnAccessExclusiveLock(t *testing.T) {
	dsn := scratchDB(t, "preflight_read", `CREATE TABLE t (id int PRIMARY KEY, n int);
CREATE INDEX t_n_idx ON t (n);
INSERT INTO t SELECT g, g FROM generate_series(1, 10000) g;
ANALYZE t`)
	cc := connConfig(t, dsn)
	ctx := context.Background()
	as := []preflight.Analysis{
		{Kind: "ALTER TABLE", Relations: []preflight.Relation{{Name: "t", Lock: preflight.AccessExclusive}}},
		dropIndex("t_n_idx"),
	}
	before := preflight.ReadProduction(ctx, "production", cc, as)
	if before.Err != nil {
		t.Fatal(before.Err)
	}

	migration := sandboxtest.OpenSession(t, dsn, "preflight-migration")
	migration.Exec("BEGIN")
	migration.Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
	reader := sandboxtest.OpenSession(t, dsn, "preflight-reader")
	reader.Background("SELECT count(*) FROM t")
	time.Sleep(1100 * time.Millisecond)

	p := preflight.ReadProduction(ctx, "production", cc, as)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.Took > 900*time.Millisecond {
		t.Errorf("took %s: it queued behind the lock", p.Took)
	}
	was, now := before.Tables["t"], p.Tables["t"]
	if !now.Exists || now.Rows != 10000 || now.Bytes < was.Bytes/2 || now.Bytes > was.Bytes {
		t.Errorf("under the lock %+v; before it %+v: want the same rows and about the same size", now, was)
	}
	if ix := p.Indexes["t_n_idx"]; !ix.Exists || ix.Table != "public.t" || p.Tables["public.t"].Bytes != now.Bytes {
		t.Errorf("index %+v, its table %+v", ix, p.Tables["public.t"])
	}
	for _, name := range []string{"t", "t_n_idx"} {
		hs := p.Holders[name]
		if len(hs) != 1 || hs[0].PID != migration.PID || hs[0].Mode != preflight.AccessExclusive {
			t.Errorf("holders of %s %+v: want pid %d with ACCESS EXCLUSIVE", name, hs, migration.PID)
		}
		if p.Waiting[name] != 1 {
			t.Errorf("waiting on %s: %d, want the reader", name, p.Waiting[name])
		}
	}
	j := preflight.Judge(as, p)[0]
	if q := withCode(j, preflight.HazardQueue); j.Verdict != preflight.Block || len(q) != 1 ||
		!strings.Contains(q[0].Reason, fmt.Sprintf("pid %d (preflight-migration) idle in transaction", migration.PID)) ||
		!strings.HasSuffix(q[0].Reason, "; 1 session waits for a lock on it already") {
		t.Errorf("verdict %s, findings %+v", j.Verdict, j.Findings)
	}
	t.Logf("figures: %s", j.Figures)
}
