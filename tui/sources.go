package tui

import (
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sources"
)

// ReachInterval is how often a configured system is probed.
const ReachInterval = 15 * time.Second

// StartSources starts the window clock and one reachability source per
// configured system in the group, all emitting into the relay.
func StartSources(g *sources.Group, cfg *config.Config, day time.Time, r *Relay) {
	sources.Start(g, sources.Clock{}, sources.DefaultBackoff, r.Emit)
	if cfg.Kubernetes != nil {
		// The rollout source's own health says whether the cluster answers.
		sources.Start(g, &sources.Kube{Config: cfg.Kubernetes}, sources.DefaultBackoff, r.Emit)
	}
	if cfg.Postgres != nil {
		// Each target's own reading says whether it answers.
		sources.Start(g, &sources.Postgres{Config: cfg, Day: day}, sources.DefaultBackoff, r.Emit)
	}
	for _, sec := range sources.Sections {
		if !sources.Configured(cfg, sec) || sec == "kubernetes" || sec == "postgres" {
			continue
		}
		src := sources.Reachability{Config: cfg, Section: sec, Interval: ReachInterval, Day: day}
		sources.Start(g, src, sources.DefaultBackoff, r.Emit)
	}
}
