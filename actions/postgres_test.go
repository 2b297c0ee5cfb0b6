package actions_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// pgTestDB makes a database of the test's own on the sandbox server, so
// that "the root blockers" can only be this test's sessions, and returns a
// superuser DSN for it.
func pgTestDB(t *testing.T) string {
	t.Helper()
	info := sandboxtest.Start(t)
	var b [3]byte
	rand.Read(b[:])
	name := "actions_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, info.PostgresAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	u, err := url.Parse(info.PostgresAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dsn := u.String()
	c := sandboxtest.OpenSession(t, dsn, "setup")
	if _, err := c.Conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 5) g; CREATE ROLE "+name+"_weak LOGIN PASSWORD 'weak'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+name+"_weak") })
	return dsn
}

func pgRead(t *testing.T, dsn string, ok func(snapshot.TargetLocks) bool) snapshot.TargetLocks {
	t.Helper()
	p := &sources.LockProbe{Target: config.PostgresTarget{Name: "production", DSN: dsn}}
	defer p.Close()
	var last snapshot.TargetLocks
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tl, err := p.Read(context.Background())
		if err == nil {
			last = tl
			if ok(tl) {
				return tl
			}
		}
	}
	t.Fatalf("condition never held; last waits %+v", last.Waits)
	return last
}

// chain sets up root ▸ waiter1 ▸ waiter2, the root busy in a long query
// inside the transaction that holds the row.
func chain(t *testing.T, dsn string) (root, w1, w2 *sandboxtest.Session, rootErr, w1Err, w2Err <-chan error) {
	root, w1, w2 = sandboxtest.OpenSession(t, dsn, "root"), sandboxtest.OpenSession(t, dsn, "waiter-1"), sandboxtest.OpenSession(t, dsn, "waiter-2")
	root.Exec("BEGIN")
	root.Exec("UPDATE t SET n = n + 1 WHERE id = 1")
	rootErr = root.Background("SELECT pg_sleep(60)")
	w1.Exec("BEGIN")
	w1.Exec("UPDATE t SET n = n + 1 WHERE id = 2")
	w1Err = w1.Background("UPDATE t SET n = n + 1 WHERE id = 1")
	w2Err = w2.Background("UPDATE t SET n = n + 1 WHERE id = 2")
	// The waits come from the root's UPDATE; its sleep is sent on its own
	// and, on a busy machine, may not have started yet: the preview must
	// see it running.
	pgRead(t, dsn, func(tl snapshot.TargetLocks) bool {
		b, ok := tl.Find(root.PID)
		return len(tl.Waits) == 2 && ok && strings.Contains(b.Query, "pg_sleep") && b.State == "active"
	})
	return
}

// TestCancelRootBlockerClearsChain: with no pids given, the preview picks
// the root blocker and shows its query; running cancels it, the chain
// drains, and the journal has the intent and the per-pid result.
func TestCancelRootBlockerClearsChain(t *testing.T) {
	dsn := pgTestDB(t)
	root, w1, _, rootErr, w1Err, w2Err := chain(t, dsn)
	a := &actions.PGSignal{Target: config.PostgresTarget{Name: "production", DSN: dsn}, StepID: "dr/cancel-blocking"}
	pv, err := a.Preview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.PIDs, []int32{root.PID}) {
		t.Fatalf("preview chose %v, want the root %d", a.PIDs, root.PID)
	}
	text := pv.Title + "\n" + strings.Join(pv.Lines, "\n")
	if !strings.Contains(text, "pg_sleep(60)") || !strings.Contains(text, fmt.Sprintf("pid %d", root.PID)) {
		t.Errorf("preview does not show the root's query:\n%s", text)
	}
	j := openJournal(t)
	r := &actions.Runner{Journal: j, By: "tester"}
	out := r.Execute(context.Background(), r.NextID(), a, "cancel root blockers", 0)
	if out.Err != nil || !out.Result.OK {
		t.Fatalf("outcome %+v", out)
	}
	if err := <-rootErr; err == nil || !strings.Contains(err.Error(), "canceling statement due to user request") {
		t.Fatalf("root's query ended with %v, want cancelled", err)
	}
	root.Exec("ROLLBACK")
	if err := <-w1Err; err != nil {
		t.Fatalf("waiter 1 after the cancel: %v", err)
	}
	w1.Exec("COMMIT")
	if err := <-w2Err; err != nil {
		t.Fatalf("waiter 2 after the cancel: %v", err)
	}
	pgRead(t, dsn, func(tl snapshot.TargetLocks) bool { return len(tl.Waits) == 0 })

	recs := records(t, j)
	if len(recs) != 2 || recs[0].Type != runbook.RecIntent || recs[1].Type != runbook.RecResult {
		t.Fatalf("journal %+v, want intent then result", recs)
	}
	var d actions.PGSignalDetail
	if err := json.Unmarshal(recs[1].Data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Results) != 1 || d.Results[0].PID != root.PID || d.Results[0].Result != actions.SignalSent {
		t.Errorf("journaled results %+v", d.Results)
	}
}

// TestTerminateBackend: terminate ends an idle-in-transaction holder, which
// cancel could not, and a pid that is gone is reported as false.
func TestTerminateBackend(t *testing.T) {
	dsn := pgTestDB(t)
	holder, waiter := sandboxtest.OpenSession(t, dsn, "holder"), sandboxtest.OpenSession(t, dsn, "waiter")
	holder.Exec("BEGIN")
	holder.Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
	werr := waiter.Background("SELECT count(*) FROM t")
	pgRead(t, dsn, func(tl snapshot.TargetLocks) bool { return len(tl.Waits) == 1 })

	cancel := &actions.PGSignal{Target: config.PostgresTarget{Name: "production", DSN: dsn}, PIDs: []int32{holder.PID}}
	pv, err := cancel.Preview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(pv.Lines, "\n"), "cancel does nothing") {
		t.Errorf("the cancel preview does not warn about an idle-in-transaction holder: %v", pv.Lines)
	}

	gone := int32(1) // pid 1 is init, never a backend
	a := &actions.PGSignal{Terminate: true, Target: config.PostgresTarget{Name: "production", DSN: dsn}, PIDs: []int32{holder.PID, gone}}
	if _, err := a.Preview(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d actions.PGSignalDetail
	json.Unmarshal(res.Detail, &d)
	want := []actions.PGSignalResult{{PID: holder.PID, Result: actions.SignalSent}, {PID: gone, Result: actions.SignalNoSuchBackend}}
	for i := range d.Results {
		d.Results[i].Query = ""
	}
	if !slices.Equal(d.Results, want) {
		t.Errorf("results %+v, want %+v", d.Results, want)
	}
	if res.OK {
		t.Error("a run with a pid that was not signalled reports OK")
	}
	if err := <-werr; err != nil {
		t.Fatalf("the waiter after the terminate: %v", err)
	}
	if _, err := holder.Conn.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("the terminated session still answers")
	}
}

// TestSignalPermissionDenied: a role without pg_signal_backend rights may
// not cancel another role's query; that is reported per pid, not as a crash.
func TestSignalPermissionDenied(t *testing.T) {
	dsn := pgTestDB(t)
	victim := sandboxtest.OpenSession(t, dsn, "victim")
	verr := victim.Background("SELECT pg_sleep(30)")
	defer func() {
		victim.Conn.PgConn().CancelRequest(context.Background())
		<-verr
	}()
	u, _ := url.Parse(dsn)
	weak := strings.TrimPrefix(u.Path, "/") + "_weak"
	u.User = url.UserPassword(weak, "weak")
	a := &actions.PGSignal{Target: config.PostgresTarget{Name: "production", DSN: u.String()}, PIDs: []int32{victim.PID}}
	res, err := a.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d actions.PGSignalDetail
	json.Unmarshal(res.Detail, &d)
	if res.OK || len(d.Results) != 1 || d.Results[0].Result != actions.SignalPermissionDenied {
		t.Fatalf("result %+v %+v, want permission denied", res, d.Results)
	}
	if !strings.Contains(res.Summary, "permission denied") {
		t.Errorf("summary %q does not say permission denied", res.Summary)
	}
}

// TestSignalRefusedReadOnly: the runner refuses both kinds in read-only
// mode and journals nothing.
func TestSignalRefusedReadOnly(t *testing.T) {
	j := openJournal(t)
	r := &actions.Runner{Journal: j, ReadOnly: true}
	for _, term := range []bool{false, true} {
		a := &actions.PGSignal{Terminate: term, PIDs: []int32{42}}
		out := r.Execute(context.Background(), r.NextID(), a, "x", 0)
		if !errors.Is(out.Err, actions.ErrReadOnly) {
			t.Errorf("%s in read-only mode: %v", a.Kind(), out.Err)
		}
	}
	if recs := records(t, j); len(recs) != 0 {
		t.Errorf("journal has %d records", len(recs))
	}
}

// TestSignalSkipsASessionThatChanged: after the preview, the session ends;
// the run reports it changed instead of signalling whatever has its pid.
func TestSignalSkipsASessionThatChanged(t *testing.T) {
	dsn := pgTestDB(t)
	victim := sandboxtest.OpenSession(t, dsn, "leaves")
	a := &actions.PGSignal{Terminate: true, Target: config.PostgresTarget{Name: "production", DSN: dsn}, PIDs: []int32{victim.PID}}
	if _, err := a.Preview(context.Background()); err != nil {
		t.Fatal(err)
	}
	victim.Conn.Close(context.Background())
	pgRead(t, dsn, func(tl snapshot.TargetLocks) bool { _, ok := tl.Find(victim.PID); return !ok })
	res, err := a.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d actions.PGSignalDetail
	json.Unmarshal(res.Detail, &d)
	if res.OK || len(d.Results) != 1 || d.Results[0].Result != actions.SignalChanged {
		t.Fatalf("results %+v, want %q", d.Results, actions.SignalChanged)
	}
}
