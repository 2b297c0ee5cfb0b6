package sources

import (
	"context"
	"time"
)

// Clock is the window clock: it emits the current time once a second, on the
// second, so the time left in the deploy window ticks over in step with a
// wall clock on the call.
type Clock struct {
	Now func() time.Time // nil uses time.Now
}

// Name implements Source.
func (Clock) Name() string { return "clock" }

// Run implements Source.
func (c Clock) Run(ctx context.Context, emit func(Snapshot[time.Time])) error {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	var seq uint64
	for {
		t := now()
		seq++
		emit(Snapshot[time.Time]{Seq: seq, At: t, Data: t})
		wait := time.Second - time.Duration(t.Nanosecond())
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}
