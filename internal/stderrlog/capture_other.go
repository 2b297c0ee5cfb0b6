//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

// Package stderrlog sends whatever is written to the process's standard
// error into the log while the cockpit owns the terminal.
package stderrlog

import "log/slog"

// Capture does nothing where descriptors cannot be redirected; the
// cockpit still sends its own diagnostics and client-go's to the log.
func Capture(*slog.Logger) (func(), error) { return func() {}, nil }
