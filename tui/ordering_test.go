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

	"github.com/flightdeckhq/flightdeck/engine"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/view"
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
	serve(t, m, func(msg tea.Msg) { l.msgs <- msg })
	t.Cleanup(l.wg.Wait)
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

// quietModel is a view on an engine whose runbook has one command step per
// line given, "step-1" onward.
func quietModel(t testing.TB, commands ...string) *Model {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "flightdeck.toml")
	text := "[deploy]\nname = \"Quiet\"\nenvironment = \"production\"\n[window]\nstart = \"00:00\"\nend = \"23:59\"\ntimezone = \"UTC\"\n[[phase]]\nname = \"P\"\n"
	for i, c := range commands {
		text += fmt.Sprintf("[[phase.step]]\nid = \"step-%d\"\ntitle = \"Step %d\"\nestimate = \"1m\"\ncommand = %q\n", i+1, i+1, c)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := newTestModel(testOptions{Config: cfg, Runbook: runbook.New(cfg), Journal: &lockedJournal{}, Operator: "tester",
		Day: now, Now: now, Theme: theme.New(true, true), JournalPath: filepath.Join(dir, "journal.jsonl")})
	var n atomic.Int64
	engineOf(m).Runner().NewID = func() string { return fmt.Sprintf("run%03d", n.Add(1)) }
	return m
}

// runStep runs a step through the engine as the view's enter and y would.
func runStep(t testing.TB, m *Model, step string) {
	t.Helper()
	eng := engineOf(m)
	p, err := eng.Request(context.Background(), m.opts.Viewer, view.Request{Op: view.OpRunStep, Step: step})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Confirm(context.Background(), m.opts.Viewer, p.ID); err != nil {
		t.Fatal(err)
	}
}

// TestEveryLineOfAQuickCommandArrives: a command that prints one line and
// exits at once, 200 times with every core busy: each run's line is in its
// section of the Output pane before the run ends, none is dropped.
func TestEveryLineOfAQuickCommandArrives(t *testing.T) {
	var commands []string
	for i := range 200 {
		commands = append(commands, fmt.Sprintf("echo line-%d", i))
	}
	m := quietModel(t, commands...)
	l := newLoop(t, m)
	busy(t)
	for i := range 200 {
		id := fmt.Sprintf("run%03d", i+1)
		want := fmt.Sprintf("line-%d", i)
		runStep(t, m, fmt.Sprintf("step-%d", i+1))
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
		m := quietModel(b, fmt.Sprintf("seq 1 %d", n))
		msgs := make(chan tea.Msg, 1024)
		serve(b, m, func(msg tea.Msg) { msgs <- msg })
		id := fmt.Sprintf("run%03d", 1)
		m.width, m.height = 200, 60
		start := time.Now()
		runStep(b, m, "step-1")
		frames, lines := 0, 0
		for r := m.output.Run(id); r == nil || r.Running; r = m.output.Run(id) {
			msg := <-msgs
			if bm, ok := msg.(batchMsg); ok {
				for _, e := range bm.Events {
					lines += len(e.Lines)
				}
				frames++
			}
			m.Update(msg)
			_ = m.View()
		}
		elapsed := time.Since(start)
		r := m.output.Run(id)
		if lines != n || r.Lines.At(r.Lines.Len()-1) != fmt.Sprint(n) {
			b.Fatalf("iteration %d: %d of %d lines arrived, last %q", i, lines, n, r.Lines.At(r.Lines.Len()-1))
		}
		// One frame at once, then at most one per Frame.
		if limit := int(elapsed/engine.Frame) + 2; frames > limit {
			b.Fatalf("%d frames in %s: more than one per frame (limit %d)", frames, elapsed, limit)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
		b.ReportMetric(float64(frames), "frames")
		b.ReportMetric(float64(frames)/elapsed.Seconds(), "frames/s")
	}
}
