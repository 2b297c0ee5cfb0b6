// Package sharetest is a viewer for tests: an SSH client
// (golang.org/x/crypto/ssh) with a terminal emulator behind it, so a test
// reads the screen a teammate would see and types as they would.
package sharetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	gossh "golang.org/x/crypto/ssh"
)

// NewKey makes a key pair: the signer and its authorized_keys line, with
// name as the comment.
func NewKey(t testing.TB, name string) (gossh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub))) + " " + name
	return signer, line
}

// Viewer is one connected teammate's terminal.
type Viewer struct {
	t       testing.TB
	client  *gossh.Client
	sess    *gossh.Session
	emu     *vt.SafeEmulator
	stdinMu sync.Mutex
	stdin   io.WriteCloser
	ended   chan struct{}
}

// Dial logs in over network/addr ("tcp", "127.0.0.1:2222") with auth and
// opens a w×h terminal session.
func Dial(network, addr, user string, auth gossh.AuthMethod, w, h int) (*Viewer, error) {
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{auth},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // the test starts the server it talks to
		Timeout:         5 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	client := gossh.NewClient(cc, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		client.Close()
		return nil, err
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		client.Close()
		return nil, err
	}
	v := &Viewer{client: client, sess: sess, emu: vt.NewSafeEmulator(w, h), ended: make(chan struct{})}
	if v.stdin, err = sess.StdinPipe(); err != nil {
		client.Close()
		return nil, err
	}
	sess.Stderr = v.emu
	out, err := sess.StdoutPipe()
	if err != nil {
		client.Close()
		return nil, err
	}
	if err := sess.Shell(); err != nil {
		client.Close()
		return nil, err
	}
	go func() {
		defer close(v.ended)
		_, _ = io.Copy(v.emu, out)
	}()
	// The emulator answers the program's queries (background colour,
	// device attributes) as a terminal would, and must be read for it.
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := v.emu.Read(buf)
			if n > 0 {
				v.send(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return v, nil
}

func (v *Viewer) send(b []byte) {
	v.stdinMu.Lock()
	defer v.stdinMu.Unlock()
	_, _ = v.stdin.Write(b)
}

// Type sends keys as a terminal would: plain text as is; "enter", "esc",
// "space", "tab", "down", "up" by name.
func (v *Viewer) Type(keys ...string) {
	named := map[string]string{"enter": "\r", "esc": "\x1b", "space": " ", "tab": "\t", "down": "\x1b[B", "up": "\x1b[A", "ctrl+c": "\x03"}
	for _, k := range keys {
		if s, ok := named[k]; ok {
			k = s
		}
		v.send([]byte(k))
		// A key at a time, as hands type: escape sequences stay whole.
		time.Sleep(30 * time.Millisecond)
	}
}

// Resize tells the server the terminal changed size.
func (v *Viewer) Resize(w, h int) error {
	v.emu.Resize(w, h)
	return v.sess.WindowChange(h, w)
}

// Screen is the terminal's text now, one line per row.
func (v *Viewer) Screen() string { return ansi.Strip(v.emu.Render()) }

// WaitFor waits until the screen shows want.
func (v *Viewer) WaitFor(within time.Duration, want string) (string, error) {
	deadline := time.Now().Add(within)
	for {
		scr := v.Screen()
		if strings.Contains(scr, want) {
			return scr, nil
		}
		if time.Now().After(deadline) {
			return scr, fmt.Errorf("the screen never showed %q in %s; last screen:\n%s", want, within, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ended is closed when the server ends the session.
func (v *Viewer) Ended() <-chan struct{} { return v.ended }

// Close hangs up.
func (v *Viewer) Close() {
	v.sess.Close()
	v.client.Close()
}
