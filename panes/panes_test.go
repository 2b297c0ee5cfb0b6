package panes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

var widths = []int{40, 80, 120, 200}

const fixtureConfig = `
[deploy]
name = "Vetspire production deploy"
environment = "production"

[window]
start = "09:00"
end = "12:30"
timezone = "Europe/London"

[vars]
clone = "vetspire-production-clone-{{date}}"

[[phase]]
name = "Pre-Deployment"

[[phase.step]]
id = "clone"
title = "Create a clone of the production database"
estimate = "10m"
command = "gcloud sql instances clone vetspire-production {{clone}}"

[[phase.step]]
id = "board"
title = "Jira is up to date for every deploy column"
estimate = "15m"
notes = "Cards in In Progress and Code Review must not be merged yet."

[[phase.step]]
id = "pull"
title = "Pull master, staging and production"
estimate = "3m"
command = "git checkout master && git pull"

[[phase]]
name = "Deployment Proper"

[[phase.step]]
id = "merge"
title = "Merge staging into production"
estimate = "5m"
command = "git checkout production && git merge staging"

[[phase.step]]
id = "locks"
title = "Nothing locks the clone for more than 30 seconds"
estimate = "20m"
gate = "locks.max_hold < 30s"

[[phase.step]]
id = "migrate"
title = "Dry-run migrations on the clone"
estimate = "15m"
command = "./scripts/diff_migrations origin/production"

[[phase.step]]
id = "notes"
title = "Publish release notes"
estimate = "10m"

[[phase]]
name = "Disaster Recovery"
contingency = true

[[phase.step]]
id = "rollback"
title = "Roll back to the last good release"
estimate = "10m"

[kubernetes]
context = "gke_vetspire-app_us-central1_vetspire-api-prod"
namespaces = ["production"]
selector = "app=vetspire"

[postgres]
[[postgres.target]]
name = "production"
dsn = "postgres://proxyuser@10.0.0.5:5432/vetspire"
[[postgres.target]]
name = "clone"
dsn = "postgres://proxyuser@10.0.0.6:5432/vetspire-clone-{{date}}"

[jira]
url = "https://vetspire.atlassian.net"
email = "deploys@vetspire.example"
token = "env:JIRA_TOKEN"
board = 12
project = "VET"
[[jira.column]]
name = "In Progress"
not_merged_to = "master"
[[jira.column]]
name = "Staging"
merged_to = "staging"
check_release = true
[[jira.column]]
name = "QA Hold"
merged_to = "staging"
no_blockers = true
[[jira.column]]
name = "Production"
[[jira.move]]
from = ["Staging", "QA Hold"]
to = "Production"
`

var (
	fixtureNow = time.Date(2026, 11, 23, 10, 12, 0, 0, time.UTC)
	dark       = theme.New(true, false)
)

func fixtureCfg(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse("/etc/flightdeck/vetspire.toml", []byte(fixtureConfig), config.LoadOptions{
		Getenv: func(string) string { return "secret-token" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The settings the fixture config gives the source panes.
var (
	fixtureRollout = RolloutSettings{ConfigPath: "/etc/flightdeck/vetspire.toml", Configured: true,
		Context: "gke_vetspire-app_us-central1_vetspire-api-prod", Namespaces: []string{"production"},
		Selector: "app=vetspire", ProgressTimeout: 10 * time.Minute}
	fixtureLocks = LocksSettings{ConfigPath: "/etc/flightdeck/vetspire.toml", Configured: true,
		Targets: []string{"production", "clone"}, LockThreshold: 30 * time.Second, LongQuery: time.Minute, Poll: time.Second}
	fixtureJira = JiraSettings{ConfigPath: "/etc/flightdeck/vetspire.toml", Configured: true, Board: 12, Project: "VET",
		Columns: []snapshot.ColumnRules{
			{Name: "In Progress", NotMergedTo: "master"},
			{Name: "Staging", MergedTo: "staging", CheckRelease: true},
			{Name: "QA Hold", MergedTo: "staging", NoBlockers: true},
			{Name: "Production"},
		},
		Moves: []JiraMove{{From: []string{"Staging", "QA Hold"}, To: "Production"}}}
)

func ptr[T any](v T) *T { return &v }

// fixtureRunbook has one step in every state.
func fixtureRunbook(t testing.TB) *runbook.Runbook {
	rb := runbook.New(fixtureCfg(t))
	at := func(m int) time.Time { return fixtureNow.Add(time.Duration(m) * time.Minute) }
	for _, r := range []journal.Record{
		{Type: runbook.RecDeployStart, At: at(-70)},
		{Type: runbook.RecIntent, At: at(-68), Step: "clone", Action: "a1", Kind: runbook.KindCommand},
		{Type: runbook.RecResult, At: at(-55), Step: "clone", Action: "a1", Kind: runbook.KindCommand, OK: ptr(true), Exit: ptr(0)},
		{Type: runbook.RecStepCheck, At: at(-40), Step: "board", By: "chris"},
		{Type: runbook.RecStepSkip, At: at(-39), Step: "pull", By: "chris", Reason: "branches pulled before the call"},
		{Type: runbook.RecIntent, At: at(-30), Step: "merge", Action: "a2", Kind: runbook.KindCommand},
		{Type: runbook.RecResult, At: at(-29), Step: "merge", Action: "a2", Kind: runbook.KindCommand, OK: ptr(false), Exit: ptr(1), Error: ""},
		{Type: runbook.RecIntent, At: at(-3), Step: "migrate", Action: "a3", Kind: runbook.KindCommand},
	} {
		rb.Apply(r)
	}
	return rb
}

func checklistView(t testing.TB, cursor int) ChecklistView {
	rb := fixtureRunbook(t)
	cfg := fixtureCfg(t)
	return ChecklistView{
		Runbook: rb,
		Gates:   map[string]gates.Result{"locks": {State: gates.Fail, Value: "41s ≥ 30s"}},
		Now:     fixtureNow,
		Cursor:  cursor,
		Focused: true,
		Spinner: "⠋",
		Vars:    cfg.TemplateVars(fixtureNow),
	}
}

// assertBox checks the invariant every pane render must keep: exactly
// height lines of exactly width cells, whatever the content.
func assertBox(t *testing.T, out string, width, height int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != height {
		t.Fatalf("%d lines, want %d", len(lines), height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != width {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i, w, width, ansi.Strip(l))
		}
	}
}

func TestRenderChecklistGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderChecklist(checklistView(t, 3), w, 20, dark)
			assertBox(t, out, w, 20)
			golden.RequireEqual(t, out)
		})
	}
}

func TestRenderChecklistShowsEveryState(t *testing.T) {
	out := ansi.Strip(RenderChecklist(checklistView(t, 5), 120, 24, dark))
	for _, want := range []string{
		"[x] Create a clone", "[-] Pull master", "[!] Merge staging", "[⠋] Dry-run migrations",
		"[ ] Nothing locks", "PRE-DEPLOYMENT", "DISASTER RECOVERY (if needed)",
		"$ ./scripts/diff_migrations origin/production", "10m /    13m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	out = ansi.Strip(RenderChecklist(checklistView(t, 0), 120, 24, dark))
	if !strings.Contains(out, "gcloud sql instances clone vetspire-production vetspire-production-clone-2026-11-23") {
		t.Errorf("the selected command must show with its templates expanded:\n%s", out)
	}
	out = ansi.Strip(RenderChecklist(checklistView(t, 3), 120, 24, dark))
	if !strings.Contains(out, "failed with exit 1") {
		t.Errorf("a failed step must say how it failed:\n%s", out)
	}
}

func TestRenderChecklistKeepsCursorVisible(t *testing.T) {
	v := checklistView(t, 7) // the last step, in the contingency phase
	out := ansi.Strip(RenderChecklist(v, 80, 8, dark))
	if !strings.Contains(out, "▸") {
		t.Fatalf("cursor scrolled out of view:\n%s", out)
	}
}

func outputView() OutputView {
	o := NewOutput(dark)
	o.Data.Now = fixtureNow
	o.Start(NewRun("4f2a9c", "Dry-run migrations on the clone", "./scripts/diff_migrations origin/production", fixtureNow.Add(-95*time.Second)))
	o.Append("4f2a9c", []string{"== 20261120_add_index_concurrently: migrating", "-- create_index(:orders, :clinic_id, algorithm: :concurrently)", "   -> 41.2s", "== 20261121_backfill_status: migrating"})
	return o.Data
}

func TestRenderOutputGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderOutput(outputView(), w, 12, dark)
			assertBox(t, out, w, 12)
			golden.RequireEqual(t, out)
		})
	}
}

func TestOutputRingKeepsNewest(t *testing.T) {
	l := NewLines(3)
	l.Add("a", "b", "c", "d", "e")
	if l.Len() != 3 || l.At(0) != "c" || l.At(2) != "e" {
		t.Fatalf("ring holds %d: %q %q %q", l.Len(), l.At(0), l.At(1), l.At(2))
	}
}

func TestRenderOutputScrolledBack(t *testing.T) {
	v := outputView()
	v.Scroll = 2
	out := ansi.Strip(RenderOutput(v, 80, 8, dark))
	if strings.Contains(out, "backfill_status") || !strings.Contains(out, "↑2") {
		t.Fatalf("scrolled view shows the newest line or no marker:\n%s", out)
	}
}

func sourcePanes(t testing.TB) map[string]SourceView {
	okRollout := NewRollout(fixtureRollout, dark).Data.Source
	okRollout.Health = snapshot.Health{Source: "kubernetes", State: snapshot.OK}
	okRollout.Reach = []snapshot.Reach{{Section: "kubernetes", Target: "https://34.1.2.3", Detail: "Kubernetes v1.36.3, context gke_vetspire-app_us-central1_vetspire-api-prod"}}
	downLocks := NewLocks(fixtureLocks, dark).Data.Source
	downLocks.Health = snapshot.Health{Source: "postgres", State: snapshot.Down, Reason: "clone: dial tcp 10.0.0.6:5432: connect: connection refused"}
	downLocks.Reach = []snapshot.Reach{
		{Target: "production (10.0.0.5:5432/vetspire)", Detail: "PostgreSQL 15.18"},
		{Target: "clone (10.0.0.6:5432/vetspire-clone-2026-11-23)", Err: errors.New("dial tcp 10.0.0.6:5432:\nconnect: connection refused")},
	}
	staleJira := NewJira(fixtureJira, dark).Data.Source
	staleJira.Health = snapshot.Health{Source: "jira", State: snapshot.Stale, Age: 72 * time.Second}
	return map[string]SourceView{
		"rollout_ok":          okRollout,
		"locks_down":          downLocks,
		"jira_stale":          staleJira,
		"errors_unconfigured": NewErrors(ErrorsSettings{ConfigPath: "/etc/flightdeck/vetspire.toml"}, dark).Data.Source,
	}
}

func TestRenderSourceGolden(t *testing.T) {
	for name, v := range sourcePanes(t) {
		for _, w := range widths {
			t.Run(fmt.Sprintf("%s/w%d", name, w), func(t *testing.T) {
				out := RenderSource(v, w, 10, dark)
				assertBox(t, out, w, 10)
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestUnconfiguredPaneNamesTheSection(t *testing.T) {
	out := ansi.Strip(RenderSource(sourcePanes(t)["errors_unconfigured"], 80, 10, dark))
	if !strings.Contains(out, "[sentry]") || !strings.Contains(out, "/etc/flightdeck/vetspire.toml") {
		t.Fatalf("an unconfigured pane must name the section and the file:\n%s", out)
	}
}

// TestRendersAreBoxesAtEverySize sweeps sizes, including absurd ones, for
// the layout invariant and for panics.
func TestRendersAreBoxesAtEverySize(t *testing.T) {
	cl := checklistView(t, 4)
	ov := outputView()
	sv := sourcePanes(t)
	rv := rolloutFixture(t)
	for w := 2; w <= 90; w += 7 {
		for h := 2; h <= 30; h += 4 {
			assertBox(t, RenderRollout(rv, w, h, dark), w, h)
			assertBox(t, RenderChecklist(cl, w, h, dark), w, h)
			assertBox(t, RenderOutput(ov, w, h, dark), w, h)
			for _, v := range sv {
				assertBox(t, RenderSource(v, w, h, dark), w, h)
			}
		}
	}
}

func TestNoColorHasNoColours(t *testing.T) {
	plain := theme.New(true, true)
	out := RenderChecklist(checklistView(t, 2), 80, 20, plain)
	if strings.Contains(out, "38;2;") || strings.Contains(out, "48;2;") {
		t.Fatal("NO_COLOR render contains colour codes")
	}
}

func rolloutFixture(t testing.TB) RolloutView {
	v := NewRollout(fixtureRollout, dark).Data
	v.Source.Health = snapshot.Health{Source: "kubernetes", State: snapshot.OK}
	v.HasData = true
	v.Now = fixtureNow
	v.Focused = true
	v.LKG = map[string]snapshot.LastKnownGood{
		"production/api":    {Namespace: "production", Name: "api", Image: "registry.local/acme/app:release-4f2a9c1", Revision: 2},
		"production/worker": {Namespace: "production", Name: "worker", Image: "registry.local/acme/app:release-4f2a9c1", Revision: 2},
	}
	ago := func(d time.Duration) time.Time { return fixtureNow.Add(-d) }
	v.State = snapshot.Rollout{
		Deployments: []snapshot.Deployment{
			{
				Namespace: "production", Name: "api", Image: "registry.local/acme/app:release-bad1", PrevImage: "registry.local/acme/app:release-4f2a9c1",
				Desired: 6, Updated: 1, Ready: 6, Available: 6, Revision: 3, Phase: snapshot.Stalled,
				Why: "ProgressDeadlineExceeded: ReplicaSet \"api-7d9f\" has timed out progressing.", OldPods: 6,
				Pods: []snapshot.Pod{
					{Name: "api-7d9f-x2x9k", Ready: 0, Total: 1, Status: "CrashLoopBackOff", Reason: "back-off 40s restarting failed container", Restarts: 4, Created: ago(3 * time.Minute), Node: "kwok-node-1", Revision: 3, Problem: true},
					{Name: "api-5c6b-aaaaa", Ready: 1, Total: 1, Status: "Running", Created: ago(2 * time.Hour), Node: "kwok-node-0", Revision: 2},
					{Name: "api-5c6b-bbbbb", Ready: 1, Total: 1, Status: "Running", Created: ago(2 * time.Hour), Node: "kwok-node-1", Revision: 2},
					{Name: "api-5c6b-ccccc", Ready: 1, Total: 1, Status: "Running", Created: ago(2 * time.Hour), Node: "kwok-node-2", Revision: 2},
					{Name: "api-5c6b-ddddd", Ready: 1, Total: 1, Status: "Running", Created: ago(2 * time.Hour), Node: "kwok-node-0", Revision: 2},
				},
			},
			{
				Namespace: "production", Name: "worker", Image: "registry.local/acme/app:release-4f2a9c1",
				Desired: 6, Updated: 6, Ready: 6, Available: 6, Revision: 2, Phase: snapshot.Complete,
				Pods: []snapshot.Pod{{Name: "worker-6d8c-aaaaa", Ready: 1, Total: 1, Status: "Running", Created: ago(2 * time.Hour), Revision: 2}},
			},
		},
		Events: []snapshot.WarningEvent{{At: ago(40 * time.Second), Object: "Pod/api-7d9f-x2x9k", Reason: "BackOff", Message: "Back-off restarting failed container app"}},
	}
	return v
}

func TestRenderRolloutGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderRollout(rolloutFixture(t), w, 20, dark)
			assertBox(t, out, w, 20)
			golden.RequireEqual(t, out)
		})
	}
}

func TestRenderRolloutShowsTheStall(t *testing.T) {
	out := ansi.Strip(RenderRollout(rolloutFixture(t), 120, 24, dark))
	for _, want := range []string{"api STALLED", "release-bad1 ← release-4f2a9c1", "R rolls back to release-4f2a9c1 (rev 2", "CrashLoopBackOff ↻4", "6 pods of older revisions", "worker complete", "BackOff"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestRolloutFacts(t *testing.T) {
	f := rolloutFixture(t).State.Facts()
	if f["rollout.complete"].Bool || f["rollout.no_crashloops"].Bool || f["rollout.old_pods_gone"].Bool {
		t.Fatalf("a stalled, crash-looping rollout with old pods passes a gate: %+v", f)
	}
}

// BenchmarkRenderRollout5000: one deployment of 5,000 pods, a few of them
// crash-looping, at 200×60.
func BenchmarkRenderRollout5000(b *testing.B) {
	v := rolloutFixture(b)
	d := &v.State.Deployments[0]
	base := d.Pods
	d.Pods = nil
	for i := range 5000 {
		p := base[1+i%4]
		p.Name = fmt.Sprintf("api-5c6b-%05d", i)
		if i < 3 {
			p = base[0]
			p.Name = fmt.Sprintf("api-7d9f-%05d", i)
		}
		d.Pods = append(d.Pods, p)
	}
	d.Desired = 5000
	b.ReportAllocs()
	for b.Loop() {
		RenderRollout(v, 200, 60, dark)
	}
}

// learnedView is the checklist after earlier runs taught some steps how
// long they usually take; the cursor is on the failed merge, which has.
func learnedView(t testing.TB) ChecklistView {
	v := checklistView(t, 3)
	v.Runbook.Learn(map[string]runbook.Usual{
		"clone":   {Median: 11 * time.Minute, Runs: 5},
		"merge":   {Median: 40 * time.Second, Runs: 3},
		"locks":   {Median: 2*time.Minute + 5*time.Second, Runs: 1},
		"migrate": {Median: 9 * time.Minute, Runs: 5},
	})
	return v
}

func TestRenderChecklistLearnedGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderChecklist(learnedView(t), w, 20, dark)
			assertBox(t, out, w, 20)
			golden.RequireEqual(t, out)
		})
	}
}

func TestRenderChecklistSaysWhatAStepUsuallyTakes(t *testing.T) {
	out := ansi.Strip(RenderChecklist(learnedView(t), 120, 24, dark))
	for _, want := range []string{
		"10m · usually 11m    /    13m", // est, learned, actual
		"20m · usually 2m05s",           // not started yet
		"estimate 5m · usually 40s (the median of the last 3 runs)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// Narrow, the row keeps est / actual; the selected step's detail
	// still says it.
	out = ansi.Strip(RenderChecklist(learnedView(t), 60, 24, dark))
	if strings.Contains(out, "· usually 11m") || !strings.Contains(out, "usually 40s (the median") {
		t.Errorf("at 60 cells:\n%s", out)
	}
}
