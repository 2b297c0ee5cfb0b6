// Package sandbox runs a local stand-in for production: a real Kubernetes
// control plane (kwok nodes), a real Postgres with a live workload, and
// stand-ins for Jira and Sentry that speak their documented APIs. `make demo`
// points the cockpit at it, and the integration tests run against it.
//
// Everything lives under one state directory. Up is idempotent and reuses
// what already runs; Down stops everything and removes the directory.
package sandbox

import (
	"github.com/flightdeckhq/flightdeck/internal/proc"

	"github.com/flightdeckhq/flightdeck/internal/flock"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/adrg/xdg"

	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
)

// Options says where the sandbox lives and how to report progress.
type Options struct {
	Dir      string    // state directory; DefaultDir() when empty
	Progress io.Writer // progress lines; nil discards
	// Exe is the flightdeck-sandbox binary: it runs the stand-in daemon
	// (`serve`) and the runbook's clone step. The running executable when
	// empty.
	Exe string
	// KeepDeployments leaves the production Deployments of running
	// clusters as they are (see k8s.Options); `up` resets them.
	KeepDeployments bool
}

// DefaultDir is where `flightdeck-sandbox up` keeps its state.
func DefaultDir() string { return filepath.Join(xdg.StateHome, "flightdeck", "sandbox") }

// Fixed names of the sandbox's production.
const (
	Namespace    = "production"
	Database     = "acme"
	JiraProject  = "ACME"
	JiraBoard    = 12
	JiraEmail    = "deployer@acme.test"
	SentryOrg    = "acme"
	SentryProj   = "app"
	InfoFile     = "sandbox.json"
	ServicesFile = "services.json"
	ConfigFile   = "flightdeck.toml"
)

// Info is everything a client needs to reach the sandbox. It is written to
// Dir/sandbox.json; secrets sit in files beside it, never in this struct's
// printed form.
type Info struct {
	Dir        string `json:"dir"`
	Config     string `json:"config"`
	Kubeconfig string `json:"kubeconfig"`
	Kubectl    string `json:"kubectl"`
	KubeServer string `json:"kube_server"`
	// The standby cluster, the deploy's second; empty in an Info written
	// before it.
	StandbyKubeconfig string `json:"standby_kubeconfig,omitempty"`
	StandbyServer     string `json:"standby_server,omitempty"`
	PostgresAdmin     string `json:"postgres_admin_dsn"`
	PostgresApp       string `json:"postgres_app_dsn"`
	PostgresClone     string `json:"postgres_clone_dsn"`
	CloneName         string `json:"clone_name"`
	MigrationFile     string `json:"migration_file"`
	GitRepo           string `json:"git_repo"`
	GitOrigin         string `json:"git_origin"`
	JiraURL           string `json:"jira_url"`
	JiraEmail         string `json:"jira_email"`
	JiraTokenFile     string `json:"jira_token_file"`
	SentryURL         string `json:"sentry_url"`
	SentryTokenFile   string `json:"sentry_token_file"`
	SentryDSN         string `json:"sentry_dsn"`
	SlackWebhook      string `json:"slack_webhook"`
	// AppHealthURL is the application's health endpoint; empty while the
	// running daemon predates it.
	AppHealthURL string `json:"app_health_url,omitempty"`
	DaemonPID    int    `json:"daemon_pid"`
}

// Services is what the daemon writes once it listens.
type Services struct {
	PID        int    `json:"pid"`
	JiraAddr   string `json:"jira_addr"`
	SentryAddr string `json:"sentry_addr"`
	SlackAddr  string `json:"slack_addr"`
	AppAddr    string `json:"app_addr,omitempty"`
	SentryDSN  string `json:"sentry_dsn"`
	StartedAt  string `json:"started_at"`
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = abs
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		o.Exe = exe
	}
	return o, nil
}

func (o Options) say(format string, args ...any) {
	fmt.Fprintf(o.Progress, format+"\n", args...)
}

// secret returns the content of Dir/secrets/name, creating a random one the
// first time, so tokens survive a restart of the daemon.
func secret(dir, name string) (path, value string, err error) {
	path = filepath.Join(dir, "secrets", name)
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return path, strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	value = hex.EncodeToString(raw[:])
	return path, value, os.WriteFile(path, []byte(value+"\n"), 0o600)
}

// Up starts whatever is not running yet and returns how to reach it all.
func Up(ctx context.Context, o Options) (*Info, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox state directory %s: %w", o.Dir, err)
	}
	unlock, err := lockDir(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	start := time.Now()
	info := &Info{Dir: o.Dir}

	o.say("kubernetes: control plane and kwok nodes…")
	cluster, err := k8s.Up(ctx, k8s.Options{StateDir: o.Dir, Progress: o.Progress, KeepDeployments: o.KeepDeployments})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	info.Kubeconfig, info.KubeServer, info.Kubectl = cluster.Kubeconfig, cluster.Server, cluster.Kubectl
	o.say("kubernetes: %s (%s)", cluster.Server, time.Since(start).Round(time.Second))
	o.say("kubernetes: the standby cluster…")
	standby, err := k8s.Up(ctx, k8s.Options{StateDir: o.Dir, Name: k8s.StandbyName, Progress: o.Progress, KeepDeployments: o.KeepDeployments})
	if err != nil {
		return nil, fmt.Errorf("kubernetes standby: %w", err)
	}
	info.StandbyKubeconfig, info.StandbyServer = standby.Kubeconfig, standby.Server
	o.say("kubernetes: standby %s (%s)", standby.Server, time.Since(start).Round(time.Second))

	o.say("postgres: starting…")
	inst, err := pg.Up(ctx, pg.Options{Dir: o.Dir, Progress: o.Progress})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pg.Seed(ctx, inst.AppDSN); err != nil {
		return nil, fmt.Errorf("postgres seed: %w", err)
	}
	info.PostgresAdmin, info.PostgresApp = inst.AdminDSN, inst.AppDSN
	info.MigrationFile = filepath.Join(inst.Dir, pg.MigrationFile)
	info.CloneName = pg.CloneName(Database, time.Now())
	if err := pg.CreateClone(ctx, inst.AdminDSN, Database, info.CloneName); err != nil {
		return nil, fmt.Errorf("postgres clone: %w", err)
	}
	if info.PostgresClone, err = pg.DSNWithDatabase(inst.AppDSN, info.CloneName); err != nil {
		return nil, err
	}
	o.say("postgres: %s, clone %s (%s)", redactDSN(inst.AppDSN), info.CloneName, time.Since(start).Round(time.Second))

	info.GitRepo = filepath.Join(o.Dir, "repo")
	info.GitOrigin = filepath.Join(o.Dir, "origin.git")
	if err := ensureRepo(ctx, info.GitRepo, info.GitOrigin); err != nil {
		return nil, fmt.Errorf("git repository: %w", err)
	}
	o.say("git: %s (origin %s)", info.GitRepo, info.GitOrigin)

	info.JiraTokenFile, _, err = secret(o.Dir, "jira-token")
	if err != nil {
		return nil, err
	}
	info.SentryTokenFile, _, err = secret(o.Dir, "sentry-token")
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Dir, inputsFile), daemonInputs{PostgresApp: inst.AppDSN, Kubeconfig: cluster.Kubeconfig}); err != nil {
		return nil, err
	}
	svc, err := ensureDaemon(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("stand-ins: %w", err)
	}
	info.DaemonPID = svc.PID
	info.JiraURL = "http://" + svc.JiraAddr
	info.JiraEmail = JiraEmail
	info.SentryURL = "http://" + svc.SentryAddr
	info.SentryDSN = svc.SentryDSN
	info.SlackWebhook = "http://" + svc.SlackAddr + "/services/sandbox/webhook"
	o.say("stand-ins: jira %s, sentry %s, slack %s (pid %d)", info.JiraURL, info.SentryURL, info.SlackWebhook, svc.PID)
	if svc.AppAddr != "" {
		info.AppHealthURL = "http://" + svc.AppAddr + AppHealthPath
		o.say("app health: %s", info.AppHealthURL)
	} else {
		o.say("app health: the running stand-ins (pid %d) predate it, so the config has no smoke checks; `flightdeck-sandbox down` and `up` to get them", svc.PID)
	}

	if err := writeMigrations(o.Dir); err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	info.Config = filepath.Join(o.Dir, ConfigFile)
	if err := os.WriteFile(info.Config, []byte(renderConfig(info, o.Exe, time.Now())), 0o644); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Dir, InfoFile), info); err != nil {
		return nil, err
	}
	o.say("sandbox up in %s; config %s", time.Since(start).Round(time.Second), info.Config)
	return info, nil
}

// Load reads the Info of a sandbox that is up.
func Load(dir string) (*Info, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return nil, fmt.Errorf("no sandbox in %s (run `flightdeck-sandbox up`): %w", dir, err)
	}
	return &info, json.Unmarshal(b, &info)
}

// Down stops everything Up started and removes the state directory.
func Down(ctx context.Context, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		o.say("nothing to stop: %s does not exist", o.Dir)
		return nil
	}
	unlock, err := lockDir(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if err := stopDaemon(o); err != nil {
		errs = append(errs, fmt.Errorf("stand-ins: %w", err))
	}
	o.say("postgres: stopping…")
	if err := pg.Down(ctx, pg.Options{Dir: o.Dir}); err != nil {
		errs = append(errs, fmt.Errorf("postgres: %w", err))
	}
	o.say("kubernetes: deleting the clusters…")
	if err := k8s.Down(ctx, k8s.Options{StateDir: o.Dir, Progress: o.Progress}); err != nil {
		errs = append(errs, fmt.Errorf("kubernetes: %w", err))
	}
	if err := k8s.Down(ctx, k8s.Options{StateDir: o.Dir, Name: k8s.StandbyName, Progress: o.Progress}); err != nil {
		errs = append(errs, fmt.Errorf("kubernetes standby: %w", err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	unlock()
	if err := os.RemoveAll(o.Dir); err != nil {
		return err
	}
	o.say("sandbox down; %s removed", o.Dir)
	return nil
}

// Component is one line of Status.
type Component struct {
	Name    string
	Running bool
	Detail  string
}

// Status says what runs.
func Status(ctx context.Context, o Options) ([]Component, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []Component
	run, detail, err := k8s.Status(ctx, k8s.Options{StateDir: o.Dir})
	if err != nil {
		detail = err.Error()
	}
	out = append(out, Component{"kubernetes", run, detail})
	run, detail, err = k8s.Status(ctx, k8s.Options{StateDir: o.Dir, Name: k8s.StandbyName})
	if err != nil {
		detail = err.Error()
	}
	out = append(out, Component{"kubernetes standby", run, detail})
	run, detail, err = pg.Status(ctx, pg.Options{Dir: o.Dir})
	if err != nil {
		detail = err.Error()
	}
	out = append(out, Component{"postgres", run, detail})
	svc, alive := daemonAlive(o.Dir)
	d := "not running"
	if alive {
		d = fmt.Sprintf("pid %d: jira %s, sentry %s, slack %s", svc.PID, svc.JiraAddr, svc.SentryAddr, svc.SlackAddr)
	}
	out = append(out, Component{"stand-ins", alive, d})
	return out, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readServices(dir string) (*Services, error) {
	b, err := os.ReadFile(filepath.Join(dir, ServicesFile))
	if err != nil {
		return nil, err
	}
	var s Services
	return &s, json.Unmarshal(b, &s)
}

func daemonAlive(dir string) (*Services, bool) {
	svc, err := readServices(dir)
	if err != nil {
		return nil, false
	}
	return svc, proc.Alive(svc.PID)
}

// ensureDaemon starts `flightdeck-sandbox serve` detached from this
// process, unless one is already serving this directory.
func ensureDaemon(ctx context.Context, o Options) (*Services, error) {
	if svc, ok := daemonAlive(o.Dir); ok {
		return svc, nil
	}
	os.Remove(filepath.Join(o.Dir, ServicesFile))
	logf, err := os.OpenFile(filepath.Join(o.Dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.Exe, "serve", "--dir", o.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the daemon outlives `up` and ignores the
	// terminal's Ctrl-C, which is meant for the cockpit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w", o.Exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case err := <-exited:
			return nil, fmt.Errorf("the stand-in daemon exited (%v); see %s", err, filepath.Join(o.Dir, "daemon.log"))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("the stand-in daemon did not start within 60s; see %s", filepath.Join(o.Dir, "daemon.log"))
		case <-tick.C:
			if svc, err := readServices(o.Dir); err == nil && svc.PID == cmd.Process.Pid {
				// The Wait above stays behind to reap the daemon should it
				// exit while this process lives (a test binary); when this
				// process exits first, the daemon is reparented.
				return svc, nil
			}
		}
	}
}

func stopDaemon(o Options) error {
	svc, alive := daemonAlive(o.Dir)
	if !alive {
		return nil
	}
	o.say("stand-ins: stopping pid %d…", svc.PID)
	_ = syscall.Kill(svc.PID, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if !proc.Alive(svc.PID) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(svc.PID, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	if proc.Alive(svc.PID) {
		return fmt.Errorf("pid %d survived SIGKILL", svc.PID)
	}
	return nil
}

// lockDir serialises Up and Down on one directory: test packages run in
// parallel and all want the same sandbox.
func lockDir(ctx context.Context, dir string) (func(), error) {
	return flock.Lock(ctx, filepath.Join(dir, ".sandbox.lock"), nil)
}

// ensureRepo builds the sandbox's application repository once, with a bare
// origin beside it so the runbook's pull and push really work.
func ensureRepo(ctx context.Context, repo, origin string) error {
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil {
		return nil
	}
	os.RemoveAll(repo)
	os.RemoveAll(origin)
	r, err := jirastub.BuildRepo(ctx, repo, JiraProject, jirastub.DefaultSeed(JiraProject))
	if err != nil {
		return err
	}
	steps := [][]string{
		{"git", "clone", "--quiet", "--bare", repo, origin},
		{"git", "-C", repo, "remote", "add", "origin", origin},
		{"git", "-C", repo, "fetch", "--quiet", "origin"},
	}
	for _, b := range r.Branches {
		steps = append(steps, []string{"git", "-C", repo, "branch", "--quiet", "--set-upstream-to=origin/" + b, b})
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// redactDSN hides the password of a URL-form DSN for printing.
func redactDSN(dsn string) string {
	at := strings.Index(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	cred := dsn[scheme+3 : at]
	if c := strings.Index(cred, ":"); c >= 0 {
		return dsn[:scheme+3] + cred[:c] + ":…" + dsn[at:]
	}
	return dsn
}
