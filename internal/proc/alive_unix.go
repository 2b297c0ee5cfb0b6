//go:build unix

// Package proc answers whether a process is still there.
package proc

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Alive reports whether pid names a live process. A zombie counts as gone:
// it holds no ports, files or shared memory, and an orphan may stay one for
// as long as whoever adopted it fails to reap it (a container's PID 1 often
// never does).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// The state follows the parenthesised command name, which may itself
		// contain spaces and parentheses.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			return s[i+2] != 'Z' && s[i+2] != 'X'
		}
		return true
	} else if errors.Is(err, os.ErrNotExist) && procMounted() {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}
