package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/sources"
)

// Frame is the shortest time between two relayed batches: a burst of
// snapshots or output lines costs at most one render per frame.
const Frame = time.Second / 30

// relayMsg carries everything that arrived during one frame.
type relayMsg struct {
	updates []sources.Update    // newest per source
	output  map[string][]string // action id → new lines, in order
	order   []string            // action ids in first-seen order
}

// recordMsg is one journal record just written; records are never
// coalesced or dropped, and arrive in the order they were written.
type recordMsg struct{ rec journal.Record }

// Relay carries data from goroutines into the program. Snapshots are
// newest-wins per source; output lines are kept in full. It never blocks
// the goroutine that emits.
type Relay struct {
	mu      sync.Mutex
	latest  map[string]sources.Update
	output  map[string][]string
	order   []string
	signal  chan struct{}
	sendMu  sync.Mutex
	send    func(tea.Msg)
	pending []tea.Msg // records that arrived before the program started
}

// NewRelay returns a relay; Run starts delivering.
func NewRelay() *Relay {
	return &Relay{latest: map[string]sources.Update{}, output: map[string][]string{}, signal: make(chan struct{}, 1)}
}

// Emit stores a source update, replacing an undelivered older one.
func (r *Relay) Emit(u sources.Update) {
	r.mu.Lock()
	r.latest[u.Source] = u
	r.mu.Unlock()
	r.poke()
}

// Lines queues output lines of a running action.
func (r *Relay) Lines(id string, lines ...string) {
	r.mu.Lock()
	if _, ok := r.output[id]; !ok {
		r.order = append(r.order, id)
	}
	r.output[id] = append(r.output[id], lines...)
	r.mu.Unlock()
	r.poke()
}

func (r *Relay) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Append implements actions.Appender around a journal: the record is written
// first, then handed to the program so the model follows the journal.
type teeJournal struct {
	j interface {
		Append(journal.Record) (journal.Record, error)
	}
	relay *Relay
}

func (t teeJournal) Append(rec journal.Record) (journal.Record, error) {
	out, err := t.j.Append(rec)
	if err == nil {
		t.relay.deliver(recordMsg{rec: out})
	}
	return out, err
}

// deliver sends msg to the program at once, in order, or keeps it until the
// program is there.
func (r *Relay) deliver(msg tea.Msg) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if r.send == nil {
		r.pending = append(r.pending, msg)
		return
	}
	r.send(msg)
}

// Run delivers batches to send until ctx ends.
func (r *Relay) Run(ctx context.Context, send func(tea.Msg)) {
	r.sendMu.Lock()
	r.send = send
	pending := r.pending
	r.pending = nil
	for _, m := range pending {
		send(m)
	}
	r.sendMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.signal:
		}
		r.mu.Lock()
		msg := relayMsg{output: r.output, order: r.order}
		for _, u := range r.latest {
			msg.updates = append(msg.updates, u)
		}
		r.latest = map[string]sources.Update{}
		r.output = map[string][]string{}
		r.order = nil
		r.mu.Unlock()
		r.sendMu.Lock()
		send(msg)
		r.sendMu.Unlock()
		t := time.NewTimer(Frame)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
