package sources

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// MoveStep is one card a move will take, and how.
type MoveStep struct {
	Key, Summary string
	From, To     string // column names
	// TransitionID and TransitionName are the transition that reaches To;
	// empty when Problem says why there is none.
	TransitionID, TransitionName string
	Problem                      string
}

// MovePlan is one [[jira.move]] worked out against the board.
type MovePlan struct {
	To    string
	From  []string
	Steps []MoveStep
}

// Problems counts the steps that cannot be taken.
func (p MovePlan) Problems() int {
	n := 0
	for _, s := range p.Steps {
		if s.Problem != "" {
			n++
		}
	}
	return n
}

// SelectMoves picks the moves a jira.move step's args.move names: "" for
// all of them, a number from 0, or a to column.
func SelectMoves(moves []config.JiraMove, which string) ([]config.JiraMove, error) {
	which = strings.TrimSpace(which)
	if which == "" {
		return moves, nil
	}
	if n, err := strconv.Atoi(which); err == nil {
		if n < 0 || n >= len(moves) {
			return nil, fmt.Errorf("there is no [[jira.move]] number %d: they are numbered from 0 and there are %d", n, len(moves))
		}
		return moves[n : n+1], nil
	}
	var out []config.JiraMove
	for _, m := range moves {
		if strings.EqualFold(m.To, which) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no [[jira.move]] goes to %q", which)
	}
	return out, nil
}

// MoveCards lists the cards the moves would take, in plan order: the keys
// whose transitions a planner needs. A card named by two moves goes with
// the first.
func MoveCards(b snapshot.Board, moves []config.JiraMove) []string {
	var keys []string
	seen := map[string]bool{}
	for _, m := range moves {
		for _, from := range m.From {
			col, ok := b.Column(from)
			if !ok {
				continue
			}
			for _, c := range col.Cards {
				if !seen[c.Key] && !inTarget(b, c, m.To) {
					seen[c.Key] = true
					keys = append(keys, c.Key)
				}
			}
		}
	}
	return keys
}

// inTarget reports whether card already sits in a status of column to, as
// when two columns share a status: moving it again would change nothing.
func inTarget(b snapshot.Board, c snapshot.Card, to string) bool {
	col, ok := b.Column(to)
	return ok && c.StatusID != "" && slices.Contains(col.StatusIDs, c.StatusID)
}

// PlanMoves works out, for each move, every card in its from columns and the
// transition that takes it to the move's to column: one whose target status
// id is among the statuses the board configuration lists for that column.
// Names are never compared: a column's name need not be its statuses', and
// a status named like a column may be on no column at all, where a card
// moved to it would silently leave the board. transitions gives a card's
// available transitions, or why they could not be read. A card without
// such a transition is a step with a Problem naming what the workflow does
// offer, never left out; a card already in the target column is not moved
// again, so planning after a completed move yields nothing to do.
func PlanMoves(b snapshot.Board, moves []config.JiraMove, transitions func(key string) ([]JiraTransition, error)) []MovePlan {
	var plans []MovePlan
	seen := map[string]bool{}
	for _, m := range moves {
		p := MovePlan{To: m.To, From: m.From}
		for _, from := range m.From {
			col, ok := b.Column(from)
			if !ok {
				continue
			}
			for _, c := range col.Cards {
				if seen[c.Key] || inTarget(b, c, m.To) {
					continue
				}
				seen[c.Key] = true
				p.Steps = append(p.Steps, planStep(b, c, col.Name, m.To, transitions))
			}
		}
		plans = append(plans, p)
	}
	return plans
}

// PlanCardMove plans moving the one card key to column to.
func PlanCardMove(b snapshot.Board, key, to string, transitions func(key string) ([]JiraTransition, error)) (MoveStep, error) {
	ci, ki, ok := b.Find(key)
	if !ok {
		return MoveStep{}, fmt.Errorf("%s is not on the board (any more): refresh and look again", key)
	}
	col := b.Columns[ci]
	c := col.Cards[ki]
	if strings.EqualFold(col.Name, to) || inTarget(b, c, to) {
		return MoveStep{Key: c.Key, Summary: c.Summary, From: col.Name, To: to, Problem: "already in " + to}, nil
	}
	return planStep(b, c, col.Name, to, transitions), nil
}

func planStep(b snapshot.Board, c snapshot.Card, from, to string, transitions func(string) ([]JiraTransition, error)) MoveStep {
	st := MoveStep{Key: c.Key, Summary: c.Summary, From: from, To: to}
	target, ok := b.Column(to)
	if !ok {
		st.Problem = fmt.Sprintf("there is no column %q on the board", to)
		return st
	}
	if len(target.StatusIDs) == 0 {
		st.Problem = fmt.Sprintf("column %s has no status mapped to it on the board, so no transition can reach it", target.Name)
		return st
	}
	ts, err := transitions(c.Key)
	if err != nil {
		st.Problem = "cannot read its transitions: " + snapshot.OneLine(err.Error())
		return st
	}
	// The column's first status is the one Jira's own board moves a card
	// to, so it is preferred when several are reachable.
	for _, id := range target.StatusIDs {
		for _, t := range ts {
			if t.ToID == id {
				st.TransitionID, st.TransitionName = t.ID, t.Name
				return st
			}
		}
	}
	status := c.Status
	if status == "" {
		status = "status " + c.StatusID
	}
	if len(ts) == 0 {
		st.Problem = fmt.Sprintf("the workflow offers %s no transition from %s at all", c.Key, status)
		return st
	}
	var avail []string
	for _, t := range ts {
		where := "on no column"
		if i := columnOf(b, t.ToID); i >= 0 {
			where = "column " + b.Columns[i].Name
		}
		avail = append(avail, fmt.Sprintf("%s → %s (%s, %s)", t.Name, t.ToName, t.ToID, where))
	}
	holds := "status " + target.StatusIDs[0]
	if len(target.StatusIDs) > 1 {
		holds = "statuses " + strings.Join(target.StatusIDs, ", ")
	}
	st.Problem = fmt.Sprintf("no transition from %s reaches %s, which holds %s; it offers %s",
		status, target.Name, holds, strings.Join(avail, "; "))
	return st
}

// columnOf is the index of b's column holding status id, or -1.
func columnOf(b snapshot.Board, id string) int {
	return slices.IndexFunc(b.Columns, func(c snapshot.BoardColumn) bool { return slices.Contains(c.StatusIDs, id) })
}
