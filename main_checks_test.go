package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// runCheckCmd runs flightdeck check on config text and returns its exit
// code and output.
func runCheckCmd(t *testing.T, bin, cfgText string, env []string, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"check", "--config", cfg}, args...)...)
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+dir, "KUBECONFIG=/nonexistent"), env...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

func kubeSection(kubeconfig string) string {
	return fmt.Sprintf("\n[kubernetes]\nkubeconfig = %q\nnamespaces = [%q]\ndeployments = [\"api\", \"worker\"]\n", kubeconfig, sandbox.Namespace)
}

// TestCheckOnSandboxKubernetesRights: a kubeconfig whose user may not patch
// deployments makes check exit 3 naming the verb and the grant; with the
// grant, it passes.
func TestCheckOnSandboxKubernetesRights(t *testing.T) {
	info := sandboxtest.Start(t)
	bin := buildBinary(t)

	token, user := sandboxKubeUser(t, info, cockpitRules("get", "list", "watch"))
	kc := userKubeconfig(t, info, t.TempDir(), &clientcmdapi.AuthInfo{Token: token})
	code, out := runCheckCmd(t, bin, e2eConfig+kubeSection(kc), nil)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{"✕ kubernetes", "may not in production: patch deployments", "patch on deployments.apps", user} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	token, _ = sandboxKubeUser(t, info, cockpitRules("get", "list", "watch", "patch"))
	kc = userKubeconfig(t, info, t.TempDir(), &clientcmdapi.AuthInfo{Token: token})
	code, out = runCheckCmd(t, bin, e2eConfig+kubeSection(kc), nil)
	if code != 0 || !strings.Contains(out, "✓ kubernetes") || !strings.Contains(out, "in production every verb the cockpit uses is allowed") {
		t.Fatalf("with every right granted: exit %d:\n%s", code, out)
	}
}

// TestCheckOnSandboxPostgresRole: a target whose role lacks pg_monitor and
// pg_signal_backend makes check exit 3 naming both GRANTs; after running
// them, it passes.
func TestCheckOnSandboxPostgresRole(t *testing.T) {
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, info.PostgresAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the role is dropped: cleanups run last first.
	t.Cleanup(func() { admin.Close(context.Background()) })
	var b [3]byte
	rand.Read(b[:])
	role := "fd_check_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'check-pw'", role)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("the test's role %s is left on the shared sandbox: %v", role, err)
		}
	})
	u, err := url.Parse(info.PostgresApp)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	cfg := e2eConfig + fmt.Sprintf("\n[postgres]\n[[postgres.target]]\nname = \"production\"\ndsn = %q\npassword = \"env:FD_CHECK_PG_PASSWORD\"\n", u.String())
	env := []string{"FD_CHECK_PG_PASSWORD=check-pw"}

	code, out := runCheckCmd(t, bin, cfg, env)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{"✕ postgres", "GRANT pg_monitor TO " + role, "GRANT pg_signal_backend TO " + role} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("GRANT pg_monitor TO %s; GRANT pg_signal_backend TO %[1]s", role)); err != nil {
		t.Fatal(err)
	}
	code, out = runCheckCmd(t, bin, cfg, env)
	if code != 0 || !strings.Contains(out, "✓ postgres") || !strings.Contains(out, "may signal them") {
		t.Fatalf("after the GRANTs: exit %d:\n%s", code, out)
	}
}

// slackReceiver is an incoming webhook that keeps what it is sent.
type slackReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
}

func newSlackReceiver(t *testing.T) *slackReceiver {
	r := &slackReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var msg struct{ Text string }
		json.NewDecoder(req.Body).Decode(&msg)
		r.mu.Lock()
		r.texts = append(r.texts, msg.Text)
		r.mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *slackReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

// TestCheckSlack: check never posts unless asked; --send-test posts
// exactly one message; a malformed webhook fails without showing it.
func TestCheckSlack(t *testing.T) {
	bin := buildBinary(t)
	rcv := newSlackReceiver(t)
	cfg := e2eConfig + "\n[slack]\nwebhook = \"env:FD_TEST_SLACK_WEBHOOK\"\n"
	env := []string{"FD_TEST_SLACK_WEBHOOK=" + rcv.URL + "/services/T0/B0/s3cr3t"}

	code, out := runCheckCmd(t, bin, cfg, env)
	if code != 0 || !strings.Contains(out, "✓ slack") || len(rcv.got()) != 0 {
		t.Fatalf("plain check: exit %d, %d messages:\n%s", code, len(rcv.got()), out)
	}
	code, out = runCheckCmd(t, bin, cfg, env, "--send-test")
	if got := rcv.got(); code != 0 || len(got) != 1 || !strings.Contains(got[0], "flightdeck check") || !strings.Contains(out, "test message") {
		t.Fatalf("--send-test: exit %d, messages %q:\n%s", code, got, out)
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("the output shows the webhook:\n%s", out)
	}

	env = []string{"FD_TEST_SLACK_WEBHOOK=http://hooks.slack.com/services/T0/B0/s3cr3t"}
	code, out = runCheckCmd(t, bin, cfg, env, "--send-test")
	if code != 3 || !strings.Contains(out, "✕ slack") || !strings.Contains(out, "not https://") || strings.Contains(out, "s3cr3t") {
		t.Fatalf("malformed webhook: exit %d:\n%s", code, out)
	}
}

// TestCredentialPluginNeverOnScreen: the cockpit in tmux on a kubeconfig
// whose credentials come from an exec plugin that talks on stderr. The
// rollout pane fills, nothing the plugin said ever shows on the screen,
// it is all in the log, and the plugin never had the terminal for stdin.
func TestCredentialPluginNeverOnScreen(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	info := sandboxtest.Start(t)
	token, _ := sandboxKubeUser(t, info, cockpitRules("get", "list", "watch", "patch"))
	const noise = "PLUGIN-NOISE"
	kc, pluginDir := pluginKubeconfig(t, info, token, noise)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfg, []byte(e2eConfig+kubeSection(kc)), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-plugin-%d", os.Getpid()), name: "cockpit"}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", s.name, "-x", "160", "-y", "48",
		fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", state, bin, cfg))

	// Every frame until the pane is full, and a while after, is looked at:
	// noise drawn once and overwritten by the next frame counts too.
	var scr string
	filled := time.Time{}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		scr = s.screen()
		if strings.Contains(scr, noise) {
			t.Fatalf("the plugin's stderr is on the screen:\n%s", scr)
		}
		if filled.IsZero() && strings.Contains(scr, "api complete") && strings.Contains(scr, "worker complete") {
			filled = time.Now()
		}
		if !filled.IsZero() && time.Since(filled) > 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout pane never filled; last screen:\n%s", scr)
		}
	}
	if strings.Contains(scr, "not permitted") {
		t.Errorf("a user with every right is told otherwise:\n%s", scr)
	}
	s.run("send-keys", "-t", s.name, "q")
	for deadline := time.Now().Add(10 * time.Second); exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the cockpit did not quit:\n%s", s.screen())
		}
	}

	log, err := os.ReadFile(filepath.Join(state, "flightdeck", "flightdeck.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), noise+": refreshing credentials") || !strings.Contains(string(log), "written to stderr") {
		t.Errorf("the plugin's stderr is not in the log:\n%s", log)
	}
	if strings.Contains(string(log), token) {
		t.Error("the log holds the plugin's token")
	}
	execInfo, err := os.ReadFile(filepath.Join(pluginDir, "exec-info"))
	if err != nil {
		t.Fatalf("the plugin never ran: %v", err)
	}
	if strings.Contains(string(execInfo), `"interactive":true`) || !strings.Contains(string(execInfo), `"interactive":false`) {
		t.Errorf("client-go told the plugin it may be interactive: %s", execInfo)
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "stdin-was-terminal")); err == nil {
		t.Error("the plugin's stdin was the terminal")
	}
}
