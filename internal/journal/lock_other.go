//go:build !unix

package journal

import (
	"os"
	"path/filepath"
	"sync"
)

// Without flock only this process's own journals can be excluded. That still
// stops the common mistake (opening the same deploy twice in one cockpit);
// cross-process exclusion is only guaranteed on unix.
var (
	heldMu sync.Mutex
	held   = map[string]*os.File{}
)

func lockFile(f *os.File) (inUse bool, err error) {
	abs, err := filepath.Abs(f.Name())
	if err != nil {
		return false, err
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if _, ok := held[abs]; ok {
		return true, nil
	}
	held[abs] = f
	return false, nil
}

func unlockFile(f *os.File) {
	abs, err := filepath.Abs(f.Name())
	if err != nil {
		return
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[abs] == f {
		delete(held, abs)
	}
}

func syncDir(string) error { return nil }
