//go:build !unix

package pg

import (
	"errors"
	"os"
	"os/exec"
)

// The sandbox server needs Unix sockets, credentials and signals; on other
// systems Up says so instead of half-working.
const supported = false

func isRoot() bool                  { return false }
func runAs(*exec.Cmd, osUser)       {}
func chownTo(string, osUser) error  { return nil }
func processAlive(int) bool         { return false }
func postmasterOf(int, string) bool { return false }
func processesIn(string) []int      { return nil }
func signal(int, string) error      { return errors.ErrUnsupported }

func ownerAndMode(string) (uint32, uint32, os.FileMode, bool) { return 0, 0, 0, false }
