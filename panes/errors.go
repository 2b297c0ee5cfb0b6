package panes

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// NewErrors is the Sentry error-rate pane.
func NewErrors(cfg *config.Config, th theme.Theme) *SourcePane {
	v := SourceView{Number: 5, Title: "Errors", Section: "sentry", ConfigPath: cfg.Path,
		Explain: "errors per minute against the pre-deploy baseline, and new issues"}
	if s := cfg.Sentry; s != nil {
		v.Configured = true
		env := s.Environment
		if env == "" {
			env = "all environments"
		}
		v.Scope = append(v.Scope,
			fmt.Sprintf("org %s, projects %s, %s", s.Org, strings.Join(s.Projects, ", "), env),
			fmt.Sprintf("baseline: the %s before the deploy", s.Baseline),
			fmt.Sprintf("spike: over %g× baseline and %g/min for %d minutes", s.SpikeFactor, s.SpikeFloor, s.SpikeIntervals))
		for _, ig := range s.Ignore {
			v.Scope = append(v.Scope, "ignored: "+ig)
		}
	}
	return &SourcePane{Data: v, th: th}
}
