package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// preflightConfig is the sandbox's own config with its [migrations] files
// in dir, so the test changes a migration of its own, never the sandbox's.
func preflightConfig(t *testing.T, info *sandbox.Info, dir string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(info.Config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `files = ["{{sandbox}}/migrations/*.sql"]`, fmt.Sprintf("files = [%q]", filepath.Join(dir, "*.sql")), 1)
	if text == string(b) {
		t.Fatal("the sandbox config has no [migrations] files line to point elsewhere")
	}
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "flightdeck.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeMigration(t *testing.T, dir, sql string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, sandbox.PendingMigration), []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runPreflightCmd(t *testing.T, bin, cfg string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "preflight", "--config", cfg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestPreflightOnSandbox is the new user's story: the sandbox's pending
// migration, judged against the sandbox's production with its workload
// running, is blocked for exactly its four hazards, each with its reason
// and production's figures; the safe form passes; SQL that does not parse,
// a failing command and an unreachable production are each said plainly
// and never pass.
func TestPreflightOnSandbox(t *testing.T) {
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	writeMigration(t, dir, sandbox.PendingMigrationSQL)
	cfg := preflightConfig(t, info, dir, nil)

	code, out := runPreflightCmd(t, bin, cfg)
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d for a blocked migration:\n%s", code, exitUnreachable, out)
	}
	t.Logf("preflight:\n%s", out)
	verdicts := regexp.MustCompile(`(?m)^(OK|WARN|BLOCK|UNKNOWN)\s+\S+:(\d+)\s`).FindAllStringSubmatch(out, -1)
	got := map[string]string{}
	for _, v := range verdicts {
		got[v[2]] = v[1]
	}
	// Lines of sandbox.PendingMigrationSQL.
	want := map[string]string{"2": "OK", "3": "OK", "6": "BLOCK", "9": "BLOCK", "12": "BLOCK", "15": "BLOCK"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts by line %v, want %v", got, want)
	}
	for _, w := range []string{
		"6 statements: 4 block, 2 ok",
		"takes ACCESS EXCLUSIVE on appointments",
		"SHARE on appointments",
		"appointments_patient_id_idx",
		"the Stripe outage",
		"CONCURRENTLY",
		"rows",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the pre-flight does not say %q", w)
		}
	}

	writeMigration(t, dir, sandbox.SafeMigrationSQL)
	if code, out := runPreflightCmd(t, bin, cfg); code != 0 {
		t.Errorf("the safe form: exit %d, want 0:\n%s", code, out)
	}

	writeMigration(t, dir, "SET lock_timeout = '2s';\n\nALTER TABL appointments ADD COLUMN x int;\n")
	code, out = runPreflightCmd(t, bin, cfg)
	if code != exitUnreachable || !strings.Contains(out, sandbox.PendingMigration+":3: syntax error at or near") {
		t.Errorf("SQL that does not parse: exit %d, want %d naming file:3 and the parser's message:\n%s", code, exitUnreachable, out)
	}

	cmdCfg := preflightConfig(t, info, t.TempDir(), func(s string) string {
		return strings.Replace(s, "[migrations]\n", "[migrations]\ncommand = \"echo 'pending: 3 migrations'; echo 'database acme_dev does not exist' >&2; exit 1\"\n", 1)
	})
	code, out = runPreflightCmd(t, bin, cmdCfg)
	if code != exitUnreachable || !strings.Contains(out, "database acme_dev does not exist") || !strings.Contains(out, "pending: 3 migrations") {
		t.Errorf("a failing command: exit %d, want %d with its output:\n%s", code, exitUnreachable, out)
	}

	writeMigration(t, dir, sandbox.SafeMigrationSQL)
	downCfg := preflightConfig(t, info, dir, func(s string) string {
		// The production target on a port nothing listens on.
		re := regexp.MustCompile(`(?m)^(name = "production"\ndsn = ")[^"]*"`)
		return re.ReplaceAllString(s, `${1}host=127.0.0.1 port=1 dbname=acme user=acme connect_timeout=2"`)
	})
	start := time.Now()
	code, out = runPreflightCmd(t, bin, downCfg)
	if code != exitUnreachable || !strings.Contains(out, "UNKNOWN") || strings.Contains(out, "\nOK      "+sandbox.PendingMigration+":3") {
		t.Errorf("production down: exit %d, want %d and unknown verdicts, never ok for what touches a table:\n%s", code, exitUnreachable, out)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("production down took %s to say so", took)
	}
}

// TestDryRunMeasuresTheSandboxMigration runs the sandbox's pending
// migration on a fresh copy of today's clone, as the runbook's dry run
// does, and wants the locks Postgres really took on the million-row
// appointments: SHARE for the index built without CONCURRENTLY (writes
// wait, reads go on: the documentation's CREATE INDEX), ACCESS EXCLUSIVE
// for the type change and the volatile default (everything waits).
func TestDryRunMeasuresTheSandboxMigration(t *testing.T) {
	info := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := fmt.Sprintf("preflight_dry_%d", time.Now().UnixNano()%1e9)
	admin, err := pgx.Connect(ctx, info.PostgresAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	u, err := url.Parse(info.PostgresApp)
	if err != nil {
		t.Fatal(err)
	}
	// Owned by the application's role, as the clone is: the migration
	// creates an index in its public schema.
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name,
		pgx.Identifier{info.CloneName}.Sanitize(), pgx.Identifier{u.User.Username()}.Sanitize())); err != nil {
		t.Fatalf("copy today's clone: %v", err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	cc, err := pgx.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := preflight.Parse(sandbox.PendingMigration, sandbox.PendingMigrationSQL)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	obs, err := preflight.Measure(ctx, cc, stmts, 5*time.Second, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, strings.Join(lines, "\n"))
	}
	t.Logf("dry run:\n%s", strings.Join(lines, "\n"))
	held := func(i int) map[preflight.Lock]time.Duration {
		out := map[preflight.Lock]time.Duration{}
		for _, l := range obs[i].Locks {
			if l.Relation == "public.appointments" {
				out[l.Lock] = l.Held
			}
		}
		return out
	}
	byLine := map[int]int{}
	for i, o := range obs {
		byLine[o.Line] = i
	}
	if _, ok := held(byLine[12])[preflight.Share]; !ok {
		t.Errorf("CREATE INDEX without CONCURRENTLY: locks on appointments %v, want SHARE", held(byLine[12]))
	}
	for _, line := range []int{6, 9} {
		if d, ok := held(byLine[line])[preflight.AccessExclusive]; !ok || d <= 0 {
			t.Errorf("line %d: locks on appointments %v, want ACCESS EXCLUSIVE held for a while", line, held(byLine[line]))
		}
	}
	if len(lines) != len(stmts) {
		t.Errorf("%d lines shown live for %d statements", len(lines), len(stmts))
	}
}

func readRunbook(t *testing.T, path string) *runbook.Runbook {
	t.Helper()
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return runbook.New(cfg)
}

// TestPreflightGateHoldsThePush is the demo: the cockpit shows the four
// hazards in the DB pane, the push is refused while the pre-flight's gate
// is red, the verdicts are journaled, and the gate turns green within
// seconds of the file being fixed.
func TestPreflightGateHoldsThePush(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	writeMigration(t, dir, sandbox.PendingMigrationSQL)
	cfg := preflightConfig(t, info, dir, nil)
	state := t.TempDir()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-preflight-%d", os.Getpid()), name: "cockpit"}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", s.name, "-x", "200", "-y", "50",
		fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", state, bin, cfg))
	s.waitFor("1 Checklist")
	s.waitFor("pre-flight: 6 statements: 4 block, 2 ok")

	// The push step, selected and asked to run.
	rb := readRunbook(t, cfg)
	push := -1
	for i, st := range rb.Steps() {
		if st.ID == "deploy/push-production" {
			push = i
		}
	}
	keys := []string{"send-keys", "-t", s.name, "g"}
	for range push {
		keys = append(keys, "j")
	}
	s.run(keys...)
	s.run("send-keys", "-t", s.name, "Enter")
	s.waitFor("waits for")

	// The DB pane's p shows every statement.
	s.run("send-keys", "-t", s.name, "3", "z", "p")
	s.waitFor("DB locks · pre-flight")
	s.waitFor("the Stripe outage")

	writeMigration(t, dir, sandbox.SafeMigrationSQL)
	s.run("send-keys", "-t", s.name, "p")
	s.waitFor("pre-flight: 5 statements: 5 ok")
	recs := readJournal(t, state)
	var verdicts []journal.Record
	for _, r := range recs {
		if r.Type == report.RecPreflight {
			verdicts = append(verdicts, r)
		}
	}
	if len(verdicts) != 2 || !strings.Contains(verdicts[0].Summary, "4 block") || !strings.Contains(verdicts[1].Summary, "5 ok") {
		t.Errorf("journaled verdicts: %+v", verdicts)
	}
	s.run("send-keys", "-t", s.name, "q")
}
