//go:build unix

package journal

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock. flock locks belong to the
// open file description, so a second Open in the same process conflicts just
// like one from another process, and the kernel drops the lock when the
// holder dies, so a SIGKILLed cockpit never leaves a stale lock behind.
// flock is advisory and unreliable on some network filesystems; the state
// directory is expected to be local.
func lockFile(f *os.File) (inUse bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == syscall.EINTR {
			continue
		}
		break
	}
	if err == syscall.EWOULDBLOCK {
		return true, nil
	}
	return false, err
}

// syncDir makes directory entries (a new journal, a new .torn file, a new
// deploy directory) durable; without it a power cut can lose a file whose
// contents were fsynced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		// Some filesystems do not support fsync on directories; there is
		// nothing better to do there, so only real failures are reported.
		return err
	}
	return nil
}

// unlockFile is a no-op: closing the descriptor releases the flock.
func unlockFile(*os.File) {}
