// Package share serves live, read-only views of the driver's deploy: over
// SSH to teammates' terminals, and over a unix socket to `flightdeck
// --read-only` on the same machine. Each connection gets its own Bubble Tea
// program on the driver's engine: its own size, focus, zoom and help.
package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"github.com/charmbracelet/colorprofile"
	gossh "golang.org/x/crypto/ssh"

	"github.com/flightdeckhq/flightdeck/view"
)

// View is one viewer's screen: a Bubble Tea model fed by the engine.
type View interface {
	tea.Model
	// Subscribe feeds the view until ctx ends.
	Subscribe(ctx context.Context, send func(tea.Msg))
	Close()
}

// Options configure a Server.
type Options struct {
	// Listen is the TCP address for teammates (host:port; a bare :port
	// binds localhost); empty serves no TCP.
	Listen string
	// AuthorizedKeys is the OpenSSH file of the keys that may watch over
	// TCP, read again at each login so a key added needs no restart.
	AuthorizedKeys string
	// Socket is the unix socket local observers attach to; empty serves
	// none. Only ObserverKey opens it.
	Socket      string
	HostKey     string // private key file; written when missing
	ObserverKey string // private key file; written when missing
	MaxViewers  int
	// IdleTimeout lets go of a viewer that has sent no key for this long.
	IdleTimeout time.Duration
	FPS         int
	Log         *slog.Logger
	// NewView builds a viewer's screen; env is the session's environment
	// (TERM, NO_COLOR when the client sends it).
	NewView func(v view.Viewer, env []string) View
}

// Server serves viewers until Close.
type Server struct {
	opts     Options
	srv      *ssh.Server
	observer gossh.PublicKey
	tcp      net.Listener
	unix     net.Listener
	viewers  atomic.Int32
	sessions sync.WaitGroup
	serving  sync.WaitGroup
}

// Start listens and serves in the background. Errors are the ones a user
// must fix before sharing works: an address in use, an authorized_keys
// line that does not parse (with file and line), a key file unreadable.
func Start(opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxViewers <= 0 {
		opts.MaxViewers = 20
	}
	if opts.FPS <= 0 {
		opts.FPS = 30
	}
	s := &Server{opts: opts}
	host, err := EnsureKey(opts.HostKey)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	if opts.Listen != "" {
		if _, err := LoadAuthorizedKeys(opts.AuthorizedKeys); err != nil {
			return nil, fmt.Errorf("authorized keys: %w", err)
		}
	}
	if opts.Socket != "" {
		obs, err := EnsureKey(opts.ObserverKey)
		if err != nil {
			return nil, fmt.Errorf("observer key: %w", err)
		}
		s.observer = obs.PublicKey()
	}
	s.srv = &ssh.Server{
		Handler:          s.serve,
		PublicKeyHandler: s.allowed,
		// No password or keyboard-interactive handler: public keys only.
		// A viewer has no use for anything but its session.
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": ssh.DefaultSessionHandler},
	}
	s.srv.AddHostKey(host)
	if opts.Listen != "" {
		if s.tcp, err = net.Listen("tcp", LocalDefault(opts.Listen)); err != nil {
			return nil, fmt.Errorf("share on %s: %w", opts.Listen, err)
		}
		s.goServe(s.tcp)
	}
	if opts.Socket != "" {
		if s.unix, err = listenUnix(opts.Socket); err != nil {
			s.Close(0)
			return nil, err
		}
		s.goServe(s.unix)
	}
	return s, nil
}

// LocalDefault binds a bare :port to localhost: sharing a deploy with
// every interface must be asked for by name.
func LocalDefault(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// The journal's lock makes this process the deploy's only driver, so
	// a socket already there was left by one that crashed.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("observer socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (s *Server) goServe(l net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			s.opts.Log.Warn("share: serving stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
}

// Addr is the TCP address viewers connect to; nil when not listening.
func (s *Server) Addr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Viewers is how many are connected now.
func (s *Server) Viewers() int { return int(s.viewers.Load()) }

// Close disconnects every viewer and waits up to grace for their programs
// to end.
func (s *Server) Close(grace time.Duration) {
	_ = s.srv.Close()
	if s.unix != nil {
		os.Remove(s.opts.Socket)
	}
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		s.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		s.opts.Log.Warn("share: viewers still closing", "after", grace)
	}
}

// allowed decides a login. Over the socket only the observer key opens;
// over TCP the keys in the authorized_keys file as it is now.
func (s *Server) allowed(ctx ssh.Context, key ssh.PublicKey) bool {
	if isUnix(ctx.LocalAddr()) {
		return s.observer != nil && ssh.KeysEqual(key, s.observer)
	}
	if s.tcp == nil {
		return false
	}
	keys, err := LoadAuthorizedKeys(s.opts.AuthorizedKeys)
	if err != nil {
		s.opts.Log.Warn("share: refusing logins", "err", err)
		return false
	}
	_, ok := keys[string(key.Marshal())]
	if !ok {
		s.opts.Log.Info("share: unknown key refused", "user", ctx.User(), "from", ctx.RemoteAddr().String(), "key", gossh.FingerprintSHA256(key))
	}
	return ok
}

func isUnix(a net.Addr) bool { return a != nil && a.Network() == "unix" }

// viewerName is who a session is, from the key it logged in with (not from
// a key it only offered: that one it need not hold).
func (s *Server) viewerName(sess ssh.Session) string {
	if isUnix(sess.LocalAddr()) {
		return sess.User() + " (local)"
	}
	if keys, err := LoadAuthorizedKeys(s.opts.AuthorizedKeys); err == nil && sess.PublicKey() != nil {
		if name, ok := keys[string(sess.PublicKey().Marshal())]; ok {
			return name
		}
	}
	return sess.User()
}

func (s *Server) serve(sess ssh.Session) {
	s.sessions.Add(1)
	defer s.sessions.Done()
	pty, windows, ok := sess.Pty()
	if !ok {
		fmt.Fprintln(sess.Stderr(), "flightdeck: the cockpit needs a terminal: connect with ssh -t")
		_ = sess.Exit(1)
		return
	}
	if n := s.viewers.Add(1); int(n) > s.opts.MaxViewers {
		s.viewers.Add(-1)
		fmt.Fprintf(sess.Stderr(), "flightdeck: this cockpit takes at most %d viewers ([share] max_viewers), and that many watch now\r\n", s.opts.MaxViewers)
		_ = sess.Exit(1)
		return
	}
	defer s.viewers.Add(-1)
	name := s.viewerName(sess)
	log := s.opts.Log.With("viewer", name, "from", sess.RemoteAddr().String())
	log.Info("share: viewer joined", "size", fmt.Sprintf("%dx%d", pty.Window.Width, pty.Window.Height))

	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	env := append(sess.Environ(), "TERM="+pty.Term)
	in := &idleInput{r: sess}
	in.touch()
	v := s.opts.NewView(view.Viewer{Name: name, ReadOnly: true}, env)
	prog := tea.NewProgram(v,
		tea.WithInput(in), tea.WithOutput(sess), tea.WithContext(ctx),
		tea.WithEnvironment(env), tea.WithColorProfile(colorprofile.Env(env)),
		tea.WithWindowSize(pty.Window.Width, pty.Window.Height),
		tea.WithFPS(s.opts.FPS), tea.WithoutSignalHandler(),
		// A viewer's ctrl+z would stop nothing but its own screen.
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			if _, ok := msg.(tea.SuspendMsg); ok {
				return tea.ResumeMsg{}
			}
			return msg
		}))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		v.Subscribe(ctx, prog.Send)
	}()
	idle := make(chan struct{})
	go func() {
		defer wg.Done()
		s.watch(ctx, prog, windows, in, idle)
	}()
	_, err := prog.Run()
	cancel()
	v.Close()
	wg.Wait()
	select {
	case <-idle:
		fmt.Fprintf(sess, "flightdeck: no key for %s: disconnected. Connect again to keep watching.\r\n", s.opts.IdleTimeout)
	default:
	}
	log.Info("share: viewer left", "err", err)
	_ = sess.Exit(0)
}

// watch passes window changes to the program and ends it once the viewer
// has been idle for IdleTimeout.
func (s *Server) watch(ctx context.Context, prog *tea.Program, windows <-chan ssh.Window, in *idleInput, idle chan<- struct{}) {
	var tick <-chan time.Time
	if s.opts.IdleTimeout > 0 {
		t := time.NewTicker(min(s.opts.IdleTimeout/4, 10*time.Second))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case w, ok := <-windows:
			if !ok {
				windows = nil
				continue
			}
			in.touch()
			prog.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
		case <-tick:
			if in.idleFor() >= s.opts.IdleTimeout {
				close(idle)
				prog.Quit()
				return
			}
		}
	}
}

// idleInput is the session's input, noting when the viewer last typed.
type idleInput struct {
	r    io.Reader
	last atomic.Int64
}

func (i *idleInput) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.touch()
	}
	return n, err
}

func (i *idleInput) touch() { i.last.Store(time.Now().UnixNano()) }

func (i *idleInput) idleFor() time.Duration {
	return time.Since(time.Unix(0, i.last.Load()))
}
