package engine

import (
	"context"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// Frame is the shortest time between two rounds of the engine, and between
// two batches to a view: a burst of snapshots or output lines costs at most
// one round per frame.
const Frame = time.Second / 30

// item is one must-deliver thing that reached the engine. Exactly one part
// is set. Output lines, records and an action's end share one queue so that
// a run's lines are always taken before the result that ends it.
type item struct {
	run         string   // action id of lines
	lines       []string // output lines of run, in order
	started     *view.RunInfo
	rec         *journal.Record
	done        *actions.Outcome
	orphanEnded *orphanEnd
}

type orphanEnd struct {
	run string
	err error
}

// intake carries data from the sources' and actions' goroutines into the
// engine's loop. Snapshots are newest-wins per source; everything else is
// kept in full and in order. It never blocks the goroutine that emits.
type intake struct {
	mu     sync.Mutex
	latest map[string]snapshot.Update
	items  []item
	signal chan struct{}
}

func newIntake() *intake {
	return &intake{latest: map[string]snapshot.Update{}, signal: make(chan struct{}, 1)}
}

// Emit stores a source update, replacing an undelivered older one.
func (in *intake) Emit(u snapshot.Update) {
	in.mu.Lock()
	in.latest[u.Source] = u
	in.mu.Unlock()
	in.poke()
}

// Lines queues output lines of a running action.
func (in *intake) Lines(id string, lines ...string) {
	in.mu.Lock()
	if n := len(in.items); n > 0 && in.items[n-1].run == id && in.items[n-1].lines != nil {
		in.items[n-1].lines = append(in.items[n-1].lines, lines...)
	} else {
		in.items = append(in.items, item{run: id, lines: append([]string(nil), lines...)})
	}
	in.mu.Unlock()
	in.poke()
}

func (in *intake) push(it item) {
	in.mu.Lock()
	in.items = append(in.items, it)
	in.mu.Unlock()
	in.poke()
}

func (in *intake) poke() {
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

// take empties the intake; ok is false when it was empty.
func (in *intake) take() (updates []snapshot.Update, items []item, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.latest) == 0 && len(in.items) == 0 {
		return nil, nil, false
	}
	for _, u := range in.latest {
		updates = append(updates, u)
	}
	items = in.items
	in.latest = map[string]snapshot.Update{}
	in.items = nil
	return updates, items, true
}

// run hands what arrived to handle, at most once per Frame, until ctx ends.
func (in *intake) run(ctx context.Context, handle func([]snapshot.Update, []item)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.signal:
		}
		if u, it, ok := in.take(); ok {
			handle(u, it)
		}
		if !restFrame(ctx) {
			return
		}
	}
}

// restFrame waits one Frame; false if ctx ended first.
func restFrame(ctx context.Context) bool {
	t := time.NewTimer(Frame)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// teeJournal writes a record to the journal, then queues it for the
// engine, which follows the journal.
type teeJournal struct {
	j  actions.Appender
	in *intake
}

func (t teeJournal) Append(rec journal.Record) (journal.Record, error) {
	out, err := t.j.Append(rec)
	if err == nil {
		t.in.push(item{rec: &out})
	}
	return out, err
}

// Follow applies a record that another process wrote to the journal: an
// observer with no driver to attach to follows the journal file.
func (e *Engine) Follow(recs ...journal.Record) {
	for _, rec := range recs {
		e.in.push(item{rec: &rec})
	}
}
