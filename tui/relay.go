package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Frame is the shortest time between two relayed batches: a burst of
// snapshots or output lines costs at most one render per frame.
const Frame = time.Second / 30

// relayMsg carries everything that arrived during one frame: the newest
// snapshot of each source, and every output line, journal record and action
// end in the order they happened.
type relayMsg struct {
	updates []snapshot.Update // newest per source
	events  []relayEvent
}

// relayEvent is one must-deliver item. Exactly one of its parts is set.
// Output lines, records and an action's end share one queue so that a run's
// lines always reach the model before the result that ends it.
type relayEvent struct {
	run   string   // action id of lines
	lines []string // output lines of run, in order
	rec   *journal.Record
	done  *actions.Outcome
	// orphanEnded: a command left by the previous cockpit has ended.
	orphanEnded *orphanEndedMsg
}

// Relay carries data from goroutines into the program. Snapshots are
// newest-wins per source; lines, records and ends are kept in full and in
// order. It never blocks the goroutine that emits.
type Relay struct {
	mu     sync.Mutex
	latest map[string]snapshot.Update
	events []relayEvent
	signal chan struct{}
}

// NewRelay returns a relay; Run starts delivering.
func NewRelay() *Relay {
	return &Relay{latest: map[string]snapshot.Update{}, signal: make(chan struct{}, 1)}
}

// Emit stores a source update, replacing an undelivered older one.
func (r *Relay) Emit(u snapshot.Update) {
	r.mu.Lock()
	r.latest[u.Source] = u
	r.mu.Unlock()
	r.poke()
}

// Lines queues output lines of a running action.
func (r *Relay) Lines(id string, lines ...string) {
	r.mu.Lock()
	if n := len(r.events); n > 0 && r.events[n-1].run == id && r.events[n-1].lines != nil {
		r.events[n-1].lines = append(r.events[n-1].lines, lines...)
	} else {
		r.events = append(r.events, relayEvent{run: id, lines: append([]string(nil), lines...)})
	}
	r.mu.Unlock()
	r.poke()
}

// Record queues a journal record just written.
func (r *Relay) Record(rec journal.Record) {
	r.push(relayEvent{rec: &rec})
}

// Done queues the end of an action, after everything it emitted.
func (r *Relay) Done(out actions.Outcome) {
	r.push(relayEvent{done: &out})
}

func (r *Relay) push(e relayEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.poke()
}

func (r *Relay) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// teeJournal implements actions.Appender around a journal: the record is
// written first, then queued for the program so the model follows the
// journal.
type teeJournal struct {
	j interface {
		Append(journal.Record) (journal.Record, error)
	}
	relay *Relay
}

func (t teeJournal) Append(rec journal.Record) (journal.Record, error) {
	out, err := t.j.Append(rec)
	if err == nil {
		t.relay.Record(out)
	}
	return out, err
}

// take empties the relay into one message; ok is false when it was empty.
func (r *Relay) take() (relayMsg, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.latest) == 0 && len(r.events) == 0 {
		return relayMsg{}, false
	}
	msg := relayMsg{events: r.events}
	for _, u := range r.latest {
		msg.updates = append(msg.updates, u)
	}
	r.latest = map[string]snapshot.Update{}
	r.events = nil
	return msg, true
}

// Run delivers batches to send, at most one per Frame, until ctx ends.
// Whatever arrived before Run is delivered first.
func (r *Relay) Run(ctx context.Context, send func(tea.Msg)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.signal:
		}
		if msg, ok := r.take(); ok {
			send(msg)
		}
		t := time.NewTimer(Frame)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
