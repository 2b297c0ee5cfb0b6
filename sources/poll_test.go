package sources_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/sources"
)

// Refresh cuts the wait short, never starts a read beside one in flight,
// and however often it is asked during a read, makes one read after it.
func TestPollerRefresh(t *testing.T) {
	var (
		refresh            sources.Refresher
		reads, inFlight    atomic.Int32
		maxInFlight, waits atomic.Int32
	)
	release := make(chan struct{})
	started := make(chan int32, 8)
	emitted := make(chan int32, 8)
	read := func(ctx context.Context) (int32, error) {
		if n := inFlight.Add(1); n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		defer inFlight.Add(-1)
		n := reads.Add(1)
		started <- n
		if n == 2 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return n, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := sources.Poller[int32]{Every: time.Hour, Refresh: &refresh,
		After: func(time.Duration) <-chan time.Time { waits.Add(1); return nil }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, read, func(s sources.Snapshot[int32]) { emitted <- s.Data }) }()

	next := func(ch chan int32, want int32) {
		t.Helper()
		select {
		case got := <-ch:
			if got != want {
				t.Fatalf("got read %d, want %d", got, want)
			}
		case <-time.After(safety):
			t.Fatalf("read %d never came", want)
		}
	}
	next(started, 1)
	next(emitted, 1) // at once, with an hour's interval
	refresh.Refresh()
	next(started, 2)
	for range 3 {
		refresh.Refresh()
	}
	close(release)
	next(emitted, 2)
	next(started, 3)
	next(emitted, 3) // the three asks during read 2, folded into one
	for waits.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := reads.Load(); n != 3 {
		t.Errorf("%d reads, want 3: asks made during one read fold into one", n)
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("up to %d reads in flight at once, want 1", m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(safety):
		t.Fatal("Run did not return after cancel")
	}
}

// Wait picks the wait after each read from its result; Now stamps the
// snapshots.
func TestPollerWaitAndClock(t *testing.T) {
	slow := errors.New("slow down")
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var n atomic.Int32
	read := func(context.Context) (int, error) {
		if n.Add(1) == 1 {
			return 0, slow
		}
		return 1, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	fire := make(chan time.Time)
	close(fire)
	p := sources.Poller[int]{
		Every: 10 * time.Second,
		Wait: func(_ int, err error) time.Duration {
			if errors.Is(err, slow) {
				return 90 * time.Second
			}
			return 10 * time.Second
		},
		Now: func() time.Time { return at },
		After: func(d time.Duration) <-chan time.Time {
			if waits = append(waits, d); len(waits) == 2 {
				cancel()
			}
			return fire
		},
	}
	var snaps []sources.Snapshot[int]
	if err := p.Run(ctx, read, func(s sources.Snapshot[int]) { snaps = append(snaps, s) }); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || waits[0] != 90*time.Second || waits[1] != 10*time.Second {
		t.Errorf("waits %v, want [1m30s 10s]", waits)
	}
	if len(snaps) != 2 || !errors.Is(snaps[0].Err, slow) || snaps[1].Data != 1 || !snaps[0].At.Equal(at) || !snaps[1].At.Equal(at) {
		t.Errorf("snapshots %+v", snaps)
	}
}
