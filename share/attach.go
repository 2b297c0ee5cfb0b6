package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// ErrNoDriver: nothing listens on the socket; no cockpit drives the deploy.
var ErrNoDriver = errors.New("no cockpit drives this deploy")

// ErrDriverGone: the driver's cockpit stopped while this view watched.
var ErrDriverGone = errors.New("the cockpit driving this deploy stopped")

// AttachOptions say where the driver's socket and keys are and which
// terminal to show its view on.
type AttachOptions struct {
	Socket      string
	ObserverKey string
	HostKey     string
	User        string
	In, Out     *os.File
	// Env is passed to the driver (NO_COLOR, COLORTERM) so the view is
	// drawn as this terminal wants it.
	Env []string
}

// Dial connects to a driver's socket: ErrNoDriver when none listens.
func Dial(opts AttachOptions) (*gossh.Client, error) {
	conn, err := net.DialTimeout("unix", opts.Socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoDriver, err)
	}
	key, err := readKey(opts.ObserverKey)
	if err != nil {
		conn.Close()
		return nil, err
	}
	host, err := readKey(opts.HostKey)
	if err != nil {
		conn.Close()
		return nil, err
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, "flightdeck", &gossh.ClientConfig{
		User:            opts.User,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(host.PublicKey()),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("attaching to the driver at %s: %w", opts.Socket, err)
	}
	return gossh.NewClient(cc, chans, reqs), nil
}

func readKey(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the driver's key: %w", err)
	}
	return gossh.ParsePrivateKey(data)
}

// Attach shows the driver's live view on this terminal until the viewer
// quits or the driver stops.
func Attach(ctx context.Context, client *gossh.Client, opts AttachOptions) error {
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	fd := int(opts.In.Fd())
	w, h, err := term.GetSize(int(opts.Out.Fd()))
	if err != nil {
		return fmt.Errorf("the observer needs a terminal: %w", err)
	}
	for _, kv := range opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			_ = sess.Setenv(k, v)
		}
	}
	termName := os.Getenv("TERM")
	if termName == "" {
		termName = "xterm-256color"
	}
	if err := sess.RequestPty(termName, h, w, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
		return err
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return err
	}
	defer term.Restore(fd, old)
	sess.Stdout = opts.Out
	sess.Stderr = opts.Out
	stdin, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(stdin, opts.In) }()
	if err := sess.Shell(); err != nil {
		return err
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	for {
		select {
		case err := <-done:
			var exit *gossh.ExitMissingError
			if errors.As(err, &exit) {
				return ErrDriverGone
			}
			return err
		case <-winch:
			if w, h, err := term.GetSize(int(opts.Out.Fd())); err == nil {
				_ = sess.WindowChange(h, w)
			}
		case <-ctx.Done():
			return nil
		}
	}
}
