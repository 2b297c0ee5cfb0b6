package sources

import (
	"fmt"
	"regexp"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// NewErrorRule compiles the rule of a validated [sentry] section. The
// defaults are the ones config documents: a 60 m baseline, 3×, 10 a minute,
// 3 intervals in a row.
func NewErrorRule(s *config.Sentry) (snapshot.ErrorRule, error) {
	r := snapshot.ErrorRule{
		Baseline: s.Baseline.D(), Factor: s.SpikeFactor, Floor: s.SpikeFloor,
		Intervals: s.SpikeIntervals, Interval: time.Minute,
	}
	if r.Baseline <= 0 {
		r.Baseline = 60 * time.Minute
	}
	if r.Factor <= 1 {
		r.Factor = 3
	}
	if r.Floor < 0 {
		r.Floor = 10
	}
	if r.Intervals < 1 {
		r.Intervals = 3
	}
	for i, pat := range s.Ignore {
		re, err := regexp.Compile(pat)
		if err != nil {
			return r, fmt.Errorf("sentry.ignore[%d]: %w", i, err)
		}
		r.Ignore = append(r.Ignore, re)
	}
	return r, nil
}
