package sources

import (
	"context"
	"sync"
	"time"
)

// Refresher is a poll loop's "read now" input. The zero value is ready.
// Refresh never blocks; asking while a read is in flight makes one more
// read right after it, however many times it was asked, so a change made
// during the read is seen.
type Refresher struct {
	once sync.Once
	ch   chan struct{}
}

// Refresh asks for a read now instead of at the next tick.
func (r *Refresher) Refresh() {
	select {
	case r.pokes() <- struct{}{}:
	default:
	}
}

func (r *Refresher) pokes() chan struct{} {
	r.once.Do(func() { r.ch = make(chan struct{}, 1) })
	return r.ch
}

// Poller is Poll with its options: a refresh input, a wait chosen after
// each read, and the clock. Every source that polls runs one, so none
// ever has two reads of its system in flight.
type Poller[T any] struct {
	Every time.Duration
	// Refresh, when set, cuts the wait short; a read in flight is never
	// interrupted.
	Refresh *Refresher
	// Wait chooses the wait after a read (a rate limit's reset, say); nil
	// waits Every.
	Wait func(data T, err error) time.Duration
	// Now stamps each snapshot; nil uses time.Now.
	Now func() time.Time
	// After is the wait between reads; nil uses a timer. Tests use it to
	// see how long the loop chose to wait without waiting it.
	After func(time.Duration) <-chan time.Time
}

// Run reads at once, emits the result, waits, and again, until ctx ends.
// The next read is scheduled only after the previous one returned; a read
// cut short by ctx ending is not emitted. It returns nil when ctx ends.
func (p Poller[T]) Run(ctx context.Context, read func(ctx context.Context) (T, error), emit func(Snapshot[T])) error {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	var pokes chan struct{}
	if p.Refresh != nil {
		pokes = p.Refresh.pokes()
	}
	var seq uint64
	for {
		data, err := read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		seq++
		emit(Snapshot[T]{Seq: seq, At: now(), Data: data, Err: err})
		wait := p.Every
		if p.Wait != nil {
			wait = p.Wait(data, err)
		}
		if !p.wait(ctx, wait, pokes) {
			return nil
		}
	}
}

// wait waits d, or less when a refresh is asked for; false when ctx ended.
func (p Poller[T]) wait(ctx context.Context, d time.Duration, pokes <-chan struct{}) bool {
	var fired <-chan time.Time
	if p.After != nil {
		fired = p.After(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		fired = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-fired:
	case <-pokes:
	}
	return true
}
