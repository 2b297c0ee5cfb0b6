package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"

	"github.com/flightdeckhq/flightdeck/sandbox/pg"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/share/sharetest"
)

// BenchmarkViewers is the huddle at scale: the real binary drives the
// sandbox's deploy with 5,000 pods behind one deployment, in a 200×60
// terminal this benchmark holds, and shares it; then 50 SSH viewers
// (alternately 80×24 and 200×60) watch. For no viewers and for 50 it
// reports: the driver's key→frame time (p50, p99) while a lock chain on
// the sandbox Postgres updates every second, for moving the checklist's
// cursor (j/k) and for opening and closing the help (a frame that changes
// most of the screen); the process's resident memory; its CPU over 10 s
// with nothing to do, and over 10 s of the lock chain.
func BenchmarkViewers(b *testing.B) {
	const viewers = 50
	info := sandboxtest.Start(b)
	bin := buildBinary(b)
	ns := scaleNamespace(b, bulkClient(b, info.Kubeconfig), 5000)

	dir := b.TempDir()
	keys := filepath.Join(dir, "viewers")
	signer, line := sharetest.NewKey(b, "viewer@bench")
	os.WriteFile(keys, []byte(line+"\n"), 0o600)
	cfg := sharedConfig(b, info.Config, keys)
	text, _ := os.ReadFile(cfg)
	scaled := strings.Replace(string(text), `namespaces = ["production"]`, fmt.Sprintf("namespaces = [%q]", ns), 1)
	scaled = strings.Replace(scaled, `deployments = ["api", "worker"]`, `deployments = ["api"]`, 1)
	scaled = strings.Replace(scaled, "max_viewers = 5", fmt.Sprintf("max_viewers = %d", viewers), 1)
	os.WriteFile(cfg, []byte(scaled), 0o600)
	addr := freePort(b)

	for b.Loop() {
		d := startDriver(b, bin, cfg, addr)
		d.waitFor(b, 3*time.Minute, "api complete  5000/5000 updated 5000 ready")
		time.Sleep(5 * time.Second) // the informers' first lists settle
		report := func(label string) {
			rss := procRSS(b, d.pid())
			idle := d.cpu(b, 10*time.Second)
			chain := lockChain(b, info.PostgresApp, d)
			busy := d.cpu(b, 10*time.Second)
			p50, p99 := d.keyToFrame(b, 50, [2]string{"j", "k"},
				[2]func(string) bool{cursorOn("Clone the production database"), cursorOn("A deployment plan exists")})
			h50, h99 := d.keyToFrame(b, 20, [2]string{"?", "x"}, [2]func(string) bool{helpShown(true), helpShown(false)})
			chain()
			b.ReportMetric(float64(rss)/(1<<20), "MB-rss-"+label)
			b.ReportMetric(idle, "%cpu-idle-"+label)
			b.ReportMetric(busy, "%cpu-lockchain-"+label)
			b.ReportMetric(float64(p50.Microseconds())/1000, "ms-key-frame-p50-"+label)
			b.ReportMetric(float64(p99.Microseconds())/1000, "ms-key-frame-p99-"+label)
			b.ReportMetric(float64(h50.Microseconds())/1000, "ms-help-frame-p50-"+label)
			b.ReportMetric(float64(h99.Microseconds())/1000, "ms-help-frame-p99-"+label)
		}
		rss0 := procRSS(b, d.pid())
		report("0-viewers")
		var vs []*sharetest.Viewer
		for i := range viewers {
			w, h := 80, 24
			if i%2 == 1 {
				w, h = 200, 60
			}
			v, err := sharetest.Dial("tcp", addr, "viewer", gossh.PublicKeys(signer), w, h)
			if err != nil {
				b.Fatalf("viewer %d: %v", i, err)
			}
			vs = append(vs, v)
		}
		for i, v := range vs {
			if _, err := v.WaitFor(time.Minute, "Checklist"); err != nil {
				b.Fatalf("viewer %d: %v", i, err)
			}
		}
		time.Sleep(5 * time.Second)
		rss50 := procRSS(b, d.pid())
		report(fmt.Sprintf("%d-viewers", viewers))
		b.ReportMetric(float64(rss50-rss0)/(1<<20)/viewers, "MB-rss-per-viewer")
		for _, v := range vs {
			v.Close()
		}
		d.stop()
	}
}

// lockChain holds ACCESS EXCLUSIVE on appointments with the sandbox's
// workload queued behind it, until the returned func is called; it returns
// once the driver shows the chain.
func lockChain(b *testing.B, dsn string, d *driver) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pg.RunMigration(ctx, dsn, 120) }()
	d.waitFor(b, 30*time.Second, "waiting (")
	return func() {
		cancel()
		<-done
		d.waitFor(b, 30*time.Second, "nothing waits")
	}
}

// driver is the real binary on a terminal the benchmark holds: every byte
// it writes goes through a terminal emulator, and a key's frame is the
// first write after which the screen shows what the key asked for.
type driver struct {
	cmd  *exec.Cmd
	tty  *os.File
	emu  *vt.SafeEmulator
	mu   sync.Mutex
	want func(string) bool
	seen chan time.Time
}

func startDriver(b *testing.B, bin, cfg, addr string) *driver {
	d := &driver{emu: vt.NewSafeEmulator(200, 60)}
	d.cmd = exec.Command(bin, "--config", cfg, "--share", addr)
	d.cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+b.TempDir(), "TERM=xterm-256color")
	tty, err := pty.StartWithSize(d.cmd, &pty.Winsize{Cols: 200, Rows: 60})
	if err != nil {
		b.Fatal(err)
	}
	d.tty = tty
	go func() { _, _ = io.Copy(tty, d.emu) }() // the emulator's answers to queries
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				d.emu.Write(buf[:n])
				d.mu.Lock()
				if d.want != nil && d.want(d.screen()) {
					d.seen <- time.Now()
					d.want = nil
				}
				d.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	b.Cleanup(d.stop)
	return d
}

func (d *driver) screen() string { return ansi.Strip(d.emu.Render()) }

func (d *driver) pid() int { return d.cmd.Process.Pid }

func (d *driver) waitFor(b *testing.B, within time.Duration, want string) {
	deadline := time.Now().Add(within)
	for !strings.Contains(d.screen(), want) {
		if time.Now().After(deadline) {
			b.Fatalf("the driver never showed %q:\n%s", want, d.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpu is the driver's CPU use, percent of one core, over span.
func (d *driver) cpu(b *testing.B, span time.Duration) float64 {
	t0 := procTicks(b, d.pid())
	w0 := time.Now()
	time.Sleep(span)
	return float64(procTicks(b, d.pid())-t0) / 100 / time.Since(w0).Seconds() * 100
}

// keyToFrame presses keys n times and returns the median and 99th
// percentile of the time from a key to the frame that shows it. Each press
// is one of a pair of keys and the frame each must bring, in turn.
func (d *driver) keyToFrame(b *testing.B, n int, keys [2]string, shows [2]func(string) bool) (time.Duration, time.Duration) {
	var took []time.Duration
	for i := range 2 * n {
		key, want := keys[i%2], shows[i%2]
		d.mu.Lock()
		d.seen = make(chan time.Time, 1)
		d.want = want
		d.mu.Unlock()
		t0 := time.Now()
		if _, err := d.tty.WriteString(key); err != nil {
			b.Fatal(err)
		}
		select {
		case t := <-d.seen:
			took = append(took, t.Sub(t0))
		case <-time.After(5 * time.Second):
			b.Fatalf("no frame for %q:\n%s", key, d.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	return took[len(took)/2], took[len(took)*99/100]
}

// cursorOn: the checklist's cursor is on the step titled title.
func cursorOn(title string) func(string) bool {
	return func(screen string) bool {
		for _, line := range strings.Split(screen, "\n") {
			if strings.Contains(line, "▸ ") && strings.Contains(line, title) {
				return true
			}
		}
		return false
	}
}

func helpShown(shown bool) func(string) bool {
	return func(screen string) bool { return strings.Contains(screen, "─ Help ─") == shown }
}

// stop ends the driver as a terminal closing would, so that a
// FLIGHTDECK_CPUPROFILE it was given gets written.
func (d *driver) stop() {
	if d.cmd.ProcessState == nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	}
	d.tty.Close()
}
