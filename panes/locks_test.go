package panes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// locksState is the sandbox migration seen from the pane: the migration
// (pid 4100) holds ACCESS EXCLUSIVE on appointments; two web sessions wait
// for it, a worker waits behind one of them, a third session holds a
// row and sits idle in its transaction.
func locksState() snapshot.DBState {
	now := fixtureNow
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	prod := snapshot.TargetLocks{
		Name: "production", Where: "10.0.0.5:5432/vetspire", Server: "15.18", At: now, GoodAt: now,
		Backend: []snapshot.Backend{
			{PID: 4100, User: "app", Application: "acme-migrate", ClientAddr: "10.8.0.12", Database: "vetspire", State: "active",
				WaitEventType: "Timeout", WaitEvent: "PgSleep", XactStart: ago(42 * time.Second), QueryStart: ago(41 * time.Second),
				Query: "ALTER TABLE appointments ALTER COLUMN reminder_sent_at TYPE timestamptz USING reminder_sent_at::timestamptz", Blocks: 2},
			{PID: 4123, User: "app", Application: "acme-web-3", ClientAddr: "10.8.1.7", Database: "vetspire", State: "active",
				WaitEventType: "Lock", WaitEvent: "relation", XactStart: ago(38 * time.Second), QueryStart: ago(38 * time.Second),
				Query: "UPDATE appointments SET status = $1 WHERE id = $2", BlockedBy: []int32{4100}, Blocks: 1},
			{PID: 4124, User: "app", Application: "acme-web-4", ClientAddr: "10.8.1.8", Database: "vetspire", State: "active",
				WaitEventType: "Lock", WaitEvent: "relation", XactStart: ago(12 * time.Second), QueryStart: ago(12 * time.Second),
				Query: "SELECT * FROM appointments WHERE clinic_id = $1", BlockedBy: []int32{4100}},
			{PID: 4130, User: "app", Application: "acme-worker-1", ClientAddr: "10.8.2.3", Database: "vetspire", State: "active",
				WaitEventType: "Lock", WaitEvent: "transactionid", XactStart: ago(5 * time.Second), QueryStart: ago(5 * time.Second),
				Query: "UPDATE appointments SET reminded = true WHERE id = $1", BlockedBy: []int32{4123}},
			{PID: 4200, User: "analyst", Application: "psql", ClientAddr: "10.9.0.2", Database: "vetspire", State: "idle in transaction",
				XactStart: ago(95 * time.Second), QueryStart: ago(90 * time.Second), StateChange: ago(90 * time.Second),
				Query: "SELECT count(*) FROM invoices"},
			{PID: 4300, User: "app", Application: "acme-web-1", Database: "vetspire", State: "idle", Query: "COMMIT"},
			{PID: 4301, User: "app", Application: "acme-web-2", Database: "vetspire", State: "idle", Query: "COMMIT"},
		},
		Waits: []snapshot.Wait{
			{PID: 4123, BlockedBy: []int32{4100}, LockType: "relation", Mode: "RowExclusiveLock", Relation: "appointments", Since: ago(38 * time.Second), For: 38 * time.Second},
			{PID: 4124, BlockedBy: []int32{4100}, LockType: "relation", Mode: "AccessShareLock", Relation: "appointments", Since: ago(12 * time.Second), For: 12 * time.Second},
			{PID: 4130, BlockedBy: []int32{4123}, LockType: "transactionid", Mode: "ShareLock", Since: ago(5 * time.Second), For: 5 * time.Second},
		},
		Held: []snapshot.HeldLock{{PID: 4100, Mode: "AccessExclusiveLock", Relation: "appointments", For: 42 * time.Second, Waiters: 2}},
		Modes: []snapshot.ModeCount{{Mode: "AccessExclusiveLock", Granted: 1}, {Mode: "RowExclusiveLock", Granted: 14, Waiting: 1},
			{Mode: "AccessShareLock", Granted: 230, Waiting: 1}},
		Locks: 247,
		Tree:  []snapshot.TreeRow{{PID: 4100}, {PID: 4123, Depth: 1}, {PID: 4130, Depth: 2}, {PID: 4124, Depth: 1}},
	}
	clone := snapshot.TargetLocks{Name: "clone", Where: "10.0.0.6:5432/vetspire", Err: errors.New("dial tcp 10.0.0.6:5432: connect: connection refused")}
	return snapshot.DBState{Targets: []snapshot.TargetLocks{prod, clone}, LockThreshold: 30 * time.Second, LongQuery: 30 * time.Second}
}

// fixturePods names the pod of one client of the fixture's database.
var fixturePods = LocksContext{Pods: map[string]string{"10.8.1.7": "api-7d9f-x2x9k"}}

// locksFeed shows s as a good reading.
func locksFeed(s snapshot.DBState, h snapshot.Health) snapshot.Feed[snapshot.DBState] {
	return snapshot.Feed[snapshot.DBState]{Data: s, HasData: true, Health: h}
}

func locksPane(t testing.TB) *Locks {
	l := NewLocks(fixtureLocks, dark)
	l.Show(locksFeed(locksState(), snapshot.Health{Source: "postgres", State: snapshot.OK}), fixturePods)
	l.SetFocused(true)
	return l
}

func TestRenderLocksGolden(t *testing.T) {
	for _, view := range []string{"list", "tree", "detail"} {
		for _, w := range widths {
			t.Run(fmt.Sprintf("%s/w%d", view, w), func(t *testing.T) {
				l := locksPane(t)
				l.Data.Tree = view == "tree"
				l.Data.Detail = view == "detail"
				out := RenderLocks(l.Data, w, 16, dark)
				assertBox(t, out, w, 16)
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestRenderLocksShowsWhoBlocksWhom(t *testing.T) {
	l := locksPane(t)
	out := ansi.Strip(RenderLocks(l.Data, 160, 20, dark))
	for _, want := range []string{
		"[production] ●", "clone ✕",
		"7 backends (2 idle, 1 idle in tx)", "3 waiting, longest 38s",
		"4123      38s RowExclusive appointments ← 4100  pod api-7d9f-x2x9k",
		"4130       5s Share transactionid ← 4123",
		"heavy locks held (1)", "AccessExclusive appointments  2 waiting  acme-migrate",
		"long-running (over 30s)", "idle in tx 1m35s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	l.Data.Tree = true
	tree := ansi.Strip(RenderLocks(l.Data, 160, 20, dark))
	for _, want := range []string{"4100   root active 41s", "└ 4123   waits 38s", "  └ 4130   waits 5s"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree missing %q in\n%s", want, tree)
		}
	}
}

func TestRenderLocksTargetDown(t *testing.T) {
	l := locksPane(t)
	l.Update(press("t"))
	out := ansi.Strip(RenderLocks(l.Data, 100, 10, dark))
	if !strings.Contains(out, "[clone] ✕") || !strings.Contains(out, "down: dial tcp 10.0.0.6:5432: connect: connection refused") {
		t.Fatalf("the clone being down is not shown:\n%s", out)
	}
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func requestOf(t *testing.T, cmd tea.Cmd) LocksRequest {
	t.Helper()
	if cmd == nil {
		t.Fatal("no request")
	}
	req, ok := cmd().(LocksRequest)
	if !ok {
		t.Fatalf("not a LocksRequest: %T", cmd())
	}
	return req
}

// TestLocksKeysChooseBackends: c acts on the selected backend; b tags the
// root blockers of the selected wait and then c acts on the tags; K asks
// for terminate.
func TestLocksKeysChooseBackends(t *testing.T) {
	l := locksPane(t)
	_, cmd := l.Update(press("c"))
	if req := requestOf(t, cmd); req.Op != OpCancelBackend || !slices.Equal(req.PIDs, []int32{4123}) || req.Target != "production" {
		t.Errorf("c on the first wait: %+v", req)
	}
	l.Update(press("down"))
	l.Update(press("down")) // 4130, waiting behind 4123 behind 4100
	l.Update(press("b"))
	_, cmd = l.Update(press("K"))
	if req := requestOf(t, cmd); req.Op != OpTerminateBackend || !slices.Equal(req.PIDs, []int32{4100}) {
		t.Errorf("b then K: %+v, want terminate of the root 4100", req)
	}
	l.Update(press("space"))
	_, cmd = l.Update(press("c"))
	if req := requestOf(t, cmd); !slices.Equal(req.PIDs, []int32{4100, 4130}) {
		t.Errorf("tagged set: %+v", req.PIDs)
	}
	// A reading without 4130 drops its tag.
	s := locksState()
	s.Targets[0].Backend = slices.DeleteFunc(s.Targets[0].Backend, func(b snapshot.Backend) bool { return b.PID == 4130 })
	l.Show(locksFeed(s, snapshot.Health{State: snapshot.OK}), fixturePods)
	if l.Data.Tagged[4130] || !l.Data.Tagged[4100] {
		t.Errorf("tags after 4130 left: %v", l.Data.Tagged)
	}
}

// TestLocksReadOnlyStillReportsKeys: in read-only mode c and K vanish from
// help but still reach the root, which says why nothing happens.
func TestLocksReadOnlyStillReportsKeys(t *testing.T) {
	l := locksPane(t)
	l.SetReadOnly(true)
	for _, b := range l.ShortHelp() {
		if b.Enabled() && (b.Help().Key == "c" || b.Help().Key == "K") {
			t.Errorf("%s still offered in read-only mode", b.Help().Key)
		}
	}
	for _, k := range []string{"c", "K"} {
		_, cmd := l.Update(press(k))
		requestOf(t, cmd)
	}
}

func TestLocksCopyAndDetail(t *testing.T) {
	l := locksPane(t)
	_, cmd := l.Update(press("y"))
	if cmd == nil {
		t.Fatal("y copies nothing")
	}
	l.Update(press("enter"))
	out := ansi.Strip(RenderLocks(l.Data, 80, 16, dark))
	if !strings.Contains(out, "pid 4123") || !strings.Contains(out, "UPDATE appointments SET status = $1 WHERE id = $2") {
		t.Fatalf("detail view:\n%s", out)
	}
	l.Update(press("esc"))
	if l.Data.Detail {
		t.Error("esc does not leave the detail view")
	}
}

// bigLocks is a busy server: n backends, a tenth of them waiting in
// chains, some long-running.
func bigLocks(n int) snapshot.DBState {
	now := fixtureNow
	t := snapshot.TargetLocks{Name: "production", Where: "db:5432/app", Server: "15.18", At: now, GoodAt: now}
	for i := range n {
		b := snapshot.Backend{PID: int32(10000 + i), User: "app", Application: fmt.Sprintf("acme-web-%d", i), Database: "app",
			State: "idle", Query: "COMMIT"}
		if i%10 == 0 {
			b.State, b.QueryStart, b.XactStart = "active", now.Add(-time.Duration(i)*time.Second), now.Add(-time.Duration(i)*time.Second)
			b.Query = "UPDATE appointments SET status = $1 WHERE id = $2"
			if i > 0 {
				b.BlockedBy = []int32{10000}
				t.Waits = append(t.Waits, snapshot.Wait{PID: b.PID, BlockedBy: b.BlockedBy, Mode: "RowExclusiveLock", Relation: "appointments", For: time.Duration(i) * time.Second})
			}
		}
		t.Backend = append(t.Backend, b)
	}
	slices.SortFunc(t.Waits, func(a, b snapshot.Wait) int { return int(b.For - a.For) })
	t.Held = []snapshot.HeldLock{{PID: 10000, Mode: "AccessExclusiveLock", Relation: "appointments", For: time.Minute, Waiters: len(t.Waits)}}
	t.Tree = []snapshot.TreeRow{{PID: 10000}}
	for _, w := range t.Waits {
		t.Tree = append(t.Tree, snapshot.TreeRow{PID: w.PID, Depth: 1})
	}
	return snapshot.DBState{Targets: []snapshot.TargetLocks{t}, LockThreshold: 30 * time.Second, LongQuery: 30 * time.Second}
}

func TestRenderLocksEverySize(t *testing.T) {
	l := locksPane(t)
	for w := 2; w <= 90; w += 7 {
		for h := 2; h <= 30; h += 4 {
			assertBox(t, RenderLocks(l.Data, w, h, dark), w, h)
		}
	}
}

// BenchmarkRenderLocks: 2,000 backends, 200 of them waiting, at 200×60.
func BenchmarkRenderLocks(b *testing.B) {
	l := NewLocks(fixtureLocks, dark)
	l.Show(locksFeed(bigLocks(2000), snapshot.Health{State: snapshot.OK}), LocksContext{})
	l.SetFocused(true)
	b.ReportAllocs()
	for b.Loop() {
		RenderLocks(l.Data, 200, 60, dark)
	}
}
