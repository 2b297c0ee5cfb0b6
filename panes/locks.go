package panes

import (
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// NewLocks is the database locks pane: who blocks whom, for how long.
func NewLocks(cfg *config.Config, th theme.Theme) *SourcePane {
	v := SourceView{Number: 3, Title: "DB locks", Section: "postgres", ConfigPath: cfg.Path,
		Explain: "who blocks whom in Postgres and for how long"}
	if p := cfg.Postgres; p != nil {
		v.Configured = true
		for _, t := range p.Targets {
			v.Scope = append(v.Scope, "target "+t.Name)
		}
		v.Scope = append(v.Scope,
			"waits and holds over "+p.LockThreshold.String()+" flagged",
			"queries over "+p.LongQuery.String()+" listed as long-running",
			"read every "+p.Poll.String())
	}
	return &SourcePane{Data: v, th: th}
}
