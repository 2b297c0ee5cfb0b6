// Package sources holds the cockpit's live data: one Source per external
// system, each owning one connection and emitting immutable snapshots.
//
// Nothing here imports Bubble Tea. The supervisor turns a source's snapshots
// into type-erased Updates that the TUI's relay hands to the program, newest
// first, so a slow or broken system can never block another or the keyboard.
package sources

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Snapshot is one immutable reading of a system. When Err is set, Data is
// the last good data (possibly the zero value if there never was any).
type Snapshot[T any] struct {
	Seq  uint64
	At   time.Time // when Data was read
	Data T
	Err  error
}

// Source reads one system. Run emits snapshots until ctx ends. Returning an
// error before ctx ends means the source gave up on its connection; the
// supervisor restarts it with backoff and keeps the last good data.
type Source[T any] interface {
	Name() string
	Run(ctx context.Context, emit func(Snapshot[T])) error
}

// Backoff is a capped exponential backoff with full jitter, so that several
// cockpits in one huddle do not hammer a recovering server in lock-step.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0,1); nil uses math/rand.
	Rand func() float64
}

// DefaultBackoff starts at half a second and never waits more than 30 s:
// during an incident a source that comes back should show up quickly.
var DefaultBackoff = Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}

// Delay returns the wait before retry number attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := b.Min
	for i := 1; i < attempt && ceiling < b.Max; i++ {
		ceiling *= 2
	}
	if ceiling > b.Max {
		ceiling = b.Max
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	// Half fixed, half jitter: never zero, never above the ceiling.
	return ceiling/2 + time.Duration(r()*float64(ceiling/2))
}

// Supervise runs src until ctx ends, restarting it with backoff whenever Run
// returns early, and forwards every snapshot to emit as an Update. A failing
// snapshot keeps the last good data. Supervise returns when ctx ends and src
// has returned.
func Supervise[T any](ctx context.Context, src Source[T], b Backoff, emit func(snapshot.Update)) {
	var (
		mu      sync.Mutex
		last    snapshot.Update
		good    T
		hasGood bool
		seq     uint64
	)
	last.Source = src.Name()
	forward := func(s Snapshot[T]) {
		mu.Lock()
		defer mu.Unlock()
		seq++
		u := snapshot.Update{Source: src.Name(), Seq: seq}
		if s.Err == nil {
			good, hasGood = s.Data, true
			u.At, u.GoodAt, u.Data = s.At, s.At, s.Data
		} else {
			u.Err = s.Err
			u.Attempt = last.Attempt + 1
			u.GoodAt = last.GoodAt
			u.At = last.GoodAt
			if hasGood {
				u.Data = good
			} else {
				u.Data = s.Data
			}
		}
		last = u
		emit(u)
	}
	attempt := 0
	for ctx.Err() == nil {
		started := time.Now()
		err := src.Run(ctx, forward)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		// A source that ran healthily for a while starts its backoff afresh.
		if time.Since(started) > b.Max {
			attempt = 0
		}
		attempt++
		wait := b.Delay(attempt)
		mu.Lock()
		seq++
		u := snapshot.Update{Source: src.Name(), Seq: seq, Err: fmt.Errorf("%s: %w", src.Name(), err),
			GoodAt: last.GoodAt, At: last.GoodAt, Attempt: last.Attempt + 1, RetryIn: wait}
		if hasGood {
			u.Data = good
		}
		last = u
		mu.Unlock()
		emit(u)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Group owns the goroutines of several supervised sources: Stop cancels them
// all and waits until every one has returned.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewGroup returns a group whose sources stop when parent ends or Stop is called.
func NewGroup(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Go starts fn in the group. fn must return when ctx ends.
func (g *Group) Go(fn func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
}

// Start supervises src inside the group.
func Start[T any](g *Group, src Source[T], b Backoff, emit func(snapshot.Update)) {
	g.Go(func(ctx context.Context) { Supervise(ctx, src, b, emit) })
}

// Stop cancels every source and waits for all of them.
func (g *Group) Stop() {
	g.cancel()
	g.wg.Wait()
}

// Poll runs read every interval and emits its result, never overlapping a
// read still in flight: the next read is scheduled only after the previous one
// returned. It is the building block for systems that cannot push (Postgres,
// Jira, Sentry). The first read happens at once. Poller adds a refresh input
// and a wait chosen per read.
func Poll[T any](ctx context.Context, interval time.Duration, read func(ctx context.Context) (T, error), emit func(Snapshot[T])) error {
	return Poller[T]{Every: interval}.Run(ctx, read, emit)
}
