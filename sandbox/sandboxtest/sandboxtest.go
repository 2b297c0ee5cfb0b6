// Package sandboxtest gives integration tests a running sandbox: the
// Kubernetes control plane, Postgres, and the Jira, Sentry and Slack
// stand-ins. It is started once and shared by every test package (Up is
// idempotent and serialised by a lock), in its own state directory so tests
// never disturb a demo.
//
// With CI=true a test that needs the sandbox fails when it cannot start: it
// never skips silently. Elsewhere it skips, naming what to install.
package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adrg/xdg"

	"github.com/flightdeckhq/flightdeck/internal/ci"

	"github.com/flightdeckhq/flightdeck/sandbox"
)

// DirEnv overrides the test sandbox's state directory.
const DirEnv = "FLIGHTDECK_TEST_SANDBOX"

// Dir is the test sandbox's state directory.
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	return filepath.Join(xdg.StateHome, "flightdeck", "sandbox-test")
}

var (
	once sync.Once
	info *sandbox.Info
	err  error
)

// Start returns the running sandbox, starting it on first use.
func Start(tb testing.TB) *sandbox.Info {
	tb.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
		defer cancel()
		if err = buildSandboxBinary(ctx); err != nil {
			return
		}
		// Each test package starts the shared sandbox: a reset of the
		// deployments would undo a rollout another package's test is
		// watching. Tests put back what they change.
		info, err = sandbox.Up(ctx, sandbox.Options{Dir: Dir(), Exe: Exe(), Progress: progress{tb}, KeepDeployments: true})
	})
	if err != nil {
		ci.Unavailable(tb, fmt.Sprintf("the sandbox did not start: %v\n(it needs Go, git, tmux and Debian's postgresql: apt-get install git tmux postgresql)", err))
	}
	return info
}

type progress struct{ tb testing.TB }

func (p progress) Write(b []byte) (int, error) {
	p.tb.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Exe is the test sandbox's flightdeck-sandbox binary, built by Start: it
// runs the stand-in daemon and the runbook's clone step.
func Exe() string { return filepath.Join(Dir()+"-bin", "flightdeck-sandbox") }

// buildSandboxBinary builds Exe: the test binary cannot run the daemon,
// which outlives the test process.
func buildSandboxBinary(ctx context.Context) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := Exe()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	// Build beside and rename: a daemon may be running the old binary.
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, "./sandbox/cmd/flightdeck-sandbox")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building flightdeck-sandbox: %v\n%s", err, out)
	}
	return os.Rename(tmp, bin)
}
