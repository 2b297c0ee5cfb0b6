package pg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCloneName(t *testing.T) {
	day := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	if got, want := CloneName("acme", day), "acme-clone-2026-11-22"; got != want {
		t.Errorf("CloneName = %q, want %q", got, want)
	}
	if got, want := CloneName("vetspire-production", day), "vetspire-production-clone-2026-11-22"; got != want {
		t.Errorf("CloneName = %q, want the runbook's %q", got, want)
	}
}

func TestMigrationSQL(t *testing.T) {
	sql := MigrationSQL(45)
	order := []string{"SET application_name = '" + MigrationApp + "'", "BEGIN;", "LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE;", "SELECT pg_sleep(45);", "COMMIT;"}
	at := 0
	for _, s := range order {
		i := strings.Index(sql[at:], s)
		if i < 0 {
			t.Fatalf("migration lacks %q after offset %d:\n%s", s, at, sql)
		}
		at += i + len(s)
	}
	// psql meta-commands would break RunMigration, which sends the text
	// to the server as it is.
	for _, line := range strings.Split(sql, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), `\`) {
			t.Errorf("psql meta-command in the migration: %q", line)
		}
	}
	if !strings.Contains(MigrationSQL(-3), "pg_sleep(0)") {
		t.Errorf("a negative hold should sleep 0 seconds")
	}
}

func TestBinDirMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianRoot
	debianRoot = t.TempDir()
	t.Cleanup(func() { debianRoot = old })

	_, err := BinDir()
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("BinDir with no server = %v, want ErrNoServer", err)
	}
	if !strings.Contains(err.Error(), InstallCommand) {
		t.Errorf("the error should name %q: %v", InstallCommand, err)
	}
	if _, err := Up(context.Background(), Options{Dir: t.TempDir()}); !errors.Is(err, ErrNoServer) {
		t.Errorf("Up with no server = %v, want ErrNoServer", err)
	}
}

func TestBinDirPicksNewestDebianVersion(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianRoot
	debianRoot = t.TempDir()
	t.Cleanup(func() { debianRoot = old })
	fake := func(version string, programs ...string) string {
		dir := filepath.Join(debianRoot, version, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	fake("9.6", serverPrograms...)
	want := fake("13", serverPrograms...)
	fake("16", "initdb", "postgres") // a client-only leftover: no pg_ctl
	got, err := BinDir()
	if err != nil || got != want {
		t.Errorf("BinDir = %q, %v; want %q", got, err, want)
	}
}

func TestSocketPathLimit(t *testing.T) {
	if err := layoutOf("/tmp/fdpg123").checkSocketPath(); err != nil {
		t.Errorf("short directory rejected: %v", err)
	}
	err := layoutOf("/tmp/" + strings.Repeat("d", 90)).checkSocketPath()
	if err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("long directory: %v, want an error asking for a shorter one", err)
	}
}

func TestDSNWithDatabase(t *testing.T) {
	got, err := DSNWithDatabase("postgres://app:app@127.0.0.1:5432/acme?sslmode=disable", "acme-clone-2026-11-22")
	if want := "postgres://app:app@127.0.0.1:5432/acme-clone-2026-11-22?sslmode=disable"; err != nil || got != want {
		t.Errorf("DSNWithDatabase = %q, %v; want %q", got, err, want)
	}
	if _, err := DSNWithDatabase("host=127.0.0.1 dbname=acme", "x"); err == nil {
		t.Error("a keyword/value DSN should be refused, not mangled")
	}
}

func TestWhereHidesPassword(t *testing.T) {
	got := where("postgres://app:s3cret@127.0.0.1:5432/acme?sslmode=disable")
	if strings.Contains(got, "s3cret") || got != "app@127.0.0.1:5432/acme" {
		t.Errorf("where = %q", got)
	}
}

func TestNoSandbox(t *testing.T) {
	o := Options{Dir: t.TempDir()}
	running, detail, err := Status(context.Background(), o)
	if err != nil || running || !strings.Contains(detail, "no sandbox postgres") {
		t.Errorf("Status of an empty directory = %v, %q, %v", running, detail, err)
	}
	if err := Down(context.Background(), o); err != nil {
		t.Errorf("Down of an empty directory: %v", err)
	}
}

func TestWorkloadRefusesUnusableArguments(t *testing.T) {
	ctx := context.Background()
	if err := RunWorkload(ctx, "postgres://app:app@127.0.0.1:1/acme", 0); err == nil {
		t.Error("RunWorkload with 0 connections should fail")
	}
	if err := RunWorkload(ctx, "postgres://app:app@127.0.0.1:notaport/acme", 2); err == nil {
		t.Error("RunWorkload with an unparsable DSN should fail")
	}
}

// TestWorkloadRidesOutNoServer: with nothing listening, the sessions keep
// retrying with backoff, counting errors, until their context ends.
func TestWorkloadRidesOutNoServer(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	w := &Workload{DSN: "postgres://app:app@127.0.0.1:" + strconv.Itoa(port) + "/acme?connect_timeout=1", Conns: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Errors < 3 || s.Ops != 0 || s.Connects != 0 || !strings.Contains(s.LastError, "connect") {
		t.Errorf("stats after 1.5s without a server: %+v", s)
	}
	// Backoff doubles from 100ms, so 1.5s allows at most a handful of
	// attempts per session, not a busy loop.
	if s.Errors > 3*6 {
		t.Errorf("%d connection attempts in 1.5s: backoff is not working", s.Errors)
	}
}

func TestBlockingAncestor(t *testing.T) {
	base := shortTempDir(t, "fdba")
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	stranger := osUser{name: "stranger", uid: 54321, gid: 54321}
	if got := blockingAncestor(filepath.Join(private, "sandbox", "postgres"), stranger); got != private {
		t.Errorf("blockingAncestor = %q, want %q", got, private)
	}
	if got := blockingAncestor(filepath.Join(base, "open", "postgres"), stranger); got != "" {
		t.Errorf("blockingAncestor of an open path = %q, want none", got)
	}
}

// TestClusterOutsideUnreachableDir: a root caller whose Dir the server's
// account cannot enter (root's own state directory is under /root) still
// gets a working server, its cluster kept outside Dir and linked from it,
// and Down removes both.
func TestClusterOutsideUnreachableDir(t *testing.T) {
	needServer(t)
	if os.Geteuid() != 0 {
		t.Skip("only a root caller hands the server to another account")
	}
	ctx := t.Context()
	private := filepath.Join(shortTempDir(t, "fdpx"), "home")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(private, "s")
	oldRoot, oldSeed := externalRoot, seedOnUp
	externalRoot, seedOnUp = shortTempDir(t, "fdpe"), false
	t.Cleanup(func() { externalRoot, seedOnUp = oldRoot, oldSeed })
	o := Options{Dir: dir, Progress: &logWriter{t: t}}
	t.Cleanup(func() { _ = Down(context.Background(), o) })

	inst, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	cluster := externalCluster(dir)
	if !strings.HasPrefix(inst.DataDir, cluster+"/") || inst.Dir != filepath.Join(dir, "postgres") {
		t.Errorf("DataDir %s, Dir %s: want the data in %s and Dir in %s", inst.DataDir, inst.Dir, cluster, dir)
	}
	if target, err := os.Readlink(filepath.Join(inst.Dir, clusterLink)); err != nil || target != cluster {
		t.Errorf("link %s = %q, %v; want %q", filepath.Join(inst.Dir, clusterLink), target, err, cluster)
	}
	if _, err := os.Stat(filepath.Join(inst.Dir, MigrationFile)); err != nil {
		t.Errorf("migration file: %v", err)
	}
	if err := ping(ctx, inst.AppDSN); err != nil {
		t.Errorf("application DSN: %v", err)
	}
	if running, detail, err := Status(ctx, o); err != nil || !running {
		t.Errorf("Status = %v, %q, %v", running, detail, err)
	}
	again, err := Up(ctx, o)
	if err != nil || again.PID != inst.PID || again.DataDir != inst.DataDir {
		t.Errorf("second Up = %+v, %v; want the same server", again, err)
	}

	if err := Down(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{inst.Dir, cluster} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Down left %s (%v)", p, err)
		}
	}
	if processAlive(inst.PID) || len(processesIn(inst.DataDir)) > 0 {
		t.Errorf("processes left after Down: postmaster %d alive %v, in the data directory %v", inst.PID, processAlive(inst.PID), processesIn(inst.DataDir))
	}
}
