package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// placeCluster decides where the cluster lives: in Dir/postgres when the
// server's account can reach it, else (root callers only) in
// externalCluster, linked from Dir/postgres. An existing cluster stays
// where it is.
func placeCluster(dir string, u osUser, progress io.Writer) (layout, error) {
	l := layoutOf(dir)
	if !u.switchTo || l.cluster != l.root || hasFile(filepath.Join(l.data, "PG_VERSION")) {
		return l, nil
	}
	blocker := blockingAncestor(l.root, u)
	if blocker == "" {
		return l, nil
	}
	ext := externalCluster(dir)
	for _, d := range []string{l.root, externalRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return l, fmt.Errorf("create sandbox postgres directory %s: %w", d, err)
		}
	}
	link := filepath.Join(l.root, clusterLink)
	_ = os.Remove(link)
	if err := os.Symlink(ext, link); err != nil {
		return l, fmt.Errorf("link %s to the sandbox cluster in %s: %w", link, ext, err)
	}
	fmt.Fprintf(progress, "OS user %s cannot pass through %s, so the cluster lives in %s (linked from %s)\n", u.name, blocker, ext, link)
	return layoutOf(dir), nil
}

// prepareDirs creates the directories the server writes to, owned by its
// account, and checks that account can reach them.
func prepareDirs(ctx context.Context, l layout, u osUser, bin string) error {
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return fmt.Errorf("create sandbox postgres directory %s: %w", l.root, err)
	}
	for _, d := range []string{l.cluster, l.socket} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create sandbox postgres directory %s: %w", d, err)
		}
		if err := chownTo(d, u); err != nil {
			return fmt.Errorf("hand %s to OS user %s: %w", d, u.name, err)
		}
	}
	f, err := os.OpenFile(l.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create server log %s: %w", l.log, err)
	}
	f.Close()
	if err := chownTo(l.log, u); err != nil {
		return fmt.Errorf("hand %s to OS user %s: %w", l.log, u.name, err)
	}
	if !u.switchTo {
		return nil
	}
	// Running a harmless command from inside the cluster directory as the
	// server's account fails exactly when initdb and the server would, but
	// with a clear cause.
	cmd := serverCmd(ctx, l, u, filepath.Join(bin, "pg_ctl"), "--version")
	if out, err := cmd.CombinedOutput(); err != nil {
		hint := "check the permissions of its parent directories"
		if p := blockingAncestor(l.cluster, u); p != "" {
			hint = fmt.Sprintf("%s does not let it through; Down the sandbox and choose an Options.Dir outside it", p)
		}
		return fmt.Errorf("OS user %s, which the sandbox server runs as, cannot use %s: %w %s(%s)", u.name, l.cluster, err, out, hint)
	}
	return nil
}

// serverCmd prepares a server program to run as u from the cluster's
// directory, since the caller's working directory may be closed to u.
func serverCmd(ctx context.Context, l layout, u osUser, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = l.cluster
	cmd.Env = u.env(l.cluster)
	cmd.WaitDelay = 5 * time.Second
	runAs(cmd, u)
	return cmd
}

// initdb creates the cluster unless it exists. It works in a scratch
// directory renamed into place at the end, so an interrupted initdb never
// leaves a data directory that looks complete.
func initdb(ctx context.Context, l layout, u osUser, bin string, progress io.Writer) error {
	if hasFile(filepath.Join(l.data, "PG_VERSION")) {
		return nil
	}
	tmp := l.data + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove the leftovers of an interrupted initdb in %s: %w", tmp, err)
	}
	if _, err := os.Stat(l.data); err == nil {
		fmt.Fprintf(progress, "removing %s: it has no PG_VERSION, so it is not a usable cluster\n", l.data)
		if err := os.RemoveAll(l.data); err != nil {
			return fmt.Errorf("remove incomplete data directory %s: %w", l.data, err)
		}
	}
	fmt.Fprintf(progress, "initdb %s (as OS user %s)… ", l.data, u.name)
	t0 := time.Now()
	// --no-sync: the cluster is disposable, and fsyncing a fresh cluster
	// costs seconds on a VM disk. --locale=C sorts and compares the same on
	// every machine, whatever locales are installed.
	cmd := serverCmd(ctx, l, u, filepath.Join(bin, "initdb"),
		"-D", tmp, "-U", SuperUser, "--encoding=UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(progress, "failed\n")
		return fmt.Errorf("initdb %s as OS user %s: %w\n%s", tmp, u.name, err, tail(string(out), 20))
	}
	conf, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open the new cluster's postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(conf, "\n# The flightdeck sandbox's settings, rewritten before every start.\ninclude_if_exists '%s'\n", sandboxConf)
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("add the sandbox settings to the new cluster's postgresql.conf: %w", err)
	}
	if err := os.Rename(tmp, l.data); err != nil {
		return fmt.Errorf("move the new cluster into %s: %w", l.data, err)
	}
	fmt.Fprintf(progress, "done in %s\n", since(t0))
	return nil
}

const sandboxConf = "flightdeck.conf"

// writeConfig writes the settings that vary per start (the port) or that
// the sandbox depends on, in a file of their own so postgresql.conf stays
// as initdb wrote it.
func writeConfig(l layout, u osUser, port, major int, statements bool) error {
	var b strings.Builder
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	fmt.Fprintf(&b, "# Written by the flightdeck sandbox before every start; edits are lost.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = %s\n", port, q(l.socket))
	fmt.Fprintf(&b, "max_connections = %d\nshared_buffers = '128MB'\nmaintenance_work_mem = '256MB'\n", MaxConnections)
	// With no replicas to feed, tables created and filled in one
	// transaction (the seed) skip the WAL; losing the last commits in a
	// host crash costs a sandbox nothing, so commits do not wait for fsync.
	b.WriteString("wal_level = minimal\nmax_wal_senders = 0\nsynchronous_commit = off\n")
	if statements {
		b.WriteString("shared_preload_libraries = 'pg_stat_statements'\n")
	}
	if major >= 14 && runtime.GOOS == "linux" {
		// A backend whose client vanished (a killed test, a dropped
		// workload) gives up its locks within seconds, instead of when its
		// statement would have finished.
		b.WriteString("client_connection_check_interval = '2s'\n")
	}
	b.WriteString("log_line_prefix = '%m [%p] %q%a@%d '\nlog_lock_waits = on\nlog_timezone = 'UTC'\n")

	hba := "# Written by the flightdeck sandbox before every start; edits are lost.\n" +
		"# The superuser needs no password from this machine; the application role does.\n" +
		"local all all                   trust\n" +
		"host  all " + SuperUser + " 127.0.0.1/32 trust\n" +
		"host  all all      127.0.0.1/32 scram-sha-256\n"

	for name, content := range map[string]string{sandboxConf: b.String(), "pg_hba.conf": hba} {
		p := filepath.Join(l.data, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write server configuration %s: %w", p, err)
		}
		if err := chownTo(p, u); err != nil {
			return fmt.Errorf("hand %s to OS user %s: %w", p, u.name, err)
		}
	}
	return nil
}

// startServer starts the cluster with pg_ctl and returns its port. A port
// the sandbox picked itself may be taken between picking and binding;
// then another is tried.
func startServer(ctx context.Context, l layout, u osUser, bin string, o Options, major int, statements bool) (int, error) {
	port := o.Port
	if port == 0 {
		if prev := readState(l).Port; prev != 0 {
			if portFree(prev) {
				port = prev
			} else {
				fmt.Fprintf(o.Progress, "port %d of the previous start is taken; picking another\n", prev)
			}
		}
	}
	for attempt := 1; ; attempt++ {
		if port == 0 {
			p, err := freePort()
			if err != nil {
				return 0, err
			}
			port = p
		}
		if err := writeConfig(l, u, port, major, statements); err != nil {
			return 0, err
		}
		fmt.Fprintf(o.Progress, "starting postgres on 127.0.0.1:%d (log %s)… ", port, l.log)
		t0 := time.Now()
		logStart := fileSize(l.log)
		cmd := serverCmd(ctx, l, u, filepath.Join(bin, "pg_ctl"),
			"start", "-D", l.data, "-l", l.log, "-w", "-t", "120", "-s")
		out, err := cmd.CombinedOutput()
		if err == nil {
			if err = waitReady(ctx, adminDSN(port), 30*time.Second); err == nil {
				fmt.Fprintf(o.Progress, "ready in %s\n", since(t0))
				return port, nil
			}
		}
		fmt.Fprintf(o.Progress, "failed\n")
		logTail := tail(readFrom(l.log, logStart), 15)
		if o.Port == 0 && attempt < 3 && strings.Contains(logTail, "could not bind") {
			port = 0
			continue
		}
		hint := "fix what the log names and run Up again, or Down to start afresh"
		if strings.Contains(logTail, "could not bind") {
			hint = fmt.Sprintf("port %d is taken by another process: pass another Options.Port, or 0 to pick a free one", port)
		}
		return 0, fmt.Errorf("start the sandbox postgres (pg_ctl start -D %s as OS user %s): %w\n%s%s\n(%s; full log: %s)",
			l.data, u.name, err, out, logTail, hint, l.log)
	}
}

// waitReady polls until the server accepts a query or timeout passes.
func waitReady(ctx context.Context, dsn string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = ping(ctx, dsn); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}

// postmaster is what data/postmaster.pid says.
type postmaster struct {
	pid, port int
	running   bool // pid is a live postgres working in this data directory
}

func readPostmaster(data string) (postmaster, error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return postmaster{}, nil
	}
	if err != nil {
		return postmaster{}, fmt.Errorf("read the sandbox server's pid file: %w (run as the user who started it, or as root)", err)
	}
	// Line 1 is the pid, line 4 the port; a file caught mid-write may
	// have fewer lines, and then the server is not ready anyway.
	lines := strings.Split(string(b), "\n")
	var pm postmaster
	pm.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) > 3 {
		pm.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	pm.running = pm.pid > 0 && postmasterOf(pm.pid, data)
	return pm, nil
}

func portFree(port int) bool {
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1 for the sandbox postgres: %w (set Options.Port)", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func readFrom(p string, off int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }
