package snapshot

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// FlagKind is which of a column's rules a card breaks.
type FlagKind string

const (
	FlagMerged   FlagKind = "merged"   // merged to a branch it must not be on yet
	FlagUnmerged FlagKind = "unmerged" // not merged to a branch it must be on
	FlagRelease  FlagKind = "release"  // wrong or missing fix version
	FlagSprint   FlagKind = "sprint"   // wrong or missing sprint
	FlagBlocker  FlagKind = "blocker"  // a blocker where none may be
	FlagMissing  FlagKind = "missing"  // Jira left out a field a rule needs
)

// CardFlag is one broken rule, in words for the card.
type CardFlag struct {
	Kind FlagKind
	Text string // "already merged to master"
}

// Card is one issue on the board, with what is wrong with it.
type Card struct {
	Key, Summary     string
	Status, StatusID string
	Priority         string
	Assignee         string
	Labels           []string
	FixVersions      []string
	// Sprint is the card's current sprint: the active one, else a future
	// one, else the last closed one.
	Sprint      string
	SprintState string
	// Branches are the deploy branches whose history names the card; nil
	// when git was not read.
	Branches []string
	Flags    []CardFlag
}

// BoardColumn is a column of the board, its rules from config and its cards
// in rank order.
type BoardColumn struct {
	Name      string
	StatusIDs []string
	Rules     ColumnRules // zero when the column is not in config
	Cards     []Card
}

// ReleaseTarget is what check_release columns must carry: the fix version
// and sprint from [jira], with their template variables expanded for the
// deploy day. An empty field is not checked.
type ReleaseTarget struct {
	FixVersion string
	Sprint     string
}

// Board is one reading of the board, checked against git.
type Board struct {
	ID      int
	Name    string
	Columns []BoardColumn
	Target  ReleaseTarget
	// Git is the clone's state the merge rules were checked against; nil
	// when there is none.
	Git   *GitInfo
	GitAt time.Time // when Git was read
	// GitErr is set when reading git failed this time; Git then holds the
	// last good reading, if any.
	GitErr error
	// MergeUnchecked is set when some column has merged_to / not_merged_to
	// rules but there was no git data to check them against.
	MergeUnchecked bool
	// Unplaced are the issues the search returned that no column holds:
	// Jira left out their status, or their status is on no column. Their
	// rules were not checked.
	Unplaced []UnplacedIssue
	// Problems are board-wide: columns in config the board does not have,
	// and the unplaced issues, in words.
	Problems []string
	At       time.Time
}

// UnplacedIssue is an issue the board could not put in a column, and why.
type UnplacedIssue struct {
	Key, Summary string
	Why          string
}

// Flagged is a card that needs attention and the column it is in.
type Flagged struct {
	Column string
	Card   Card
}

// Cards counts every card on the board.
func (b Board) Cards() int {
	n := 0
	for _, c := range b.Columns {
		n += len(c.Cards)
	}
	return n
}

// Flagged lists the cards that break a rule, column by column.
func (b Board) Flagged() []Flagged {
	var out []Flagged
	for _, col := range b.Columns {
		for _, c := range col.Cards {
			if len(c.Flags) > 0 {
				out = append(out, Flagged{Column: col.Name, Card: c})
			}
		}
	}
	return out
}

// Find returns the column and position of the card with key.
func (b Board) Find(key string) (col, idx int, ok bool) {
	for i, c := range b.Columns {
		for j, card := range c.Cards {
			if strings.EqualFold(card.Key, key) {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// Column returns the column named name (case-insensitively).
func (b Board) Column(name string) (BoardColumn, bool) {
	for _, c := range b.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return BoardColumn{}, false
}

var flagOrder = []FlagKind{FlagMerged, FlagUnmerged, FlagRelease, FlagSprint, FlagBlocker, FlagMissing}

var flagWords = map[FlagKind]string{
	FlagMerged: "already merged", FlagUnmerged: "not merged", FlagRelease: "wrong fix version",
	FlagSprint: "wrong sprint", FlagBlocker: "blocker", FlagMissing: "unchecked",
}

// Summary is the one line saying what needs attention.
func (b Board) Summary() string {
	total := b.Cards()
	flagged := b.Flagged()
	counts := map[FlagKind]int{}
	for _, f := range flagged {
		for _, fl := range f.Card.Flags {
			counts[fl.Kind]++
		}
	}
	var parts []string
	for _, k := range flagOrder {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, flagWords[k]))
		}
	}
	var s string
	switch {
	case len(flagged) == 0:
		s = fmt.Sprintf("%d cards, all clean", total)
	case len(flagged) == 1:
		s = fmt.Sprintf("1 of %d cards needs attention: %s", total, strings.Join(parts, ", "))
	default:
		s = fmt.Sprintf("%d of %d cards need attention: %s", len(flagged), total, strings.Join(parts, ", "))
	}
	if n := len(b.Unplaced); n > 0 {
		s += fmt.Sprintf("; %s on no column", cardCount(n, "issue"))
	}
	if b.MergeUnchecked {
		s += "; merge rules unchecked (no git data)"
	}
	return s
}

func cardCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Facts publishes jira.columns_clean, and git.branches_in_sync when the
// board carries a fresh reading of git. A board whose merge rules could not
// be checked, or whose git reading failed, leaves the gate unknown: it must
// not pass on a check that was not made.
func (b Board) Facts() gates.Facts {
	f := gates.Facts{}
	if b.Git != nil && b.GitErr == nil {
		for k, v := range b.Git.Facts() {
			f[k] = v
		}
	}
	hasMergeRules := false
	for _, c := range b.Columns {
		hasMergeRules = hasMergeRules || c.Rules.MergedTo != "" || c.Rules.NotMergedTo != ""
	}
	switch {
	case b.MergeUnchecked:
		why := "no [git] section"
		if b.GitErr != nil {
			why = "git: " + OneLine(b.GitErr.Error())
		}
		f["jira.columns_clean"] = gates.Fact{Detail: "merge rules not checked: " + why}
		return f
	case hasMergeRules && b.GitErr != nil:
		f["jira.columns_clean"] = gates.Fact{Detail: "git: " + OneLine(b.GitErr.Error())}
		return f
	case len(b.Unplaced) > 0:
		f["jira.columns_clean"] = gates.Fact{Detail: b.unplacedLine()}
		return f
	}
	flagged := b.Flagged()
	detail := fmt.Sprintf("%d cards clean", b.Cards())
	if len(flagged) > 0 {
		var items []string
		for i, fl := range flagged {
			if i == 5 {
				items = append(items, fmt.Sprintf("+%d more", len(flagged)-i))
				break
			}
			items = append(items, fl.Card.Key+" "+fl.Card.Flags[0].Text)
		}
		detail = fmt.Sprintf("%d of %d cards flagged: %s", len(flagged), b.Cards(), strings.Join(items, ", "))
	}
	f["jira.columns_clean"] = gates.Fact{Known: true, Bool: len(flagged) == 0, Detail: detail}
	return f
}

// BoardRules are what a board is checked against: the [jira] section's
// columns and what makes a card a blocker.
type BoardRules struct {
	Board             int           // the board's id, for messages
	Columns           []ColumnRules // in config order
	BlockerPriorities []string
	BlockerLabels     []string
}

// ColumnRules are one [[jira.column]]'s rules.
type ColumnRules struct {
	Name         string
	MergedTo     string // its cards must be merged to this branch
	NotMergedTo  string // its cards must not be merged to this branch yet
	CheckRelease bool   // its cards carry the release's fix version and sprint
	NoBlockers   bool   // none of its cards is a blocker
}

// BuildBoard lays the issues out in the board's columns and checks every
// card against its column's rules: merged_to and not_merged_to
// against git (nil when there is none), check_release against target, and
// no_blockers against the blocker labels and priorities. Columns are
// matched to config by name, case-insensitively.
func BuildBoard(rules BoardRules, target ReleaseTarget, bc JiraBoardConfig, issues []JiraIssue, git *GitInfo, now time.Time) Board {
	b := Board{ID: bc.ID, Name: bc.Name, Target: target, Git: git, At: now}
	for _, cc := range rules.Columns {
		if !slices.ContainsFunc(bc.Columns, func(c JiraBoardColumn) bool { return strings.EqualFold(c.Name, cc.Name) }) {
			b.Problems = append(b.Problems, fmt.Sprintf("column %q of the config is not on board %d: check [[jira.column]] names", cc.Name, rules.Board))
		}
	}
	byStatus := map[string]int{}
	for i, c := range bc.Columns {
		col := BoardColumn{Name: c.Name, StatusIDs: c.StatusIDs}
		for _, cc := range rules.Columns {
			if strings.EqualFold(cc.Name, c.Name) {
				col.Rules = cc
			}
		}
		if git == nil && (col.Rules.MergedTo != "" || col.Rules.NotMergedTo != "") {
			b.MergeUnchecked = true
		}
		for _, id := range c.StatusIDs {
			if _, dup := byStatus[id]; !dup {
				byStatus[id] = i
			}
		}
		b.Columns = append(b.Columns, col)
	}
	// Placed by status id alone, as Jira's own board does: a column's name
	// need not be any of its statuses' names.
	for _, is := range issues {
		i, ok := byStatus[is.StatusID]
		if !ok {
			why := "Jira's answer has no status for it"
			if is.StatusID != "" {
				// The search asks only for the board's statuses, but the
				// index it runs on may lag the issue it returns.
				why = fmt.Sprintf("its status %s (%s) is on no column", cmp.Or(is.Status, "?"), is.StatusID)
			}
			b.Unplaced = append(b.Unplaced, UnplacedIssue{Key: is.Key, Summary: Printable(OneLine(is.Summary)), Why: why})
			continue
		}
		col := &b.Columns[i]
		col.Cards = append(col.Cards, checkCard(rules, target, col.Rules, is, git))
	}
	if len(b.Unplaced) > 0 {
		b.Problems = append(b.Problems, b.unplacedLine())
	}
	return b
}

// unplacedLine says which issues are on no column and why, naming the
// first few.
func (b Board) unplacedLine() string {
	var items []string
	for i, u := range b.Unplaced {
		if i == 5 {
			items = append(items, fmt.Sprintf("+%d more", len(b.Unplaced)-i))
			break
		}
		items = append(items, u.Key+" ("+u.Why+")")
	}
	return fmt.Sprintf("%s on no column, rules not checked: %s", cardCount(len(b.Unplaced), "issue"), strings.Join(items, ", "))
}

func checkCard(board BoardRules, target ReleaseTarget, rules ColumnRules, is JiraIssue, git *GitInfo) Card {
	c := Card{
		Key: is.Key, Summary: Printable(OneLine(is.Summary)), Status: is.Status, StatusID: is.StatusID,
		Priority: is.Priority, Assignee: is.Assignee, Labels: is.Labels, FixVersions: is.FixVersions,
	}
	c.Sprint, c.SprintState = currentSprint(is.Sprints)
	flag := func(k FlagKind, format string, args ...any) {
		c.Flags = append(c.Flags, CardFlag{Kind: k, Text: fmt.Sprintf(format, args...)})
	}
	if git != nil {
		c.Branches = git.Where(strings.ToUpper(is.Key))
		if c.Branches == nil {
			c.Branches = []string{}
		}
		if b := rules.NotMergedTo; b != "" && git.Branch(b) != nil && slices.Contains(c.Branches, b) {
			flag(FlagMerged, "already merged to %s", b)
		}
		if b := rules.MergedTo; b != "" && git.Branch(b) != nil && !slices.Contains(c.Branches, b) {
			if len(c.Branches) == 0 {
				flag(FlagUnmerged, "not merged to %s (on no deploy branch)", b)
			} else {
				flag(FlagUnmerged, "not merged to %s (only on %s)", b, strings.Join(c.Branches, ", "))
			}
		}
	}
	missing := func(name string) bool { return slices.Contains(is.Missing, name) }
	if rules.CheckRelease {
		if want := target.FixVersion; want != "" && missing("fixVersions") {
			flag(FlagMissing, "fix version not checked: Jira's answer has no fix versions for it")
		} else if want != "" && !foldIn(is.FixVersions, want) {
			if len(is.FixVersions) == 0 {
				flag(FlagRelease, "no fix version, want %s", want)
			} else {
				flag(FlagRelease, "fix version %s, want %s", strings.Join(is.FixVersions, ", "), want)
			}
		}
		switch want := target.Sprint; {
		case want != "" && missing("sprint"):
			flag(FlagMissing, "sprint not checked: Jira's answer has no sprint field (set [jira] sprint_field to the site's sprint field id)")
		case want != "":
			if !slices.ContainsFunc(is.Sprints, func(s JiraSprint) bool { return strings.EqualFold(s.Name, want) }) {
				if c.Sprint == "" {
					flag(FlagSprint, "in no sprint, want %s", want)
				} else {
					flag(FlagSprint, "sprint %s, want %s", c.Sprint, want)
				}
			}
		case len(is.Sprints) > 0 && c.SprintState == "closed":
			// With no sprint configured the rule is the board's own: work
			// being deployed belongs to an open sprint, not one closed
			// without it.
			flag(FlagSprint, "only in closed sprint %s", c.Sprint)
		}
	}
	if rules.NoBlockers {
		if missing("priority") || missing("labels") {
			flag(FlagMissing, "blockers not fully checked: Jira's answer has no %s for it", strings.Join(slices.DeleteFunc([]string{"priority", "labels"}, func(n string) bool { return !missing(n) }), " or "))
		}
		var why []string
		if is.Priority != "" && foldIn(board.BlockerPriorities, is.Priority) {
			why = append(why, "priority "+is.Priority)
		}
		for _, l := range is.Labels {
			if foldIn(board.BlockerLabels, l) {
				why = append(why, "label "+l)
			}
		}
		if len(why) > 0 {
			flag(FlagBlocker, "blocker: %s", strings.Join(why, ", "))
		}
	}
	return c
}

func currentSprint(sprints []JiraSprint) (name, state string) {
	for _, want := range []string{"active", "future"} {
		for _, s := range sprints {
			if s.State == want {
				return s.Name, s.State
			}
		}
	}
	if len(sprints) > 0 {
		s := sprints[len(sprints)-1]
		return s.Name, s.State
	}
	return "", ""
}

func foldIn(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
