package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
)

// lockedJournal is an in-memory journal that actions may append to from
// their goroutines.
type lockedJournal struct {
	mu      sync.Mutex
	records []journal.Record
}

func (j *lockedJournal) Append(rec journal.Record) (journal.Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec.Seq = uint64(len(j.records) + 1)
	j.records = append(j.records, rec)
	return rec, nil
}

// loop drives a model as Bubble Tea would, without a terminal: commands run
// in goroutines, their messages and the relay's batches go through Update
// one at a time.
type loop struct {
	m    *Model
	msgs chan tea.Msg
	wg   sync.WaitGroup
}

func newLoop(t *testing.T, m *Model) *loop {
	l := &loop{m: m, msgs: make(chan tea.Msg, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Relay().Run(ctx, func(msg tea.Msg) { l.msgs <- msg }); close(done) }()
	t.Cleanup(func() { cancel(); <-done; l.wg.Wait() })
	return l
}

func (l *loop) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		switch msg := cmd().(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				l.run(c)
			}
		case spinMsg:
			// The spinner's frames matter nothing here.
		default:
			l.msgs <- msg
		}
	}()
}

// until feeds messages to the model until cond holds.
func (l *loop) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case msg := <-l.msgs:
			_, cmd := l.m.Update(msg)
			l.run(cmd)
		case <-deadline:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// busy keeps every core spinning until the test ends, so goroutines are
// scheduled late as on a loaded machine.
func busy(t *testing.T) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
			}
		}()
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
}

func quietModel(t *testing.T) *Model { return quietModelB(t) }

func quietModelB(t testing.TB) *Model {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(path, []byte(flowConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := New(Options{Config: cfg, Runbook: runbook.New(cfg), Journal: &lockedJournal{}, Operator: "tester",
		Day: now, Now: now, Theme: theme.New(true, true), JournalPath: filepath.Join(dir, "journal.jsonl")})
	var n atomic.Int64
	m.runner.NewID = func() string { return fmt.Sprintf("run%03d", n.Add(1)) }
	return m
}

// TestEveryLineOfAQuickCommandArrives: a command that prints one line and
// exits at once, 200 times with every core busy: each run's line is in its
// section of the Output pane before the run ends, none is dropped.
func TestEveryLineOfAQuickCommandArrives(t *testing.T) {
	m := quietModel(t)
	l := newLoop(t, m)
	busy(t)
	for i := range 200 {
		id := fmt.Sprintf("run%03d", i+1)
		want := fmt.Sprintf("line-%d", i)
		run := &panes.Run{Title: "quick", Command: "echo " + want}
		l.run(m.execute(&actions.Command{Line: "echo " + want}, "echo", time.Minute, run))
		l.until(t, id+" to end", func() bool { r := m.output.Run(id); return r != nil && !r.Running })
		r := m.output.Run(id)
		if r.Lines.Len() != 1 || r.Lines.At(0) != want {
			got := []string{}
			for j := 0; j < r.Lines.Len(); j++ {
				got = append(got, r.Lines.At(j))
			}
			t.Fatalf("run %d ended showing %q, want [%s]", i, got, want)
		}
	}
}

// BenchmarkOutputBurst: one command prints 100,000 lines; they go through
// the relay to the Output pane, which is drawn once per relayed batch as
// Bubble Tea would. Reports lines/s and frames/s, and fails on a lost line.
func BenchmarkOutputBurst(b *testing.B) {
	const n = 100000
	for i := range b.N {
		m := quietModelB(b)
		msgs := make(chan tea.Msg, 1024)
		ctx, cancel := context.WithCancel(context.Background())
		relayDone := make(chan struct{})
		go func() { m.Relay().Run(ctx, func(msg tea.Msg) { msgs <- msg }); close(relayDone) }()
		id := fmt.Sprintf("run%03d", 1)
		run := &panes.Run{Title: "burst", Command: "seq 1 100000"}
		m.width, m.height = 200, 60
		start := time.Now()
		cmd := m.execute(&actions.Command{Line: fmt.Sprintf("seq 1 %d", n)}, "burst", time.Minute, run)
		go drain(cmd, msgs)
		frames, lines := 0, 0
		for r := m.output.Run(id); r.Running; {
			msg := <-msgs
			if rm, ok := msg.(relayMsg); ok {
				for _, e := range rm.events {
					lines += len(e.lines)
				}
				frames++
			}
			m.Update(msg)
			_ = m.View()
		}
		elapsed := time.Since(start)
		cancel()
		<-relayDone
		r := m.output.Run(id)
		if lines != n || r.Lines.At(r.Lines.Len()-1) != fmt.Sprint(n) {
			b.Fatalf("iteration %d: %d of %d lines arrived, last %q", i, lines, n, r.Lines.At(r.Lines.Len()-1))
		}
		// One frame at once, then at most one per Frame.
		if limit := int(elapsed/Frame) + 2; frames > limit {
			b.Fatalf("%d frames in %s: more than one per frame (limit %d)", frames, elapsed, limit)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
		b.ReportMetric(float64(frames), "frames")
		b.ReportMetric(float64(frames)/elapsed.Seconds(), "frames/s")
	}
}

// drain runs a command's goroutine part, as Bubble Tea would.
func drain(cmd tea.Cmd, msgs chan<- tea.Msg) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil, spinMsg:
	case tea.BatchMsg:
		for _, c := range msg {
			go drain(c, msgs)
		}
	default:
		msgs <- msg
	}
}
