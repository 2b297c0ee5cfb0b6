package engine

import (
	"context"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// BenchmarkFanOut: 50 views on one engine while the rollout source emits
// 10,000 pod events a second for two seconds. Reports the p99 delay from an
// event to a view receiving a batch with it (newest wins: a batch carries
// the newest snapshot), and the process's CPU over the run as a share of a
// core (the views' goroutines included, though they only read).
func BenchmarkFanOut(b *testing.B) {
	const views, perSecond, seconds = 50, 10000, 2
	for range b.N {
		h := quietEngine(b)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var delays []time.Duration
		var wg sync.WaitGroup
		for i := range views {
			ch := h.e.Subscribe(ctx, view.Viewer{Name: "viewer", ReadOnly: i > 0})
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				for batch := range ch {
					now := time.Now()
					for _, u := range batch.Updates {
						if at, ok := u.Data.(time.Time); ok && u.Source == "bench" {
							local = append(local, now.Sub(at))
						}
					}
				}
				mu.Lock()
				delays = append(delays, local...)
				mu.Unlock()
			}()
		}
		cpu0 := cpuTime()
		start := time.Now()
		tick := time.NewTicker(time.Millisecond)
		sent := 0
		for sent < perSecond*seconds {
			<-tick.C
			// Catch up to the rate: as many events as are due by now.
			due := int(time.Since(start).Seconds() * perSecond)
			for ; sent < due && sent < perSecond*seconds; sent++ {
				h.e.in.Emit(snapshot.Update{Source: "bench", Seq: uint64(sent + 1), At: time.Now(), Data: time.Now()})
			}
		}
		tick.Stop()
		time.Sleep(3 * Frame)
		elapsed := time.Since(start)
		cpu := cpuTime() - cpu0
		cancel()
		wg.Wait()
		if len(delays) == 0 {
			b.Fatal("no view received an event")
		}
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "%core")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
