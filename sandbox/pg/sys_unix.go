//go:build unix

package pg

import (
	"github.com/flightdeckhq/flightdeck/internal/proc"

	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

const supported = true

func isRoot() bool { return os.Geteuid() == 0 }

// runAs makes cmd run as the server's OS user. Setting credentials in the
// child, rather than wrapping the command in runuser or su, needs no helper
// program and keeps the caller's exit status and output untouched.
func runAs(cmd *exec.Cmd, u osUser) {
	if !u.switchTo {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups},
	}
}

func chownTo(path string, u osUser) error {
	if !u.switchTo {
		return nil
	}
	return os.Lchown(path, int(u.uid), int(u.gid))
}

// processAlive is proc.Alive; the name keeps the package's call sites short.
func processAlive(pid int) bool { return proc.Alive(pid) }

// postmasterOf reports whether pid is a postgres process working in
// dataDir. A postmaster.pid can outlive its server (a reboot, a kill -9) and
// its pid be reused by anything; postgres chdirs into its data directory,
// so the process's working directory tells them apart. Where /proc cannot
// say, a live pid is trusted, as pg_ctl itself does.
func postmasterOf(pid int, dataDir string) bool {
	if !processAlive(pid) {
		return false
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return true
	}
	return sameDir(cwd, dataDir)
}

func sameDir(a, b string) bool {
	if ra, err := filepath.EvalSymlinks(a); err == nil {
		a = ra
	}
	if rb, err := filepath.EvalSymlinks(b); err == nil {
		b = rb
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// processesIn lists live processes whose working directory is dataDir: the
// postmaster and its children. Backends outlive a postmaster killed with
// SIGKILL, and they hold on to shared memory and the port's socket.
func processesIn(dataDir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || !sameDir(cwd, dataDir) {
			continue
		}
		if processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// signal names postgres's shutdown modes: SIGINT is pg_ctl's "fast",
// SIGQUIT its "immediate".
func signal(pid int, sig string) error {
	s := map[string]syscall.Signal{"fast": syscall.SIGINT, "immediate": syscall.SIGQUIT, "kill": syscall.SIGKILL}[sig]
	err := syscall.Kill(pid, s)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func ownerAndMode(p string) (uid, gid uint32, mode os.FileMode, ok bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, false
	}
	return st.Uid, st.Gid, fi.Mode().Perm(), true
}
