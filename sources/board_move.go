package sources

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
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
func MoveCards(b Board, moves []config.JiraMove) []string {
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
func inTarget(b Board, c Card, to string) bool {
	col, ok := b.Column(to)
	return ok && c.StatusID != "" && slices.Contains(col.StatusIDs, c.StatusID)
}

// PlanMoves works out, for each move, every card in its from columns and the
// transition that takes it to the move's to column: the one whose target
// status is in that column (by id, or by name when the board gives none).
// transitions gives a card's available transitions, or why they could not
// be read. A card without such a transition is a step with a Problem, never
// left out; a card already in the target column is not moved again, so
// planning after a completed move yields nothing to do.
func PlanMoves(b Board, moves []config.JiraMove, transitions func(key string) ([]JiraTransition, error)) []MovePlan {
	var plans []MovePlan
	seen := map[string]bool{}
	for _, m := range moves {
		p := MovePlan{To: m.To, From: m.From}
		target, haveTarget := b.Column(m.To)
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
				p.Steps = append(p.Steps, planStep(c, col.Name, m.To, target, haveTarget, transitions))
			}
		}
		plans = append(plans, p)
	}
	return plans
}

// PlanCardMove plans moving the one card key to column to.
func PlanCardMove(b Board, key, to string, transitions func(key string) ([]JiraTransition, error)) (MoveStep, error) {
	ci, ki, ok := b.Find(key)
	if !ok {
		return MoveStep{}, fmt.Errorf("%s is not on the board (any more): refresh and look again", key)
	}
	col := b.Columns[ci]
	c := col.Cards[ki]
	if strings.EqualFold(col.Name, to) || inTarget(b, c, to) {
		return MoveStep{Key: c.Key, Summary: c.Summary, From: col.Name, To: to, Problem: "already in " + to}, nil
	}
	target, haveTarget := b.Column(to)
	return planStep(c, col.Name, to, target, haveTarget, transitions), nil
}

func planStep(c Card, from, to string, target BoardColumn, haveTarget bool, transitions func(string) ([]JiraTransition, error)) MoveStep {
	st := MoveStep{Key: c.Key, Summary: c.Summary, From: from, To: to}
	if !haveTarget {
		st.Problem = fmt.Sprintf("there is no column %q on the board", to)
		return st
	}
	ts, err := transitions(c.Key)
	if err != nil {
		st.Problem = "cannot read its transitions: " + OneLine(err.Error())
		return st
	}
	for _, t := range ts {
		if len(target.StatusIDs) > 0 && slices.Contains(target.StatusIDs, t.ToID) ||
			len(target.StatusIDs) == 0 && strings.EqualFold(t.ToName, target.Name) {
			st.TransitionID, st.TransitionName = t.ID, t.Name
			return st
		}
	}
	// A board whose column ids were not given may still name statuses
	// like its columns; try the name before giving up.
	for _, t := range ts {
		if strings.EqualFold(t.ToName, target.Name) {
			st.TransitionID, st.TransitionName = t.ID, t.Name
			return st
		}
	}
	var avail []string
	for _, t := range ts {
		avail = append(avail, fmt.Sprintf("%s → %s", t.Name, t.ToName))
	}
	if len(avail) == 0 {
		st.Problem = fmt.Sprintf("the workflow offers %s no transition from %s at all", c.Key, c.Status)
	} else {
		st.Problem = fmt.Sprintf("no transition from %s to %s (it offers %s)", c.Status, to, strings.Join(avail, "; "))
	}
	return st
}
