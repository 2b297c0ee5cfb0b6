package sources

import (
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// BoardRules are the rules of a validated [jira] section, as the board is
// checked against them.
func BoardRules(j *config.Jira) snapshot.BoardRules {
	r := snapshot.BoardRules{Board: j.Board, BlockerPriorities: j.BlockerPriorities, BlockerLabels: j.BlockerLabels}
	for _, c := range j.Columns {
		r.Columns = append(r.Columns, snapshot.ColumnRules(c)) // the same fields, without the TOML tags
	}
	return r
}
