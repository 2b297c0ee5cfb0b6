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
		r.Columns = append(r.Columns, ColumnRules(c))
	}
	return r
}

// ColumnRules are one [[jira.column]]'s rules.
func ColumnRules(c config.JiraColumn) snapshot.ColumnRules {
	return snapshot.ColumnRules{Name: c.Name, MergedTo: c.MergedTo, NotMergedTo: c.NotMergedTo, CheckRelease: c.CheckRelease, NoBlockers: c.NoBlockers}
}
