package sources_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// safety bounds a wait that should end long before it; it is never an
// assertion about how fast something is.
const safety = 20 * time.Second

func fixed(f float64) func() float64 { return func() float64 { return f } }

func TestBackoffDelayBounds(t *testing.T) {
	b := sources.Backoff{Min: 300 * time.Millisecond, Max: 5 * time.Second}
	ceiling := func(attempt int) time.Duration {
		c := b.Min
		for i := 1; i < attempt; i++ {
			c *= 2
			if c >= b.Max {
				return b.Max
			}
		}
		return c
	}
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		b.Rand = fixed(r)
		for attempt := 1; attempt <= 40; attempt++ {
			d, c := b.Delay(attempt), ceiling(attempt)
			if d > b.Max {
				t.Errorf("rand %v attempt %d: Delay %s exceeds Max %s", r, attempt, d, b.Max)
			}
			if d > c {
				t.Errorf("rand %v attempt %d: Delay %s exceeds the ceiling %s", r, attempt, d, c)
			}
			if d < c/2 {
				t.Errorf("rand %v attempt %d: Delay %s below half the ceiling %s", r, attempt, d, c)
			}
		}
	}
}

func TestBackoffDelayGrows(t *testing.T) {
	b := sources.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second, Rand: fixed(0.5)}
	prev := b.Delay(1)
	capped := false
	for attempt := 2; attempt <= 20; attempt++ {
		d := b.Delay(attempt)
		switch {
		case d < prev:
			t.Errorf("Delay(%d) = %s shrank from %s", attempt, d, prev)
		case d == prev:
			capped = true
		case capped:
			t.Errorf("Delay(%d) = %s grew again after reaching the cap", attempt, d)
		}
		prev = d
	}
	if !capped {
		t.Errorf("Delay never reached its cap in 20 attempts")
	}
	if b.Delay(2) != 2*b.Delay(1) {
		t.Errorf("Delay(2) = %s, want double Delay(1) = %s", b.Delay(2), b.Delay(1))
	}
}

func TestBackoffDelayFirstAttempt(t *testing.T) {
	b := sources.Backoff{Min: time.Second, Max: time.Minute, Rand: fixed(0)}
	// Attempts are 1-based; nonsense below that must not mean "no wait".
	for _, attempt := range []int{-5, 0, 1} {
		if d := b.Delay(attempt); d != 500*time.Millisecond {
			t.Errorf("Delay(%d) = %s, want half of Min", attempt, d)
		}
	}
}

func TestBackoffDelayDefaultRand(t *testing.T) {
	b := sources.Backoff{Min: time.Second, Max: 4 * time.Second}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := b.Delay(10)
		if d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("Delay = %s, want within [Max/2, Max]", d)
		}
		seen[d] = true
	}
	// Cockpits in one huddle must not retry in lock-step.
	if len(seen) < 2 {
		t.Errorf("200 delays were all %v: no jitter", seen)
	}
}

// updates collects what Supervise emits, in order.
type updates struct {
	mu  sync.Mutex
	got []snapshot.Update
	ch  chan struct{}
}

func newUpdates() *updates { return &updates{ch: make(chan struct{}, 1)} }

func (u *updates) emit(x snapshot.Update) {
	u.mu.Lock()
	u.got = append(u.got, x)
	u.mu.Unlock()
	select {
	case u.ch <- struct{}{}:
	default:
	}
}

func (u *updates) all() []snapshot.Update {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]snapshot.Update(nil), u.got...)
}

// wait blocks until at least n updates have arrived.
func (u *updates) wait(t *testing.T, n int) []snapshot.Update {
	t.Helper()
	deadline := time.After(safety)
	for {
		if got := u.all(); len(got) >= n {
			return got
		}
		select {
		case <-u.ch:
		case <-deadline:
			t.Fatalf("got %d updates, want %d: %+v", len(u.all()), n, u.all())
		}
	}
}

// scripted is a Source whose successive Run calls follow runs; the last one
// is repeated. It counts its Run calls.
type scripted struct {
	name  string
	runs  []func(ctx context.Context, emit func(sources.Snapshot[string])) error
	calls atomic.Int32
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) Run(ctx context.Context, emit func(sources.Snapshot[string])) error {
	n := int(s.calls.Add(1))
	i := min(n, len(s.runs)) - 1
	return s.runs[i](ctx, emit)
}

func blockUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// supervise runs Supervise in a group and stops it when the test ends.
func supervise[T any](t *testing.T, src sources.Source[T], b sources.Backoff) *updates {
	t.Helper()
	u := newUpdates()
	g := sources.NewGroup(context.Background())
	sources.Start(g, src, b, u.emit)
	t.Cleanup(g.Stop)
	return u
}

var tiny = sources.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}

func TestSuperviseKeepsLastGoodData(t *testing.T) {
	t1 := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Second)
	t3 := t2.Add(time.Second)
	e1, e2 := errors.New("connection reset"), errors.New("connection refused")
	src := &scripted{name: "postgres", runs: []func(context.Context, func(sources.Snapshot[string])) error{
		func(ctx context.Context, emit func(sources.Snapshot[string])) error {
			emit(sources.Snapshot[string]{Seq: 1, At: t1, Data: "v1"})
			emit(sources.Snapshot[string]{Seq: 2, At: t2, Err: e1})
			emit(sources.Snapshot[string]{Seq: 3, At: t2, Err: e2, Data: "partial"})
			emit(sources.Snapshot[string]{Seq: 4, At: t3, Data: "v2"})
			return blockUntilDone(ctx)
		},
	}}
	got := supervise(t, src, tiny).wait(t, 4)

	for i, u := range got {
		if u.Source != "postgres" {
			t.Errorf("update %d Source = %q", i, u.Source)
		}
		if u.Seq != uint64(i+1) {
			t.Errorf("update %d Seq = %d, want %d", i, u.Seq, i+1)
		}
	}
	if u := got[0]; u.Err != nil || u.Data != "v1" || !u.At.Equal(t1) || !u.GoodAt.Equal(t1) || u.Attempt != 0 {
		t.Errorf("good update = %+v", u)
	}
	for i, want := range []struct {
		err     error
		attempt int
	}{{e1, 1}, {e2, 2}} {
		u := got[1+i]
		if !errors.Is(u.Err, want.err) {
			t.Errorf("failing update %d Err = %v, want %v", i, u.Err, want.err)
		}
		if u.Data != "v1" {
			t.Errorf("failing update %d Data = %v, want the last good data v1", i, u.Data)
		}
		if !u.GoodAt.Equal(t1) || !u.At.Equal(t1) {
			t.Errorf("failing update %d GoodAt %v At %v, want both the last good read %v", i, u.GoodAt, u.At, t1)
		}
		if u.Attempt != want.attempt {
			t.Errorf("failing update %d Attempt = %d, want %d", i, u.Attempt, want.attempt)
		}
	}
	if u := got[3]; u.Err != nil || u.Data != "v2" || !u.GoodAt.Equal(t3) || u.Attempt != 0 {
		t.Errorf("recovered update = %+v, want v2 at %v with Attempt 0", u, t3)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("a healthy source was run %d times", n)
	}
}

func TestSuperviseErrorBeforeAnyGoodData(t *testing.T) {
	boom := errors.New("no route to host")
	src := &scripted{name: "jira", runs: []func(context.Context, func(sources.Snapshot[string])) error{
		func(ctx context.Context, emit func(sources.Snapshot[string])) error {
			emit(sources.Snapshot[string]{Seq: 1, At: time.Now(), Err: boom})
			return blockUntilDone(ctx)
		},
	}}
	u := supervise(t, src, tiny).wait(t, 1)[0]
	if !errors.Is(u.Err, boom) || !u.GoodAt.IsZero() || !u.At.IsZero() || u.Attempt != 1 {
		t.Errorf("update = %+v, want the error, no good time, Attempt 1", u)
	}
	if u.Data != "" {
		t.Errorf("Data = %#v, want the zero value", u.Data)
	}
}

func TestSuperviseRestartsWithBackoff(t *testing.T) {
	flaky := errors.New("watch closed")
	t1 := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	src := &scripted{name: "kubernetes", runs: []func(context.Context, func(sources.Snapshot[string])) error{
		func(ctx context.Context, emit func(sources.Snapshot[string])) error {
			emit(sources.Snapshot[string]{Seq: 1, At: t1, Data: "v1"})
			return flaky
		},
		func(context.Context, func(sources.Snapshot[string])) error { return flaky },
		func(context.Context, func(sources.Snapshot[string])) error { return nil },
		func(ctx context.Context, emit func(sources.Snapshot[string])) error {
			emit(sources.Snapshot[string]{Seq: 1, At: t1.Add(time.Minute), Data: "v4"})
			return blockUntilDone(ctx)
		},
	}}
	got := supervise(t, src, tiny).wait(t, 5)

	if n := src.calls.Load(); n != 4 {
		t.Errorf("Run was called %d times, want 4 (three early returns restarted)", n)
	}
	for i, u := range got[1:4] {
		if u.Err == nil {
			t.Fatalf("restart update %d has no error: %+v", i, u)
		}
		if !strings.HasPrefix(u.Err.Error(), "kubernetes: ") {
			t.Errorf("restart error %q does not name the source", u.Err)
		}
		if u.Data != "v1" || !u.GoodAt.Equal(t1) {
			t.Errorf("restart update %d Data %v GoodAt %v, want last good v1 at %v", i, u.Data, u.GoodAt, t1)
		}
		if u.Attempt != i+1 {
			t.Errorf("restart update %d Attempt = %d, want %d", i, u.Attempt, i+1)
		}
		if u.RetryIn < tiny.Min/2 || u.RetryIn > tiny.Max {
			t.Errorf("restart update %d RetryIn = %s, want within [%s, %s]", i, u.RetryIn, tiny.Min/2, tiny.Max)
		}
	}
	if !errors.Is(got[1].Err, flaky) || !errors.Is(got[2].Err, flaky) {
		t.Errorf("restart errors %v, %v do not wrap the source's error", got[1].Err, got[2].Err)
	}
	// Returning nil while the cockpit still runs is a failure too.
	if !strings.Contains(got[3].Err.Error(), "stopped unexpectedly") {
		t.Errorf("nil return reported as %q", got[3].Err)
	}
	if u := got[4]; u.Err != nil || u.Data != "v4" || u.Attempt != 0 || u.RetryIn != 0 {
		t.Errorf("update after recovery = %+v", u)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("Seq went %d then %d: the relay keeps the newest by Seq", got[i-1].Seq, got[i].Seq)
		}
	}
}

// emitter emits a snapshot every millisecond until ctx ends.
type emitter struct{ name string }

func (e emitter) Name() string { return e.name }

func (e emitter) Run(ctx context.Context, emit func(sources.Snapshot[int])) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		emit(sources.Snapshot[int]{Seq: uint64(i), At: time.Now(), Data: i})
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// failing returns an error at once, every time.
type failing struct{ calls atomic.Int32 }

func (*failing) Name() string { return "failing" }

func (f *failing) Run(context.Context, func(sources.Snapshot[int])) error {
	f.calls.Add(1)
	return errors.New("down")
}

// holding emits a snapshot every millisecond until ctx ends, then holds
// its Run open until the test lets go, so that a Stop which did not wait
// for its sources would return while one of them still runs.
type holding struct {
	name      string
	cancelled *sync.WaitGroup // Done once ctx has ended
	release   <-chan struct{}
	running   *atomic.Int32
}

func (h holding) Name() string { return h.name }

func (h holding) Run(ctx context.Context, emit func(sources.Snapshot[int])) error {
	h.running.Add(1)
	defer h.running.Add(-1)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		emit(sources.Snapshot[int]{Seq: uint64(i), At: time.Now(), Data: i})
		select {
		case <-ctx.Done():
			h.cancelled.Done()
			<-h.release
			return nil
		case <-tick.C:
		}
	}
}

func TestGroupStopWaitsForSources(t *testing.T) {
	g := sources.NewGroup(context.Background())
	var stopped atomic.Bool
	var late atomic.Int64
	got := make(chan struct{}, 1)
	var count atomic.Int64
	emit := func(snapshot.Update) {
		if count.Add(1) == 20 {
			got <- struct{}{}
		}
		if stopped.Load() {
			late.Add(1)
		}
	}
	var cancelled sync.WaitGroup
	var running atomic.Int32
	release := make(chan struct{})
	for _, name := range []string{"a", "b"} {
		cancelled.Add(1)
		sources.Start(g, holding{name: name, cancelled: &cancelled, release: release, running: &running}, tiny, emit)
	}
	// One source sits in a backoff far longer than the test: Stop must
	// interrupt the wait rather than sit it out.
	slow := &failing{}
	sources.Start(g, slow, sources.Backoff{Min: time.Hour, Max: time.Hour}, emit)

	select {
	case <-got:
	case <-time.After(safety):
		t.Fatalf("sources never got going: %d updates", count.Load())
	}
	// Its first Run returns at once; only the backoff after it is long.
	for deadline := time.Now().Add(safety); slow.calls.Load() == 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the failing source was never run")
		}
	}

	stopDone := make(chan struct{})
	var runningAtStop int32
	go func() {
		g.Stop()
		runningAtStop = running.Load()
		stopped.Store(true)
		close(stopDone)
	}()
	waitGroup(t, &cancelled, "the sources to see the group cancelled")
	select {
	case <-stopDone:
		t.Fatalf("Stop returned while %d sources were still running", runningAtStop)
	default:
	}
	close(release)
	select {
	case <-stopDone:
	case <-time.After(safety):
		t.Fatalf("Stop did not return within %s", safety)
	}
	// Whatever Stop waited for has ended, so nothing can emit any more.
	if runningAtStop != 0 {
		t.Errorf("Stop returned while %d sources were still running", runningAtStop)
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d updates arrived after Stop returned", n)
	}
	if n := slow.calls.Load(); n != 1 {
		t.Errorf("the backing-off source was run %d times, want 1", n)
	}
}

// waitGroup waits for wg, or fails the test after safety.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("waited %s for %s", safety, what)
	}
}

func TestGroupStopsWithParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	g := sources.NewGroup(parent)
	ended := make(chan struct{})
	g.Go(func(ctx context.Context) {
		<-ctx.Done()
		close(ended)
	})
	cancel()
	select {
	case <-ended:
	case <-time.After(safety):
		t.Fatalf("cancelling the parent did not reach the group's goroutines")
	}
	g.Stop()
}

func TestSuperviseReturnsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		sources.Supervise[int](ctx, emitter{"a"}, tiny, func(snapshot.Update) {})
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("Supervise did not return after cancel")
	}
}

func TestPollNeverOverlaps(t *testing.T) {
	var inFlight, maxInFlight, reads atomic.Int32
	read := func(ctx context.Context) (int, error) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		// Much slower than the interval: a ticker-driven poller would
		// start the next read before this one returns.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		inFlight.Add(-1)
		return int(reads.Add(1)), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var emitted atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- sources.Poll(ctx, time.Microsecond, read, func(sources.Snapshot[int]) {
			if emitted.Add(1) == 8 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Poll returned %v after cancel, want nil", err)
		}
	case <-time.After(safety):
		t.Fatalf("Poll did not finish")
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("up to %d reads were in flight at once, want 1", m)
	}
}

func TestPollEmitsEveryRead(t *testing.T) {
	boom := errors.New("timeout")
	var n atomic.Int32
	read := func(context.Context) (string, error) {
		switch n.Add(1) {
		case 2:
			return "", boom
		default:
			return "ok", nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []sources.Snapshot[string]
	before := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- sources.Poll(ctx, time.Millisecond, read, func(s sources.Snapshot[string]) {
			mu.Lock()
			got = append(got, s)
			if len(got) == 3 {
				cancel()
			}
			mu.Unlock()
		})
	}()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("Poll did not finish")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("got %d snapshots after cancelling on the third", len(got))
	}
	for i, s := range got {
		if s.Seq != uint64(i+1) {
			t.Errorf("snapshot %d Seq = %d", i, s.Seq)
		}
		if s.At.Before(before) {
			t.Errorf("snapshot %d At = %v, before polling started", i, s.At)
		}
	}
	// A failed read is reported, and polling goes on after it.
	if got[0].Err != nil || got[0].Data != "ok" || !errors.Is(got[1].Err, boom) || got[2].Err != nil {
		t.Errorf("snapshots = %+v", got)
	}
}

func TestPollFirstReadAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- sources.Poll(ctx, time.Hour, func(context.Context) (int, error) { return 1, nil },
			func(sources.Snapshot[int]) { close(first) })
	}()
	select {
	case <-first:
	case <-time.After(safety):
		t.Fatalf("with an hour's interval the first read never came")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("Poll sat out its interval instead of returning on cancel")
	}
}

// A read cut short by shutdown has nothing to say; emitting it would show
// a "context canceled" error for a system that is fine.
func TestPollDropsReadCutShortByCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var emitted atomic.Int32
	read := func(ctx context.Context) (int, error) {
		cancel()
		<-ctx.Done()
		return 0, ctx.Err()
	}
	err := sources.Poll(ctx, time.Millisecond, read, func(sources.Snapshot[int]) { emitted.Add(1) })
	if err != nil || emitted.Load() != 0 {
		t.Errorf("Poll = %v with %d snapshots, want nil and none", err, emitted.Load())
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	const staleAfter = 10 * time.Second
	cases := []struct {
		name   string
		u      snapshot.Update
		stale  time.Duration
		state  snapshot.HealthState
		age    time.Duration
		reason string
	}{
		{"waiting", snapshot.Update{Source: "jira"}, staleAfter, snapshot.Waiting, 0, ""},
		{"ok", snapshot.Update{Source: "jira", Seq: 3, GoodAt: now.Add(-2 * time.Second)}, staleAfter, snapshot.OK, 2 * time.Second, ""},
		{"ok at the limit", snapshot.Update{Source: "jira", Seq: 3, GoodAt: now.Add(-staleAfter)}, staleAfter, snapshot.OK, staleAfter, ""},
		{"stale", snapshot.Update{Source: "jira", Seq: 3, GoodAt: now.Add(-30 * time.Second)}, staleAfter, snapshot.Stale, 30 * time.Second, ""},
		{"never stale without a limit", snapshot.Update{Source: "jira", Seq: 3, GoodAt: now.Add(-time.Hour)}, 0, snapshot.OK, time.Hour, ""},
		{"down", snapshot.Update{Source: "jira", Seq: 4, GoodAt: now.Add(-time.Minute),
			Err: errors.New("dial tcp 10.0.0.5:5432:\n\tconnect: connection refused\r\n")},
			staleAfter, snapshot.Down, time.Minute, "dial tcp 10.0.0.5:5432: connect: connection refused"},
		{"down without good data", snapshot.Update{Source: "jira", Seq: 1, Err: errors.New("401 Unauthorized")},
			staleAfter, snapshot.Down, 0, "401 Unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := snapshot.Judge(c.u, now, c.stale)
			if h.Source != "jira" || h.State != c.state || h.Age != c.age || h.Reason != c.reason {
				t.Errorf("Judge = %+v, want state %s age %s reason %q", h, c.state, c.age, c.reason)
			}
		})
	}
}

func TestHealthStateString(t *testing.T) {
	for s, want := range map[snapshot.HealthState]string{
		snapshot.Waiting: "waiting", snapshot.OK: "ok", snapshot.Stale: "stale", snapshot.Down: "down",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"connection refused":                     "connection refused",
		"keeps  double  spaces":                  "keeps  double  spaces",
		"ERROR: deadlock detected\nDETAIL:  x\n": "ERROR: deadlock detected DETAIL: x",
		"a\r\nb\tc":                              "a b c",
	} {
		if got := snapshot.OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClockEmitsTimes(t *testing.T) {
	// Each reading is a nanosecond before a whole second, so the clock's
	// wait for the next second is a nanosecond and the test needs no sleep.
	base := time.Date(2025, 3, 4, 9, 0, 0, 999_999_999, time.UTC)
	var calls atomic.Int64
	c := sources.Clock{Now: func() time.Time { return base.Add(time.Duration(calls.Add(1)-1) * time.Second) }}
	if c.Name() != "clock" {
		t.Errorf("Name = %q", c.Name())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []sources.Snapshot[time.Time]
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(s sources.Snapshot[time.Time]) {
			// With a nanosecond to wait, the next tick can race the cancel.
			if len(got) < 3 {
				got = append(got, s)
			}
			if len(got) == 3 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(safety):
		t.Fatalf("the clock did not tick three times")
	}
	if len(got) != 3 {
		t.Fatalf("got %d ticks", len(got))
	}
	for i, s := range got {
		want := base.Add(time.Duration(i) * time.Second)
		if s.Seq != uint64(i+1) || !s.Data.Equal(want) || !s.At.Equal(want) || s.Err != nil {
			t.Errorf("tick %d = %+v, want Seq %d at %v", i, s, i+1, want)
		}
	}
}

func TestClockRealTime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := time.Now()
	ticks := make(chan sources.Snapshot[time.Time], 1)
	done := make(chan error, 1)
	go func() {
		done <- sources.Clock{}.Run(ctx, func(s sources.Snapshot[time.Time]) {
			select {
			case ticks <- s:
			default:
			}
		})
	}()
	select {
	case s := <-ticks:
		if s.Data.Before(before) || s.Data.After(time.Now()) {
			t.Errorf("first tick %v is not the current time", s.Data)
		}
	case <-time.After(safety):
		t.Fatalf("no first tick")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(safety):
		t.Fatalf("the clock did not stop on cancel")
	}
}

func TestQueryLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"SELECT 1", 100, "SELECT 1"},
		{"-- header\n-- more\nBEGIN;\n  LOCK TABLE t;\nSELECT pg_sleep(45); -- wait\nCOMMIT;", 100, "BEGIN; LOCK TABLE t; SELECT pg_sleep(45); COMMIT;"},
		{"SELECT '--not a comment'  ,  \"a--b\"", 100, "SELECT '--not a comment' , \"a--b\""},
		{"UPDATE appointments SET status = $1", 10, "UPDATE app…"},
		{"SELECT 1", 8, "SELECT 1"},
		{"SELECT 'line one\nline two\x1b]52;c;Zm9v\x07', \"x\u009by\"", 100, "SELECT 'line one line two ]52;c;Zm9v ', \"x y\""},
	} {
		if got := snapshot.QueryLine(c.in, c.n); got != c.want {
			t.Errorf("QueryLine(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// TestOldPodsGoneRemembersACapacityDip: a rollout that dropped below the
// desired ready count fails rollout.old_pods_gone even after it completes;
// a new revision starts afresh, and a steady deployment losing a pod is not
// a dip.
func TestOldPodsGoneRemembersACapacityDip(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	state := func(rev int64, updated, ready int32, old int) snapshot.Rollout {
		return snapshot.Rollout{Deployments: []snapshot.Deployment{{Namespace: "production", Name: "api",
			Desired: 6, Updated: updated, Ready: ready, Revision: rev, OldPods: old}}}
	}
	w := sources.NewCapacityWatch()
	steps := []struct {
		s    snapshot.Rollout
		pass bool
	}{
		{state(1, 0, 0, 0), true},  // a new deployment coming up is no dip
		{state(2, 6, 5, 0), true},  // steady, a pod restarting: not a rollout
		{state(3, 2, 6, 4), false}, // rolling at full strength, old pods left
		{state(3, 4, 4, 2), false}, // capacity dipped
		{state(3, 6, 6, 0), false}, // complete, but the dip is remembered
		{state(4, 6, 6, 0), true},  // the next revision starts afresh
	}
	for i, st := range steps {
		f := w.Observe(st.s, now).Facts()["rollout.old_pods_gone"]
		if f.Bool != st.pass {
			t.Errorf("step %d: old_pods_gone = %v (%s), want %v", i, f.Bool, f.Detail, st.pass)
		}
		if i == 4 && !strings.Contains(f.Detail, "ready fell to 4/6") {
			t.Errorf("step 4 detail %q does not say how far it fell", f.Detail)
		}
	}
}
