package panes

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// NewJira is the board pane: columns, cards, and what is merged where.
func NewJira(cfg *config.Config, th theme.Theme) *SourcePane {
	v := SourceView{Number: 4, Title: "Jira", Section: "jira", ConfigPath: cfg.Path,
		Explain: "the board's columns and cards, checked against git"}
	if j := cfg.Jira; j != nil {
		v.Configured = true
		v.Scope = append(v.Scope, fmt.Sprintf("board %d, project %s", j.Board, j.Project))
		for _, c := range j.Columns {
			var rules []string
			if c.MergedTo != "" {
				rules = append(rules, "merged to "+c.MergedTo)
			}
			if c.NotMergedTo != "" {
				rules = append(rules, "not merged to "+c.NotMergedTo)
			}
			if c.CheckRelease {
				rules = append(rules, "release matches")
			}
			if c.NoBlockers {
				rules = append(rules, "no blockers")
			}
			line := c.Name
			if len(rules) > 0 {
				line += ": " + strings.Join(rules, ", ")
			}
			v.Scope = append(v.Scope, line)
		}
		for _, m := range j.Moves {
			v.Scope = append(v.Scope, "after deploy: "+strings.Join(m.From, ", ")+" → "+m.To)
		}
	}
	return &SourcePane{Data: v, th: th}
}
