package engine

import (
	"context"
	"sort"
	"sync"

	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// MaxQueued is how many events a view may fall behind by before its queue
// is dropped and it is sent the whole state again: a stalled view costs
// bounded memory and never slows the engine or another view.
const MaxQueued = 20000

// subscriber is one view's queue. The engine only ever appends to it under
// its lock; the view's own goroutine takes from it and blocks on the view.
type subscriber struct {
	viewer view.Viewer
	mu     sync.Mutex
	// initial: the next batch must carry the whole state (a new view, or
	// one that fell too far behind).
	initial bool
	updates map[string]snapshot.Update
	status  *view.Status
	events  []view.Event
	signal  chan struct{}
}

func (s *subscriber) poke() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// publish queues what changed for every view. Called with e.mu held, so a
// whole-state batch built under the same lock never misses or repeats an
// event.
func (e *Engine) publish(updates []snapshot.Update, st *view.Status, events []view.Event) {
	for _, s := range e.subs {
		s.mu.Lock()
		if !s.initial {
			for _, u := range updates {
				s.updates[u.Source] = u
			}
			if st != nil {
				s.status = st
			}
			s.events = append(s.events, events...)
			if len(s.events) > MaxQueued {
				s.initial, s.events, s.updates, s.status = true, nil, map[string]snapshot.Update{}, nil
			}
		}
		s.mu.Unlock()
		s.poke()
	}
}

// Subscribe implements view.Engine.
func (e *Engine) Subscribe(ctx context.Context, v view.Viewer) <-chan view.Batch {
	s := &subscriber{viewer: v, initial: true, updates: map[string]snapshot.Update{}, signal: make(chan struct{}, 1)}
	ch := make(chan view.Batch)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx.Err() != nil {
		close(ch)
		return ch
	}
	e.subs = append(e.subs, s)
	if v.ReadOnly {
		e.publish(nil, e.status(), nil)
	}
	s.poke()
	e.goOwned(func() {
		defer close(ch)
		defer e.unsubscribe(s)
		ctx, cancel := e.bound(ctx)
		defer cancel()
		e.deliver(ctx, s, ch)
	})
	return ch
}

func (e *Engine) unsubscribe(s *subscriber) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, o := range e.subs {
		if o == s {
			e.subs = append(e.subs[:i], e.subs[i+1:]...)
			if s.viewer.ReadOnly {
				e.publish(nil, e.status(), nil)
			}
			return
		}
	}
}

// watchers names the read-only views, for the driver's status bar.
func (e *Engine) watchers() []string {
	var names []string
	for _, s := range e.subs {
		if s.viewer.ReadOnly {
			names = append(names, s.viewer.Name)
		}
	}
	sort.Strings(names)
	return names
}

// deliver sends s's batches to ch, at most one per Frame, until ctx ends.
func (e *Engine) deliver(ctx context.Context, s *subscriber, ch chan<- view.Batch) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.signal:
		}
		b, ok := e.take(s)
		if ok {
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
		}
		if !restFrame(ctx) {
			return
		}
	}
}

// take empties s into one batch.
func (e *Engine) take(s *subscriber) (view.Batch, bool) {
	s.mu.Lock()
	initial := s.initial
	s.mu.Unlock()
	if initial {
		e.mu.Lock()
		defer e.mu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		b := e.whole()
		s.initial, s.events, s.updates, s.status = false, nil, map[string]snapshot.Update{}, nil
		return b, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.updates) == 0 && s.status == nil && len(s.events) == 0 {
		return view.Batch{}, false
	}
	b := view.Batch{Status: s.status, Events: s.events}
	for _, u := range s.updates {
		b.Updates = append(b.Updates, u)
	}
	s.updates, s.status, s.events = map[string]snapshot.Update{}, nil, nil
	return b, true
}

// Notify tells every view what the cockpit around the engine has to say
// (the deploy lock's news), as the engine's own notices are told.
func (e *Engine) Notify(n view.Notice) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publish(nil, nil, []view.Event{{Notice: &n}})
}
