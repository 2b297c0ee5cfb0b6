//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package stderrlog

import "syscall"

func dup2(oldfd, newfd int) error { return syscall.Dup2(oldfd, newfd) }
