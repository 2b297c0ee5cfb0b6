package engine

import (
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sources"
)

// buildSmoke makes the [[smoke]] source, told the deploy's start if the
// journal already has it.
func (e *Engine) buildSmoke() {
	if len(e.cfg.Smoke) == 0 {
		return
	}
	s, err := sources.NewSmoke(e.cfg.Smoke, e.vars, sources.SmokeOptions{})
	if err != nil {
		e.opts.Log.Warn("smoke source", "err", err)
		return
	}
	e.smoke = s
	e.smoke.SetStarted(e.rb.Started)
}

// startSmoke runs the smoke source in g; it idles until the deploy starts.
func (e *Engine) startSmoke(g *sources.Group) {
	if e.smoke != nil {
		sources.Start(g, e.smoke, sources.DefaultBackoff, e.in.Emit)
	}
}

// smokeFollows starts the checks when the journal records the deploy's
// start: they run from then on. Called with e.mu held, after the runbook
// took rec.
func (e *Engine) smokeFollows(rec journal.Record) {
	if e.smoke != nil && rec.Type == runbook.RecDeployStart {
		e.smoke.SetStarted(e.rb.Started)
	}
}
