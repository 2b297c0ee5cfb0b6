//go:build unix

package k8s

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

type process struct {
	pid  int
	name string
}

// processesUnder lists processes whose command line mentions dir. kwokctl
// starts every component from a symlink in the cluster directory and points
// it at certificates and data there, so this catches etcd, the kube-*
// components and kwok-controller without touching another cluster's.
func processesUnder(dir string) ([]process, error) {
	dir = filepath.Clean(dir) + string(filepath.Separator)
	self := os.Getpid()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		return processesUnderPS(dir, self)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // exited meanwhile, or a kernel thread
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if mentions(args, dir) {
			out = append(out, process{pid: pid, name: filepath.Base(args[0])})
		}
	}
	return out, nil
}

func processesUnderPS(dir string, self int) ([]process, error) {
	raw, err := exec.Command("ps", "-axww", "-o", "pid=,command=").Output()
	if err != nil {
		return nil, err
	}
	var out []process
	for _, line := range bytes.Split(raw, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) < 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || pid == self {
			continue
		}
		if mentions(fields[1:], dir) {
			out = append(out, process{pid: pid, name: filepath.Base(fields[1])})
		}
	}
	return out, nil
}

func mentions(args []string, dir string) bool {
	for _, a := range args {
		if strings.Contains(a, dir) {
			return true
		}
	}
	return false
}

func killProcess(pid int, hard bool) error {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(pid, sig)
}
