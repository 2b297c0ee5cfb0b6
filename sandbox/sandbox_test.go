package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// TestSandboxServesEverything checks what a new user checks by hand after
// `sandbox up`: pods run, psql connects, the board answers with the printed
// credentials, Sentry receives traffic, and the written config is valid.
func TestSandboxServesEverything(t *testing.T) {
	info := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", info.Kubeconfig, "-n", "production", "get", "pods", "--no-headers").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get pods: %v\n%s", err, out)
	}
	if running := strings.Count(string(out), "Running"); running < 12 {
		t.Fatalf("%d running pods, want 12+:\n%s", running, out)
	}

	conn, err := pgx.Connect(ctx, info.PostgresApp)
	if err != nil {
		t.Fatalf("connect %s: %v", info.PostgresApp, err)
	}
	// The workload names its sessions after the api and worker pods (or
	// acme-<tier>-<n> before it has seen them), and reconnects under a new
	// name when a pod is replaced: give a daemon just started that moment.
	var n int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'acme-%' OR application_name LIKE 'api-%' OR application_name LIKE 'worker-%'`).Scan(&n)
		if err != nil || n > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || n == 0 {
		t.Errorf("workload sessions: %d (%v)", n, err)
	}
	conn.Close(ctx)

	token, err := os.ReadFile(info.JiraTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, info.JiraURL+"/rest/agile/1.0/board/12/configuration", nil)
	req.SetBasicAuth(info.JiraEmail, strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var board struct {
		ColumnConfig struct {
			Columns []struct{ Name string } `json:"columns"`
		} `json:"columnConfig"`
	}
	json.NewDecoder(resp.Body).Decode(&board)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(board.ColumnConfig.Columns) != 7 {
		t.Fatalf("board: %s, %d columns", resp.Status, len(board.ColumnConfig.Columns))
	}

	cfg, err := config.Load(info.Config, config.LoadOptions{})
	if err != nil {
		t.Fatalf("the written config does not load:\n%v", err)
	}
	if cfg.Kubernetes == nil || cfg.Postgres == nil || cfg.Jira == nil || cfg.Sentry == nil || cfg.Git == nil || cfg.Slack == nil {
		t.Fatal("the written config lacks a section")
	}

	comps, err := sandbox.Status(ctx, sandbox.Options{Dir: info.Dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		if !c.Running {
			t.Errorf("%s is not running: %s", c.Name, c.Detail)
		}
	}

	// Sentry traffic arrives within a few seconds of the daemon starting.
	stoken, _ := os.ReadFile(info.SentryTokenFile)
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, info.SentryURL+"/api/0/organizations/acme/issues/?statsPeriod=1h", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(stoken)))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var issues []json.RawMessage
			json.NewDecoder(resp.Body).Decode(&issues)
			resp.Body.Close()
			if len(issues) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no Sentry issue from the traffic simulator after 90s")
		}
		time.Sleep(2 * time.Second)
	}
}

// TestUpIsIdempotent: a second up reuses everything (same daemon, same
// ports) instead of starting a second copy.
func TestUpIsIdempotent(t *testing.T) {
	first := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	again, err := sandbox.Up(ctx, sandbox.Options{Dir: first.Dir, Exe: sandboxtest.Exe()})
	if err != nil {
		t.Fatal(err)
	}
	if again.DaemonPID != first.DaemonPID || again.JiraURL != first.JiraURL || again.KubeServer != first.KubeServer || again.PostgresApp != first.PostgresApp {
		t.Fatalf("second up changed the sandbox:\nfirst  %+v\nsecond %+v", first, again)
	}
}

// TestDownLeavesNoProcess runs a sandbox of its own, so the shared one
// stays up for the other tests.
func TestDownLeavesNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second sandbox")
	}
	sandboxtest.Start(t) // builds the binary, and fails or skips like the rest
	dir, err := os.MkdirTemp("/tmp", "fdsb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Exe: sandboxtest.Exe()}); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Down(ctx, sandbox.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after down", dir)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Fatalf("processes of the sandbox remain after down: %v", left)
	}
}

// processesMentioning lists live processes whose command line names dir.
func processesMentioning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}
