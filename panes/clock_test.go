package panes

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// TestAgeChangeIsExact: the text of an age reads the same from now until
// the time ageChange names, and differently there.
func TestAgeChangeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	since := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for range 2000 {
		age := time.Duration(rng.Int64N(int64(3 * time.Hour)))
		now := since.Add(age)
		next := ageChange(now, since)
		if !next.After(now) {
			t.Fatalf("age %s: next change %s is not after now", age, next.Sub(now))
		}
		was := runbook.Short(now.Sub(since))
		for _, probe := range []time.Time{now, now.Add(next.Sub(now) / 2), next.Add(-time.Millisecond)} {
			if got := runbook.Short(probe.Sub(since)); got != was {
				t.Fatalf("age %s reads %q, then %q at %s before the change", age, was, got, next.Sub(probe))
			}
		}
		if got := runbook.Short(next.Sub(since)); got == was {
			t.Fatalf("age %s: still %q at the named change (+%s)", age, was, next.Sub(now))
		}
	}
}
