package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Rehearsal tunes flightdeck rehearse, which drives the runbook unattended
// (against a sandbox or staging), and how much history the learned
// estimates take.
type Rehearsal struct {
	// GateTimeout is how long a rehearsal waits for a gate to pass before
	// the step fails. Default 2m; --gate-timeout overrides it.
	GateTimeout Duration `toml:"gate_timeout"`
	// History is how many past runs of a step (rehearsals and real
	// deploys) its learned estimate is the median of. Default 5.
	History int `toml:"history"`
	// Skip are the steps a rehearsal skips, each with the reason the
	// journal keeps: known-red gates of a stand-in world, as the cockpit's
	// skip with a reason.
	Skip []RehearsalSkip `toml:"skip"`
}

// RehearsalSkip is one step a rehearsal skips, and why.
type RehearsalSkip struct {
	Step   string `toml:"step"`
	Reason string `toml:"reason"`
}

// Defaults of [rehearsal].
const (
	DefaultGateTimeout = 2 * time.Minute
	DefaultHistory     = 5
)

// RehearsalOrDefault is [rehearsal] as written, with defaults for what it
// leaves out, or the defaults alone without the section.
func (c *Config) RehearsalOrDefault() Rehearsal {
	if c.Rehearsal != nil {
		return *c.Rehearsal
	}
	return Rehearsal{GateTimeout: Duration(DefaultGateTimeout), History: DefaultHistory}
}

func (l *loader) validateRehearsal() {
	r := l.cfg.Rehearsal
	if r == nil {
		return
	}
	l.duration("rehearsal.gate_timeout", &r.GateTimeout, DefaultGateTimeout)
	switch {
	case l.isBad("rehearsal.history"):
	case !l.ix.has("rehearsal.history"):
		r.History = DefaultHistory
	case r.History < 1 || r.History > 100:
		l.errVal("rehearsal.history", fmt.Sprintf("history must be from 1 to 100 runs, not %d", r.History), fmt.Sprintf("remove it for the default of %d", DefaultHistory))
	}
	var ids []string
	for _, s := range l.cfg.Steps() {
		ids = append(ids, s.ID)
	}
	seen := map[string]bool{}
	for i, sk := range r.Skip {
		path := fmt.Sprintf("rehearsal.skip[%d]", i)
		if l.required(path+".step", strings.TrimSpace(sk.Step) == "", `step = "pre/jira-columns"`) {
			switch {
			case !slices.Contains(ids, sk.Step):
				hint := "name a step by its id"
				if sug := gates.Suggest(sk.Step, ids); sug != "" {
					hint = fmt.Sprintf("did you mean %q?", sug)
				}
				l.errVal(path+".step", fmt.Sprintf("no step has the id %q", sk.Step), hint)
			case seen[sk.Step]:
				l.errVal(path+".step", fmt.Sprintf("%q is skipped twice", sk.Step), "keep one skip per step")
			}
			seen[sk.Step] = true
		}
		// The reason is the journal's record of why the rehearsal did not
		// prove this step: without one, the skip says nothing.
		l.required(path+".reason", strings.TrimSpace(sk.Reason) == "", `reason = "the Jira stand-in is seeded with four inconsistencies"`)
	}
}
