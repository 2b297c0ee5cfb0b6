package pg

import (
	"github.com/flightdeckhq/flightdeck/internal/flock"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names and sizes of the sandbox's application. They are fixed so a config
// written once (config.example.toml, a runbook step) keeps working.
const (
	Database    = "acme"
	AppUser     = "app"
	AppPassword = "app"
	SuperUser   = "postgres"

	// MigrationFile is the script Up writes to Dir/postgres, holding its
	// lock for MigrationFileHold seconds: longer than the runbook's ~30 s
	// tolerance, so running it is the incident the cockpit is for.
	MigrationFile     = "migrate.sql"
	MigrationFileHold = 45

	// MaxConnections leaves room for connection benchmarks; a slot costs
	// a few kilobytes of shared memory, so idle headroom is cheap.
	MaxConnections = 1100
)

// Options locate a sandbox server. The zero value is usable.
type Options struct {
	// Dir is the sandbox state directory, shared with the other sandbox
	// parts; the cluster lives in Dir/postgres. When the caller is root the
	// server runs as "postgres"; if that account cannot pass through Dir
	// (root's own state directory is under /root, which is 0700), the
	// cluster's files live under /var/lib/flightdeck instead, linked from
	// Dir/postgres/cluster. Default: $XDG_STATE_HOME/flightdeck/sandbox.
	Dir string
	// Port on 127.0.0.1. 0 reuses the port of the previous start, or picks
	// a free one.
	Port int
	// Progress receives one line per step that takes a while; nil discards.
	Progress io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("sandbox postgres port %d is out of range (use 1-65535, or 0 to pick a free one)", o.Port)
	}
	if o.Dir == "" {
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return o, fmt.Errorf("find a state directory for the sandbox (set XDG_STATE_HOME or Options.Dir): %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		o.Dir = filepath.Join(base, "flightdeck", "sandbox")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("resolve sandbox directory %s: %w", o.Dir, err)
	}
	o.Dir = abs
	return o, nil
}

// layout is where a sandbox server keeps its files.
type layout struct {
	dir  string // Options.Dir
	root string // Dir/postgres: the instance's directory
	// cluster holds the data directory, socket directory and log. It is
	// root itself, unless the server's account cannot reach root (see
	// externalCluster); then root/cluster is a symlink to it.
	cluster   string
	data      string
	socket    string
	log       string
	state     string
	migration string
	// lock sits outside root, so Down can remove root while holding it.
	lock string
}

// clusterLink is the symlink in Dir/postgres that points to a cluster kept
// elsewhere.
const clusterLink = "cluster"

func layoutOf(dir string) layout {
	root := filepath.Join(dir, "postgres")
	cluster := root
	if target, err := os.Readlink(filepath.Join(root, clusterLink)); err == nil && filepath.IsAbs(target) {
		cluster = target
	}
	return layoutAt(dir, cluster)
}

func layoutAt(dir, cluster string) layout {
	root := filepath.Join(dir, "postgres")
	return layout{
		dir:       dir,
		root:      root,
		cluster:   cluster,
		data:      filepath.Join(cluster, "data"),
		socket:    filepath.Join(cluster, "run"),
		log:       filepath.Join(cluster, "postgres.log"),
		state:     filepath.Join(root, "sandbox.json"),
		migration: filepath.Join(root, MigrationFile),
		lock:      filepath.Join(dir, "postgres.lock"),
	}
}

// externalCluster is where a root caller's cluster goes when the server's
// account cannot pass through Dir: the default state directory of root is
// under /root, which is 0700, and loosening the permissions of a home
// directory is not the sandbox's call. The name is derived from Dir, so
// each sandbox keeps its own and finds it again.
func externalCluster(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(externalRoot, "postgres-"+hex.EncodeToString(sum[:6]))
}

// externalRoot is a variable so tests can keep their clusters apart.
var externalRoot = "/var/lib/flightdeck"

// seedOnUp is cleared by tests about where and how the server runs, which
// do not need a million rows.
var seedOnUp = true

// maxSocketPath is the longest Unix socket path postgres accepts
// (sizeof(sun_path) - 1 on Linux).
const maxSocketPath = 107

func (l layout) checkSocketPath() error {
	p := filepath.Join(l.socket, ".s.PGSQL.65535")
	if len(p) > maxSocketPath {
		return fmt.Errorf("sandbox directory %s is too deep: the server's socket %s would be %d bytes, over the %d the kernel allows (choose a shorter Options.Dir)",
			l.dir, p, len(p), maxSocketPath)
	}
	return nil
}

// Instance is a running sandbox server.
type Instance struct {
	// Dir is the instance's directory, Options.Dir/postgres; it holds
	// MigrationFile.
	Dir       string
	DataDir   string
	SocketDir string
	LogFile   string
	Port      int
	// OSUser is the account the server runs as.
	OSUser string
	// AdminDSN connects as the superuser, which needs no password from
	// 127.0.0.1.
	AdminDSN string
	// AppDSN connects as the application's non-superuser role "app", with
	// a password, to the application database.
	AppDSN   string
	Database string
	// BinDir holds the server programs this instance runs.
	BinDir string
	// Version is the server's, e.g. "15.18".
	Version string
	// PID is the postmaster's process id.
	PID int
	// StatStatements is set when pg_stat_statements is preloaded and
	// created in the application database; it is left out when the
	// contrib package is not installed.
	StatStatements bool
	// MigrationFile is the path of the migration script, for psql -f.
	MigrationFile string

	progress io.Writer
	l        layout
}

func (i *Instance) layout() layout {
	if i.l.root != "" {
		return i.l
	}
	return layoutOf(filepath.Dir(i.Dir))
}

func adminDSN(port int) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", SuperUser, port)
}

func appDSN(port int) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", AppUser, AppPassword, port, Database)
}

// state is what a start leaves for the next one: the port, so DSNs stay
// stable across restarts.
type state struct {
	Port    int    `json:"port"`
	BinDir  string `json:"bin_dir"`
	Version string `json:"version"`
	OSUser  string `json:"os_user"`
}

func readState(l layout) state {
	var st state
	if b, err := os.ReadFile(l.state); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func writeState(l layout, st state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(l.state, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("record sandbox postgres state in %s: %w", l.state, err)
	}
	return nil
}

// Up starts the sandbox server, or reuses it if it is already running, and
// makes sure the application's role, database and data exist. A cold start
// runs initdb and seeds a million rows; later calls take well under a
// second.
func Up(ctx context.Context, o Options) (*Instance, error) {
	if !supported {
		return nil, errors.New("the sandbox postgres needs Linux or macOS (Unix sockets, setuid, signals)")
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	major, version, err := serverVersion(bin)
	if err != nil {
		return nil, err
	}
	u, err := serverUser(ctx, o.Progress, true)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox directory %s: %w", o.Dir, err)
	}
	unlock, err := flock.Lock(ctx, layoutOf(o.Dir).lock, func() {
		fmt.Fprintf(o.Progress, "waiting for another process using the sandbox postgres in %s…\n", o.Dir)
	})
	if err != nil {
		return nil, fmt.Errorf("lock the sandbox postgres in %s: %w", o.Dir, err)
	}
	defer unlock()
	l, err := placeCluster(o.Dir, u, o.Progress)
	if err != nil {
		return nil, err
	}
	if err := l.checkSocketPath(); err != nil {
		return nil, err
	}
	if err := prepareDirs(ctx, l, u, bin); err != nil {
		return nil, err
	}

	inst := &Instance{
		Dir: l.root, DataDir: l.data, SocketDir: l.socket, LogFile: l.log,
		OSUser: u.name, Database: Database, BinDir: bin, Version: version,
		MigrationFile: l.migration, progress: o.Progress, l: l,
	}

	pm, err := readPostmaster(l.data)
	if err != nil {
		return nil, err
	}
	if pm.running {
		if o.Port != 0 && o.Port != pm.port {
			return nil, fmt.Errorf("the sandbox postgres in %s is already running on port %d, not the requested %d (Stop it first, or ask for port 0)", l.root, pm.port, o.Port)
		}
		inst.Port, inst.PID = pm.port, pm.pid
		if err := waitReady(ctx, adminDSN(pm.port), time.Minute); err != nil {
			return nil, fmt.Errorf("the sandbox postgres (pid %d, data %s) is running but does not answer on 127.0.0.1:%d: %w (see %s; Down starts afresh)", pm.pid, l.data, pm.port, err, l.log)
		}
		fmt.Fprintf(o.Progress, "reusing postgres %s (pid %d) on 127.0.0.1:%d\n", version, pm.pid, pm.port)
	} else {
		if pm.pid != 0 {
			// A leftover of a crash or reboot; postgres would refuse to start
			// if its pid now belongs to some other process.
			fmt.Fprintf(o.Progress, "removing stale %s (pid %d is not running)\n", filepath.Join(l.data, "postmaster.pid"), pm.pid)
			_ = os.Remove(filepath.Join(l.data, "postmaster.pid"))
		}
		if err := initdb(ctx, l, u, bin, o.Progress); err != nil {
			return nil, err
		}
		statements := hasStatStatements(bin)
		if !statements {
			fmt.Fprintf(o.Progress, "pg_stat_statements is not installed (apt-get install postgresql-contrib); starting without it\n")
		}
		port, err := startServer(ctx, l, u, bin, o, major, statements)
		if err != nil {
			return nil, err
		}
		inst.Port = port
		pm, err := readPostmaster(l.data)
		if err != nil {
			return nil, err
		}
		inst.PID = pm.pid
	}
	inst.AdminDSN, inst.AppDSN = adminDSN(inst.Port), appDSN(inst.Port)

	if err := writeState(l, state{Port: inst.Port, BinDir: bin, Version: version, OSUser: u.name}); err != nil {
		return nil, err
	}
	if inst.StatStatements, err = ensureApp(ctx, inst); err != nil {
		return nil, err
	}
	if seedOnUp {
		if err := seed(ctx, inst.AppDSN, o.Progress); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(l.migration, []byte(MigrationSQL(MigrationFileHold)), 0o644); err != nil {
		return nil, fmt.Errorf("write the sandbox migration script %s: %w", l.migration, err)
	}
	return inst, nil
}

// Stop shuts the server down with pg_ctl stop -m fast, escalating to an
// immediate shutdown and then SIGKILL if it lingers, and returns once no
// process of the cluster is left.
func (i *Instance) Stop(ctx context.Context) error {
	l := i.layout()
	progress := i.progress
	if progress == nil {
		progress = io.Discard
	}
	unlock, err := flock.Lock(ctx, l.lock, nil)
	if err != nil {
		return fmt.Errorf("lock the sandbox postgres in %s: %w", l.root, err)
	}
	defer unlock()
	u, uerr := serverUser(ctx, progress, false)
	return stopServer(ctx, l, i.BinDir, u, uerr == nil, progress)
}

func stopServer(ctx context.Context, l layout, bin string, u osUser, haveUser bool, progress io.Writer) error {
	pm, err := readPostmaster(l.data)
	if err != nil {
		return err
	}
	if pm.running {
		fmt.Fprintf(progress, "stopping postgres (pid %d)… ", pm.pid)
		t0 := time.Now()
		stopped := false
		if bin != "" && haveUser {
			cmd := serverCmd(ctx, l, u, filepath.Join(bin, "pg_ctl"), "stop", "-D", l.data, "-m", "fast", "-w", "-t", "60", "-s")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(progress, "pg_ctl stop -m fast: %v %s; ", err, bytes.TrimSpace(out))
			}
			stopped = waitGone(ctx, pm.pid, 10*time.Second)
		}
		// Escalate as pg_ctl's modes do: immediate skips the shutdown
		// checkpoint (the next start recovers), SIGKILL skips everything.
		for _, mode := range []string{"fast", "immediate", "kill"} {
			if stopped {
				break
			}
			if err := signal(pm.pid, mode); err != nil {
				return fmt.Errorf("signal the sandbox postgres (pid %d) to stop: %w (run as the user who started it, or as root)", pm.pid, err)
			}
			stopped = waitGone(ctx, pm.pid, 10*time.Second)
		}
		if !stopped {
			return fmt.Errorf("the sandbox postgres (pid %d, data %s) is still running after SIGKILL: %w", pm.pid, l.data, ctx.Err())
		}
		fmt.Fprintf(progress, "stopped in %s\n", since(t0))
	}
	// Backends of a postmaster that was killed outright keep running, and
	// keep the cluster's shared memory, until they are killed too.
	for _, pid := range processesIn(l.data) {
		_ = signal(pid, "kill")
		waitGone(ctx, pid, 5*time.Second)
	}
	if left := processesIn(l.data); len(left) > 0 {
		return fmt.Errorf("processes %v still run in the sandbox data directory %s after SIGKILL (kill them by hand)", left, l.data)
	}
	return nil
}

func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// Down stops the server if it runs and removes Dir/postgres, data and all.
func Down(ctx context.Context, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	l := layoutOf(o.Dir)
	if _, err := os.Stat(l.root); errors.Is(err, os.ErrNotExist) {
		// The link may be gone while a cluster kept elsewhere is not.
		ext := externalCluster(o.Dir)
		if _, err := os.Stat(ext); err != nil {
			return nil
		}
		l = layoutAt(o.Dir, ext)
	}
	unlock, err := flock.Lock(ctx, l.lock, func() {
		fmt.Fprintf(o.Progress, "waiting for another process using the sandbox postgres in %s (lock %s)…\n", l.root, l.lock)
	})
	if err != nil {
		return fmt.Errorf("lock the sandbox postgres in %s: %w", l.root, err)
	}
	defer unlock()
	// Without the binaries or the account, signals still stop the server.
	bin, _ := BinDir()
	u, uerr := serverUser(ctx, o.Progress, false)
	if err := stopServer(ctx, l, bin, u, uerr == nil, o.Progress); err != nil {
		return err
	}
	for _, d := range []string{l.cluster, l.root} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove the sandbox postgres directory %s: %w", d, err)
		}
	}
	fmt.Fprintf(o.Progress, "removed %s\n", l.root)
	return nil
}

// Status reports whether the sandbox server is running and answering, with
// a one-line description either way. err is set only when the state
// cannot be read at all.
func Status(ctx context.Context, o Options) (running bool, detail string, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return false, "", err
	}
	l := layoutOf(o.Dir)
	if !hasFile(filepath.Join(l.data, "PG_VERSION")) {
		return false, fmt.Sprintf("no sandbox postgres in %s (Up creates it)", l.root), nil
	}
	pm, err := readPostmaster(l.data)
	if err != nil {
		return false, "", err
	}
	switch {
	case pm.pid == 0:
		return false, fmt.Sprintf("stopped (data in %s)", l.data), nil
	case !pm.running:
		return false, fmt.Sprintf("stopped; postmaster.pid names pid %d, which is no longer running (left by a crash or reboot; Up starts it again)", pm.pid), nil
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := connect(qctx, adminDSN(pm.port))
	if err == nil {
		defer closeConn(conn)
		var v string
		if err = conn.QueryRow(qctx, "SHOW server_version").Scan(&v); err == nil {
			v, _, _ = strings.Cut(v, " ")
			return true, fmt.Sprintf("postgres %s (pid %d) on 127.0.0.1:%d, data in %s", v, pm.pid, pm.port, l.data), nil
		}
	}
	return false, fmt.Sprintf("postgres pid %d is running but not answering on 127.0.0.1:%d: %v (see %s)", pm.pid, pm.port, err, l.log), nil
}
