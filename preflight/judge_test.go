package preflight

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var judgeAt = time.Date(2026, time.December, 3, 10, 0, 0, 0, time.Local)

// busyProduction is appointments as the sandbox has it: a million rows, an
// index the application uses, the primary key, and one old transaction.
func busyProduction() Production {
	reset := time.Date(2026, time.November, 3, 8, 0, 0, 0, time.Local)
	return Production{
		Target: "production",
		At:     judgeAt,
		Tables: map[string]TableFacts{
			"appointments":        {Exists: true, Rows: 1_000_000, Bytes: 187 << 20},
			"public.appointments": {Exists: true, Rows: 1_000_000, Bytes: 187 << 20},
		},
		Indexes: map[string]IndexFacts{
			"appointments_patient_id_idx": {Exists: true, Table: "public.appointments", Scans: 1_234_567,
				LastScan: judgeAt.Add(-2 * time.Second), StatsReset: reset},
			"appointments_pkey":     {Exists: true, Table: "public.appointments", Scans: 312, StatsReset: reset, Constraint: "appointments_pkey"},
			"appointments_old_idx":  {Exists: true, Table: "public.appointments", StatsReset: reset},
			"appointments_gone_idx": {},
		},
		Holders: map[string][]Holder{
			"appointments": {
				{PID: 4412, User: "app", App: "acme-web-1", State: "idle in transaction", XactAge: 3*time.Minute + 10*time.Second, Mode: AccessShare, Query: "SELECT 1 FROM appointments LIMIT 1"},
				{PID: 4413, User: "app", State: "active", XactAge: 5 * time.Second, Mode: RowExclusive},
			},
		},
		Waiting: map[string]int{"appointments": 3},
	}
}

func dropIndex(name string, static ...Hazard) Analysis {
	return Analysis{
		Statement: Statement{File: "m.sql", Line: 1, SQL: "DROP INDEX " + name},
		Kind:      "DROP INDEX",
		Relations: []Relation{{Name: name, Index: true, Lock: AccessExclusive}},
		Hazards:   static,
	}
}

func findings(j Judged, code string) []Hazard {
	var out []Hazard
	for _, h := range j.Findings {
		if h.Code == code {
			out = append(out, h)
		}
	}
	return out
}

func TestFigures(t *testing.T) {
	counts := map[int64]string{0: "0", 312: "312", 999: "999", 1000: "1.0k", 4500: "4.5k", 45_000: "45k",
		999_499: "999k", 999_999: "1.0M", 1_000_000: "1.0M", 1_234_567: "1.2M", 12_345_678: "12M", 3_400_000_000: "3.4B"}
	for n, want := range counts {
		if got := figureCount(n); got != want {
			t.Errorf("figureCount(%d) = %q, want %q", n, got, want)
		}
	}
	sizes := map[int64]string{512: "512 bytes", 8192: "8.0 kB", 187 << 20: "187 MB", 8704 << 20: "8.5 GB", 1023 << 10: "1023 kB"}
	for n, want := range sizes {
		if got := figureBytes(n); got != want {
			t.Errorf("figureBytes(%d) = %q, want %q", n, got, want)
		}
	}
	ages := map[time.Duration]string{2 * time.Second: "2s", 3*time.Minute + 10*time.Second: "3m10s", 3 * time.Minute: "3m",
		2*time.Hour + 5*time.Minute: "2h5m", 76 * time.Hour: "3d4h", 300 * time.Millisecond: "300ms"}
	for d, want := range ages {
		if got := figureAge(d); got != want {
			t.Errorf("figureAge(%s) = %q, want %q", d, got, want)
		}
	}
	if got := figureSince(time.Time{}, judgeAt); got != "since the statistics began" {
		t.Errorf("figureSince(zero) = %q", got)
	}
	if got := figureSince(time.Date(2025, time.March, 14, 0, 0, 0, 0, time.Local), judgeAt); got != "since 14 Mar 2025" {
		t.Errorf("figureSince(last year) = %q", got)
	}
}

func TestJudgeDropIndexInUse(t *testing.T) {
	j := Judge([]Analysis{dropIndex("appointments_patient_id_idx")}, busyProduction())[0]
	if j.Verdict != Block {
		t.Fatalf("verdict %s, want block; findings %+v", j.Verdict, j.Findings)
	}
	used := findings(j, HazardDropIndexUsed)
	if len(used) != 1 {
		t.Fatalf("findings %+v: want one %s", j.Findings, HazardDropIndexUsed)
	}
	want := "appointments_patient_id_idx was used 1.2M times since 3 Nov (last 2s ago): dropping it is the Stripe outage — queries that use it fall back to scanning appointments (1.0M rows)"
	if used[0].Reason != want {
		t.Errorf("reason\n %q\nwant\n %q", used[0].Reason, want)
	}
	wantFig := "appointments_patient_id_idx on public.appointments: 1.2M scans since 3 Nov, last 2s ago"
	if j.Figures != wantFig {
		t.Errorf("figures %q, want %q", j.Figures, wantFig)
	}
}

func TestJudgeDropIndexBackingAConstraint(t *testing.T) {
	j := Judge([]Analysis{dropIndex("appointments_pkey")}, busyProduction())[0]
	if j.Verdict != Block {
		t.Fatalf("verdict %s, want block", j.Verdict)
	}
	hs := findings(j, HazardDropIndexUsed)
	if len(hs) != 2 || !strings.Contains(hs[0].Reason, "backs constraint appointments_pkey") ||
		!strings.Contains(hs[0].Reason, "drop the constraint instead") ||
		hs[0].Fix != "ALTER TABLE public.appointments DROP CONSTRAINT appointments_pkey" {
		t.Errorf("findings %+v: want the constraint named, with its DROP CONSTRAINT", hs)
	}
	if !strings.Contains(hs[1].Reason, "was used 312 times since 3 Nov:") {
		t.Errorf("second finding %q: want the scans, with no last scan when unknown", hs[1].Reason)
	}
	if !strings.HasSuffix(j.Figures, "312 scans since 3 Nov; backs constraint appointments_pkey") {
		t.Errorf("figures %q", j.Figures)
	}
}

func TestJudgeDropIndexMissingOnProduction(t *testing.T) {
	j := Judge([]Analysis{dropIndex("appointments_gone_idx")}, busyProduction())[0]
	if j.Verdict != Warn || len(j.Findings) != 1 || !strings.Contains(j.Findings[0].Reason, "appointments_gone_idx does not exist on production (production)") {
		t.Errorf("verdict %s, findings %+v: want one warning that it does not exist", j.Verdict, j.Findings)
	}
	if j.Figures != "appointments_gone_idx: not on production" {
		t.Errorf("figures %q", j.Figures)
	}
}

// An index nobody uses is no outage: only the parse tree's own hazard (no
// CONCURRENTLY) stands, and the figures say it is unused.
func TestJudgeDropIndexUnused(t *testing.T) {
	static := Hazard{Code: HazardDropIndex, Verdict: Warn, Reason: "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table"}
	a := dropIndex("appointments_old_idx", static)
	j := Judge([]Analysis{a}, busyProduction())[0]
	if j.Verdict != Warn || !slices.Equal(j.Findings, []Hazard{static}) {
		t.Errorf("verdict %s, findings %+v: want the static warning alone", j.Verdict, j.Findings)
	}
	if j.Figures != "appointments_old_idx on public.appointments: unused since 3 Nov" {
		t.Errorf("figures %q", j.Figures)
	}
	// The analysis itself is left as it was.
	if len(a.Hazards) != 1 {
		t.Errorf("Judge changed the analysis: %+v", a.Hazards)
	}
}

func TestJudgeQueuesBehindHolders(t *testing.T) {
	alter := Analysis{
		Statement: Statement{File: "m.sql", Line: 3, SQL: "ALTER TABLE appointments ADD COLUMN x int"},
		Kind:      "ALTER TABLE",
		Relations: []Relation{{Name: "appointments", Lock: AccessExclusive}},
	}
	p := busyProduction()
	j := Judge([]Analysis{alter}, p)[0]
	q := findings(j, HazardQueue)
	if j.Verdict != Block || len(q) != 1 {
		t.Fatalf("verdict %s, findings %+v: want one queue block", j.Verdict, j.Findings)
	}
	want := "2 transactions hold locks on appointments now (oldest 3m10s, pid 4412 (acme-web-1) idle in transaction): this ALTER TABLE waits behind them, and every query on appointments queues behind it until they end; 3 sessions wait for a lock on it already"
	if q[0].Reason != want {
		t.Errorf("reason\n %q\nwant\n %q", q[0].Reason, want)
	}
	if j.Figures != "appointments: 1.0M rows, 187 MB; 2 transactions on it now; 3 waiting" {
		t.Errorf("figures %q", j.Figures)
	}

	alter.LockTimeout = true
	j = Judge([]Analysis{alter}, p)[0]
	if q := findings(j, HazardQueue); j.Verdict != Warn || len(q) != 1 || !strings.Contains(q[0].Reason, "gives up after lock_timeout instead of queueing") {
		t.Errorf("with lock_timeout: verdict %s, findings %+v: want a warning that it gives up", j.Verdict, j.Findings)
	}

	// CREATE INDEX's SHARE lets the reader's ACCESS SHARE be, but waits
	// for the writer's ROW EXCLUSIVE; and only writes queue behind it.
	create := Analysis{
		Statement: Statement{File: "m.sql", Line: 5, SQL: "CREATE INDEX ON appointments (x)"},
		Kind:      "CREATE INDEX",
		Relations: []Relation{{Name: "appointments", Lock: Share}},
	}
	j = Judge([]Analysis{create}, p)[0]
	q = findings(j, HazardQueue)
	if len(q) != 1 || !strings.HasPrefix(q[0].Reason, "1 transaction holds a lock on appointments now (5s, pid 4413 active)") ||
		!strings.Contains(q[0].Reason, "every write to appointments queues") {
		t.Errorf("CREATE INDEX findings %+v: want the writer alone, and writes queued", j.Findings)
	}

	// ROW EXCLUSIVE blocks neither reads nor writes: no queue to speak of.
	update := Analysis{Kind: "UPDATE", Relations: []Relation{{Name: "appointments", Lock: RowExclusive}}}
	if j := Judge([]Analysis{update}, p)[0]; j.Verdict != OK || len(j.Findings) != 0 {
		t.Errorf("UPDATE: verdict %s, findings %+v: want ok", j.Verdict, j.Findings)
	}
}

func TestJudgeUnreadProductionIsUnknown(t *testing.T) {
	p := Production{Target: "production", At: judgeAt, Err: errors.New("failed to connect to `host=127.0.0.1`:\n connection refused")}
	as := []Analysis{
		{Kind: "SET", Statement: Statement{SQL: "SET lock_timeout = '2s'"}},
		{Kind: "ALTER TABLE", Relations: []Relation{{Name: "appointments", Lock: AccessExclusive}}},
		dropIndex("appointments_patient_id_idx"),
		{Kind: "CREATE INDEX", NewTable: true, Relations: []Relation{{Name: "fresh", Lock: Share}}},
	}
	js := Judge(as, p)
	want := []Verdict{OK, Unknown, Unknown, OK}
	for i, j := range js {
		if j.Verdict != want[i] {
			t.Errorf("%s: verdict %s, want %s (findings %+v)", as[i].Kind, j.Verdict, want[i], j.Findings)
		}
	}
	h := js[1].Findings[0]
	if h.Code != HazardProduction || !strings.HasPrefix(h.Reason, "production (production) could not be read: failed to connect to `host=127.0.0.1`: connection refused; nobody can vouch for appointments") {
		t.Errorf("finding %+v", h)
	}
	// A block beats unknown; nothing known makes it ok.
	blocked := as[1]
	blocked.Hazards = []Hazard{{Code: HazardRewrite, Verdict: Block, Reason: "rewrites appointments"}}
	if j := Judge([]Analysis{blocked}, p)[0]; j.Verdict != Block || j.Findings[1].Verdict != Unknown {
		t.Errorf("verdict %s, findings %+v: want block, then the unknown", j.Verdict, j.Findings)
	}
}

func TestJudgeWithoutProductionKeepsTheParseTree(t *testing.T) {
	a := Analysis{Kind: "ALTER TABLE", Relations: []Relation{{Name: "appointments", Lock: AccessExclusive}},
		Hazards: []Hazard{{Code: HazardNoLockTimeout, Verdict: Warn}}}
	j := Judge([]Analysis{a, {Kind: "SET"}}, Production{})
	if j[0].Verdict != Warn || len(j[0].Findings) != 1 || j[0].Figures != "" || j[1].Verdict != OK {
		t.Errorf("got %+v", j)
	}
}

func TestJudgeSizesWhatItRewrites(t *testing.T) {
	a := Analysis{
		Kind:      "ALTER TABLE",
		Relations: []Relation{{Name: "appointments", Lock: AccessExclusive}},
		Hazards: []Hazard{
			{Code: HazardRewrite, Verdict: Block, Reason: "rewrites appointments under ACCESS EXCLUSIVE"},
			{Code: HazardScan, Verdict: Warn, Reason: "reads the whole table to check the constraint"},
			{Code: HazardNoLockTimeout, Verdict: Warn, Reason: "no lock_timeout: appointments queues"},
		},
	}
	p := busyProduction()
	p.Holders = nil
	j := Judge([]Analysis{a}, p)[0]
	got := []string{j.Findings[0].Reason, j.Findings[1].Reason, j.Findings[2].Reason}
	want := []string{
		"rewrites appointments (1.0M rows, 187 MB) under ACCESS EXCLUSIVE",
		"reads the whole table to check the constraint (on production: appointments 1.0M rows, 187 MB)",
		"no lock_timeout: appointments queues",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reasons\n %q\nwant\n %q", got, want)
	}

	// An index's statement is sized by its table.
	ix := dropIndex("appointments_old_idx", Hazard{Code: HazardBlockingIndex, Verdict: Warn, Reason: "blocks writes to appointments"})
	if j := Judge([]Analysis{ix}, p)[0]; j.Findings[0].Reason != "blocks writes to appointments (1.0M rows, 187 MB)" {
		t.Errorf("index: %q", j.Findings[0].Reason)
	}
	// Never analyzed: the size alone.
	p.Tables["appointments"] = TableFacts{Exists: true, Rows: -1, Bytes: 8192}
	if j := Judge([]Analysis{a}, p)[0]; j.Findings[0].Reason != "rewrites appointments (8.0 kB, never analyzed) under ACCESS EXCLUSIVE" {
		t.Errorf("never analyzed: %q", j.Findings[0].Reason)
	}
}

func TestJudgeFindingsWorstFirst(t *testing.T) {
	a := Analysis{
		Kind:      "ALTER TABLE",
		Relations: []Relation{{Name: "appointments", Lock: AccessExclusive}},
		Hazards: []Hazard{
			{Code: "a", Verdict: Warn}, {Code: "b", Verdict: OK}, {Code: "c", Verdict: Block},
			{Code: "d", Verdict: Unknown}, {Code: "e", Verdict: Warn}, {Code: "f", Verdict: Block},
		},
	}
	p := busyProduction()
	p.Holders = nil
	j := Judge([]Analysis{a}, p)[0]
	var codes []string
	for _, h := range j.Findings {
		codes = append(codes, h.Code)
	}
	if want := []string{"c", "f", "d", "a", "e", "b"}; !slices.Equal(codes, want) || j.Verdict != Block {
		t.Errorf("order %v, verdict %s; want %v, block", codes, j.Verdict, want)
	}
}

func TestRegclassSafe(t *testing.T) {
	for name, want := range map[string]bool{
		"appointments": true, "public.appointments": true, `"Odd.Name"`: true, `public."a""b"`: true,
		"acme.public.appointments": true, "other.public.appointments": false, "a.b.c.d": false,
		"": false, "a..b": false, `"unbalanced`: false, `""`: false,
	} {
		if got := regclassSafe(name, "acme"); got != want {
			t.Errorf("regclassSafe(%q) = %v, want %v", name, got, want)
		}
	}
}
