package share

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/flightdeckhq/flightdeck/share/sharetest"
	"github.com/flightdeckhq/flightdeck/view"
)

// toy is a view that says who it is, its size and the last key it got.
type toy struct {
	v      view.Viewer
	w, h   int
	last   string
	closed *sync.WaitGroup
}

func (m *toy) Init() tea.Cmd { return nil }

func (m *toy) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case tea.KeyPressMsg:
		m.last = msg.String()
		if m.last == "q" {
			return m, tea.Quit
		}
	}
	return m, nil
}

func (m *toy) View() tea.View {
	return tea.NewView(fmt.Sprintf("viewer=%s readonly=%v size=%dx%d key=%s", m.v.Name, m.v.ReadOnly, m.w, m.h, m.last))
}

func (m *toy) Subscribe(ctx context.Context, _ func(tea.Msg)) { <-ctx.Done() }
func (m *toy) Close()                                         { m.closed.Done() }

type fixture struct {
	srv        *Server
	dir        string
	keys       string
	alice      gossh.Signer
	closed     sync.WaitGroup
	hostSigner gossh.Signer
}

func start(t *testing.T, tweak func(*Options)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	var line string
	f.alice, line = sharetest.NewKey(t, "alice@laptop")
	f.keys = filepath.Join(f.dir, "viewers")
	if err := os.WriteFile(f.keys, []byte("# the huddle\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Listen: "127.0.0.1:0", AuthorizedKeys: f.keys,
		Socket:  filepath.Join(f.dir, "d.sock"),
		HostKey: filepath.Join(f.dir, "host"), ObserverKey: filepath.Join(f.dir, "observer"),
		NewView: func(v view.Viewer, env []string) View {
			f.closed.Add(1)
			return &toy{v: v, closed: &f.closed}
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	t.Cleanup(func() { srv.Close(5 * time.Second) })
	return f
}

func (f *fixture) dial(t *testing.T, auth gossh.AuthMethod, w, h int) *sharetest.Viewer {
	t.Helper()
	v, err := sharetest.Dial("tcp", f.srv.Addr().String(), "alice", auth, w, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// TestViewerGetsItsOwnReadOnlyView: an authorized key opens a view of its
// own, named by the key's comment, at its own size, following resizes.
func TestViewerGetsItsOwnReadOnlyView(t *testing.T) {
	f := start(t, nil)
	small := f.dial(t, gossh.PublicKeys(f.alice), 80, 24)
	big := f.dial(t, gossh.PublicKeys(f.alice), 200, 60)
	for _, c := range []struct {
		v    *sharetest.Viewer
		want string
	}{{small, "size=80x24"}, {big, "size=200x60"}} {
		if _, err := c.v.WaitFor(5*time.Second, "viewer=alice@laptop readonly=true "+c.want); err != nil {
			t.Fatal(err)
		}
	}
	if err := small.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if _, err := small.WaitFor(5*time.Second, "size=100x30"); err != nil {
		t.Fatal(err)
	}
	small.Type("x")
	if _, err := small.WaitFor(5*time.Second, "key=x"); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Viewers(); n != 2 {
		t.Fatalf("%d viewers counted, want 2", n)
	}
	small.Type("q")
	select {
	case <-small.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end the viewer's session")
	}
}

// TestOnlyAuthorizedKeysLogIn: a key not in authorized_keys, a password
// and keyboard-interactive are all refused, and so is the local observers'
// key over TCP.
func TestOnlyAuthorizedKeysLogIn(t *testing.T) {
	f := start(t, nil)
	stranger, _ := sharetest.NewKey(t, "mallory")
	observer, err := EnsureKey(filepath.Join(f.dir, "observer"))
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]gossh.AuthMethod{
		"unknown key":          gossh.PublicKeys(stranger),
		"password":             gossh.Password("hunter2"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"hunter2"}, nil }),
		"observer key on TCP":  gossh.PublicKeys(observer),
	} {
		if v, err := sharetest.Dial("tcp", f.srv.Addr().String(), "alice", auth, 80, 24); err == nil {
			v.Close()
			t.Errorf("%s: logged in", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A key added to the file opens without a restart.
	bob, line := sharetest.NewKey(t, "bob@desk")
	fh, err := os.OpenFile(f.keys, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(fh, line)
	fh.Close()
	v := f.dial(t, gossh.PublicKeys(bob), 80, 24)
	if _, err := v.WaitFor(5*time.Second, "viewer=bob@desk"); err != nil {
		t.Fatal(err)
	}
}

// TestObserverAttachesOverTheSocket: the observer key opens the socket
// (and only it: an authorized key does not), under the name of the user.
func TestObserverAttachesOverTheSocket(t *testing.T) {
	f := start(t, nil)
	observer, err := EnsureKey(filepath.Join(f.dir, "observer"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(f.dir, "d.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi.Mode(), err)
	}
	if v, err := sharetest.Dial("unix", filepath.Join(f.dir, "d.sock"), "carol", gossh.PublicKeys(f.alice), 80, 24); err == nil {
		v.Close()
		t.Fatal("a teammate's key opened the local socket")
	}
	v, err := sharetest.Dial("unix", filepath.Join(f.dir, "d.sock"), "carol", gossh.PublicKeys(observer), 90, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.WaitFor(5*time.Second, "viewer=carol (local) readonly=true size=90x20"); err != nil {
		t.Fatal(err)
	}
	// Dial, as the observer uses it, finds the driver or says there is none.
	c, err := Dial(AttachOptions{Socket: filepath.Join(f.dir, "d.sock"), ObserverKey: filepath.Join(f.dir, "observer"), HostKey: filepath.Join(f.dir, "host"), User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := Dial(AttachOptions{Socket: filepath.Join(f.dir, "none.sock")}); err == nil || !strings.Contains(err.Error(), ErrNoDriver.Error()) {
		t.Fatalf("no socket: %v", err)
	}
}

// TestViewerLimits: past max_viewers a login is told why and let go; a
// viewer that types nothing for the idle timeout is let go with a word.
func TestViewerLimits(t *testing.T) {
	f := start(t, func(o *Options) { o.MaxViewers = 1; o.IdleTimeout = 600 * time.Millisecond })
	first := f.dial(t, gossh.PublicKeys(f.alice), 80, 24)
	if _, err := first.WaitFor(5*time.Second, "viewer=alice@laptop"); err != nil {
		t.Fatal(err)
	}
	second := f.dial(t, gossh.PublicKeys(f.alice), 80, 24)
	if _, err := second.WaitFor(5*time.Second, "takes at most 1 viewers"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("an idle viewer was kept")
	}
	if _, err := first.WaitFor(time.Second, "no key for 600ms: disconnected"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { f.closed.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a view that ended was not closed")
	}
}

// TestBadAuthorizedKeysNamesTheLine: a line that does not parse is an
// error with the file and line, before anything listens.
func TestBadAuthorizedKeysNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	_, good := sharetest.NewKey(t, "alice")
	keys := filepath.Join(dir, "viewers")
	os.WriteFile(keys, []byte(good+"\n\nssh-ed25519 AAAAnot-base64 bob\n"), 0o600)
	_, err := Start(Options{Listen: "127.0.0.1:0", AuthorizedKeys: keys, HostKey: filepath.Join(dir, "host")})
	if err == nil || !strings.Contains(err.Error(), keys+":3:") {
		t.Fatalf("want an error naming %s:3, got %v", keys, err)
	}
}

// TestHostKeyIsKept: viewers see the same host key across restarts.
func TestHostKeyIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "host")
	a, err := EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.PublicKey().Marshal()) != string(b.PublicKey().Marshal()) {
		t.Fatal("the host key changed")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v", fi.Mode())
	}
}

// ticking is a view fed a counter every few milliseconds, with a frame big
// enough to fill an SSH window quickly.
type ticking struct {
	toy
	n int
}

type tickMsg int

func (m *ticking) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if n, ok := msg.(tickMsg); ok {
		m.n = int(n)
		return m, nil
	}
	_, cmd := m.toy.Update(msg)
	return m, cmd
}

func (m *ticking) View() tea.View {
	return tea.NewView(fmt.Sprintf("tick=%d\n%s", m.n, strings.Repeat(fmt.Sprintf("%d ", m.n), 2000)))
}

func (m *ticking) Subscribe(ctx context.Context, send func(tea.Msg)) {
	for i := 1; ctx.Err() == nil; i++ {
		send(tickMsg(i))
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStalledViewerSlowsNoOne: a viewer whose terminal stops reading
// (a laptop lid closed) holds up only its own frames.
func TestStalledViewerSlowsNoOne(t *testing.T) {
	f := start(t, func(o *Options) {
		o.NewView = func(v view.Viewer, env []string) View {
			f := &sync.WaitGroup{}
			f.Add(1)
			return &ticking{toy: toy{v: v, closed: f}}
		}
	})
	// The stalled one: a session whose output nobody reads.
	conn, err := gossh.Dial("tcp", f.srv.Addr().String(), &gossh.ClientConfig{
		User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(f.alice)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stalled, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := stalled.RequestPty("xterm", 60, 200, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.StdoutPipe(); err != nil { // never read
		t.Fatal(err)
	}
	if err := stalled.Shell(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // long enough to fill its window many times over
	live := f.dial(t, gossh.PublicKeys(f.alice), 200, 60)
	if _, err := live.WaitFor(5*time.Second, "tick="); err != nil {
		t.Fatal(err)
	}
	tick := func() int {
		scr := live.Screen()
		n := -1
		if i := strings.Index(scr, "tick="); i >= 0 {
			fmt.Sscanf(scr[i:], "tick=%d", &n)
		}
		return n
	}
	n0 := tick()
	for deadline := time.Now().Add(10 * time.Second); tick() < n0+50; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the live viewer stopped getting frames beside a stalled one: tick %d, then %d", n0, tick())
		}
	}
	closed := make(chan struct{})
	go func() { f.srv.Close(3 * time.Second); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the server hung on a stalled viewer")
	}
}
