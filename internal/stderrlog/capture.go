//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// Package stderrlog sends whatever is written to the process's standard
// error into the log while the cockpit owns the terminal. Libraries write
// there on their own: client-go hands a kubeconfig's credential plugin
// (gke-gcloud-auth-plugin, aws eks get-token, kubelogin) the process's stderr
// with no way to choose another, and Bubble Tea prints a caught panic there.
// Under the TUI any of it would scribble over the screen.
package stderrlog

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"
)

// maxLine bounds one logged line: a plugin dumping a blob must not become
// one enormous log record.
const maxLine = 4096

// drainWait is how long Restore waits for the last lines: a plugin still
// running holds the pipe open, and quitting must not hang on it.
const drainWait = time.Second

// Capture points file descriptor 2 at a pipe whose lines go to log, one
// record each, and returns the function that points it back at what it was
// and waits for the last lines. Child processes started meanwhile with the
// process's stderr inherit the pipe, so their output is logged too.
func Capture(log *slog.Logger) (restore func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	syscall.CloseOnExec(saved)
	if err := dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		syscall.Close(saved)
		return nil, err
	}
	// fd 2 is now the only write end this process holds: pointing it back
	// is what lets the reader see the end.
	w.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(r, log)
	}()
	var once bool
	return func() {
		if once {
			return
		}
		once = true
		restoreErr := dup2(saved, 2)
		syscall.Close(saved)
		select {
		case <-done:
		case <-time.After(drainWait):
		}
		r.Close()
		<-done
		if restoreErr != nil {
			log.Error("standard error could not be given back to the terminal", "err", restoreErr)
		}
	}, nil
}

func pump(r io.Reader, log *slog.Logger) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := strings.TrimRight(string(line), "\r\n")
			if strings.TrimSpace(text) != "" {
				log.Warn("written to stderr", "text", text)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
