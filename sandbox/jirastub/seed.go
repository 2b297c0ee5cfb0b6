package jirastub

import (
	"fmt"
	"slices"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// Columns of the board, left to right.
const (
	ColumnInProgress     = "In Progress"
	ColumnCodeReview     = "Code Review"
	ColumnMergedToMaster = "Merged to Master"
	ColumnStaging        = "Staging"
	ColumnQAHold         = "QA Hold"
	ColumnTestingForProd = "Testing For Production"
	ColumnProduction     = "Production"
)

// Statuses of the team's workflow. The board maps them to columns by id, as
// Jira's board configuration does (Jira Software REST API, Get board
// configuration): a column may hold several statuses, and a column's name
// need not be its statuses' names. Each Status constant is named for the
// column that holds it.
const (
	StatusInProgress     = "In Progress" // In Progress column
	StatusReopened       = "Reopened"    // In Progress column too
	StatusCodeReview     = "In Review"   // Code Review column
	StatusMergedToMaster = "Merged"      // Merged to Master column
	StatusStaging        = "Staging"
	StatusQAHold         = "QA Hold"
	StatusWaitingForQA   = "Waiting for QA" // QA Hold column too
	StatusTestingForProd = "Testing For Production"
	StatusProduction     = "Released" // Production column
	// StatusOffBoard is named like the Production column, but no column of
	// this board holds it: it belongs to the operations team's board. The
	// workflow offers a transition to it from every deploy column, so a
	// client matching transitions by status name files cards into it, off
	// the board.
	StatusOffBoard = "Production"
)

// boardColumns are the columns and the statuses each holds, in order.
var boardColumns = []struct {
	name     string
	statuses []string
}{
	{ColumnInProgress, []string{StatusInProgress, StatusReopened}},
	{ColumnCodeReview, []string{StatusCodeReview}},
	{ColumnMergedToMaster, []string{StatusMergedToMaster}},
	{ColumnStaging, []string{StatusStaging}},
	{ColumnQAHold, []string{StatusQAHold, StatusWaitingForQA}},
	{ColumnTestingForProd, []string{StatusTestingForProd}},
	{ColumnProduction, []string{StatusProduction}},
}

// Releases carried by the seed. Cards in the deploy columns (Merged to
// Master, Staging, QA Hold, Testing For Production) carry CurrentRelease;
// cards already in Production shipped with PreviousRelease.
const (
	CurrentRelease  = "2026.11.22"
	PreviousRelease = "2026.11.08"
)

// CurrentSprint is the active sprint every non-Production card of the seed
// belongs to.
func CurrentSprint(project string) string { return project + " Sprint 47" }

// PreviousSprint is the closed sprint the seed's Production cards were done in.
func PreviousSprint(project string) string { return project + " Sprint 46" }

// Columns returns the board's columns in order, left to right.
func Columns() []string {
	out := make([]string, len(boardColumns))
	for i, c := range boardColumns {
		out[i] = c.name
	}
	return out
}

// ColumnStatuses returns the statuses column holds, its main one first;
// nil for a column the board does not have.
func ColumnStatuses(column string) []string {
	for _, c := range boardColumns {
		if c.name == column {
			return slices.Clone(c.statuses)
		}
	}
	return nil
}

// ColumnStatus is the main status of column: where a card put in the
// column lands.
func ColumnStatus(column string) string {
	if sts := ColumnStatuses(column); len(sts) > 0 {
		return sts[0]
	}
	return ""
}

// ColumnOf is the column holding status, or "" when no column does.
func ColumnOf(status string) string {
	for _, c := range boardColumns {
		if slices.Contains(c.statuses, status) {
			return c.name
		}
	}
	return ""
}

// StatusID is the id of a status of the workflow, or "" for another.
func StatusID(status string) string { return workflowStatusIDs[status] }

// workflowStatuses lists every status of the workflow, in board order,
// the one on no column last.
func workflowStatuses() []string {
	var out []string
	for _, c := range boardColumns {
		out = append(out, c.statuses...)
	}
	return append(out, StatusOffBoard)
}

// Issue is one card of the board, in the terms the seed is written in. The
// server derives ids, selfs, status categories, sprint and version objects.
type Issue struct {
	Key, Summary, Status, Priority, Assignee string
	Labels, FixVersions                      []string
	Sprint                                   string
}

func (i Issue) clone() Issue {
	i.Labels = slices.Clone(i.Labels)
	i.FixVersions = slices.Clone(i.FixVersions)
	return i
}

// Inconsistency is one deliberate mistake in the seed that the cockpit's
// pre-deployment checks are meant to catch.
type Inconsistency struct {
	Key    string // the card
	Column string // where it sits on the board
	What   string // what is wrong with it, in the runbook's terms
}

// Numbers of the deliberately inconsistent cards. They are spread over the
// checks the runbook asks for, one each, so a test can tell which check fired.
const (
	incMergedInProgress = 35 // In Progress, yet merged to master
	incStagingUnmerged  = 22 // Staging, yet only merged to master
	incBlocker          = 16 // QA Hold, labelled and prioritised as a blocker
	incWrongRelease     = 15 // Testing For Production with the previous release
)

// Inconsistencies lists exactly the deliberate mistakes of DefaultSeed and
// of the repository BuildRepo makes from it. Everything else is consistent.
func Inconsistencies(project string) []Inconsistency {
	return []Inconsistency{
		{key(project, incMergedInProgress), ColumnInProgress,
			"left in In Progress but already merged to master"},
		{key(project, incStagingUnmerged), ColumnStaging,
			"in Staging but not merged to staging (merged to master only)"},
		{key(project, incBlocker), ColumnQAHold,
			"deployment blocker in QA Hold (label \"blocker\", priority \"Blocker\")"},
		{key(project, incWrongRelease), ColumnTestingForProd,
			fmt.Sprintf("fix version %s instead of the current release %s", PreviousRelease, CurrentRelease)},
	}
}

func key(project string, n int) string { return fmt.Sprintf("%s-%d", project, n) }

// Priorities of the team's scheme, highest first; their ids are 1-based
// positions, as in Jira's classic scheme.
var priorities = []string{"Blocker", "Critical", "Major", "Minor", "Trivial"}

type seedRow struct {
	n                           int
	status, summary, prio, user string
	labels                      []string
}

// The board in rank order: left column first, top card first. Keys are
// contiguous (1..40) so a client can name any of them, but scattered over
// the columns as a real board's are.
var seedRows = []seedRow{
	{33, StatusInProgress, "Telehealth visit notes", "Major", "Priya Raman", []string{"frontend"}},
	{35, StatusInProgress, "Wellness plan renewals", "Major", "Jonas Weber", []string{"billing"}},
	{37, StatusInProgress, "Kennel occupancy dashboard", "Minor", "Ama Owusu", []string{"frontend"}},
	{38, StatusInProgress, "Microchip registry lookup", "Major", "Luis Ortega", []string{"integrations"}},
	{39, StatusReopened, "Staff shift swap requests", "Minor", "Hannah Kim", nil},
	{40, StatusInProgress, "Upgrade web framework to the next minor release", "Major", "Sam Carter", []string{"backend"}},

	{28, StatusCodeReview, "Refill request queue", "Major", "Hannah Kim", []string{"backend"}},
	{31, StatusCodeReview, "Dark mode for the schedule view", "Trivial", "Ama Owusu", []string{"frontend"}},
	{32, StatusCodeReview, "Dose calculator for exotic species", "Critical", "Priya Raman", nil},
	{34, StatusCodeReview, "Deduplicate client phone numbers", "Minor", "Sam Carter", []string{"migration"}},
	{36, StatusCodeReview, "Insurance claim export", "Major", "Jonas Weber", []string{"billing"}},

	{23, StatusMergedToMaster, "Multi-location stock transfers", "Major", "Luis Ortega", []string{"inventory"}},
	{25, StatusMergedToMaster, "Unsubscribe link in reminder emails", "Minor", "Ama Owusu", []string{"reminders"}},
	{26, StatusMergedToMaster, "Add concurrent index on appointments.starts_at", "Critical", "Sam Carter", []string{"migration"}},
	{27, StatusMergedToMaster, "Patient merge tool", "Major", "Priya Raman", nil},
	{29, StatusMergedToMaster, "Referral letter generator", "Minor", "Hannah Kim", []string{"frontend"}},
	{30, StatusMergedToMaster, "Split the clinics table migration in two", "Major", "Jonas Weber", []string{"migration"}},

	{11, StatusStaging, "Weight chart on the patient timeline", "Minor", "Ama Owusu", []string{"frontend"}},
	{18, StatusStaging, "Client portal: download invoices", "Major", "Jonas Weber", []string{"billing"}},
	{20, StatusStaging, "Index medical notes for search", "Major", "Sam Carter", []string{"migration"}},
	{21, StatusStaging, "Surgery checklist sign-off", "Critical", "Priya Raman", nil},
	{22, StatusStaging, "Lab integration: order status webhooks", "Major", "Luis Ortega", []string{"integrations"}},
	{24, StatusStaging, "Estimate approval by e-signature", "Minor", "Hannah Kim", nil},

	{8, StatusQAHold, "Batch SMS sending for reminders", "Major", "Ama Owusu", []string{"reminders"}},
	{13, StatusQAHold, "Appointment reminder preferences per client", "Minor", "Priya Raman", []string{"reminders"}},
	{16, StatusQAHold, "Rewrite the payment reconciliation job", "Blocker", "Jonas Weber", []string{"blocker", "billing"}},
	{19, StatusWaitingForQA, "Treatment plan templates", "Major", "Hannah Kim", nil},

	{5, StatusTestingForProd, "Export lab results as PDF", "Minor", "Luis Ortega", []string{"integrations"}},
	{12, StatusTestingForProd, "Add appointment reminders", "Critical", "Priya Raman", []string{"reminders"}},
	{14, StatusTestingForProd, "Speed up the boarding calendar", "Major", "Sam Carter", []string{"performance"}},
	{15, StatusTestingForProd, "Inventory low-stock alerts", "Major", "Luis Ortega", []string{"inventory"}},
	{17, StatusTestingForProd, "Card reader pairing for the front desk", "Critical", "Jonas Weber", []string{"billing"}},

	{1, StatusProduction, "Species filter in patient search", "Minor", "Hannah Kim", []string{"frontend"}},
	{2, StatusProduction, "Vaccine due dates on the patient header", "Major", "Priya Raman", nil},
	{3, StatusProduction, "Paginate invoice history", "Major", "Jonas Weber", []string{"billing", "performance"}},
	{4, StatusProduction, "Move clinic settings to JSONB", "Critical", "Sam Carter", []string{"migration"}},
	{6, StatusProduction, "Cache formulary lookups", "Minor", "", []string{"performance"}},
	{7, StatusProduction, "Audit trail for controlled substances", "Critical", "Luis Ortega", nil},
	{9, StatusProduction, "Fix time zone in appointment confirmation emails", "Major", "Ama Owusu", []string{"reminders"}},
	{10, StatusProduction, "Double charge on split invoices", "Critical", "Jonas Weber", []string{"billing", "hotfix"}},
}

// DefaultSeed returns the board the sandbox starts with: 40 cards across
// the seven columns, two of them in a column's second status (ACME-39
// Reopened in In Progress, ACME-19 Waiting for QA in QA Hold), consistent with BuildRepo's history except for exactly
// the cards Inconsistencies lists.
func DefaultSeed(project string) []Issue {
	out := make([]Issue, 0, len(seedRows))
	for _, r := range seedRows {
		is := Issue{
			Key:      key(project, r.n),
			Summary:  r.summary,
			Status:   r.status,
			Priority: r.prio,
			Assignee: r.user,
			Labels:   slices.Clone(r.labels),
			Sprint:   CurrentSprint(project),
		}
		switch r.status {
		case StatusInProgress, StatusReopened, StatusCodeReview:
			// Release versions are set when a card merges, not before.
		case StatusProduction:
			is.FixVersions = []string{PreviousRelease}
			is.Sprint = PreviousSprint(project)
		default:
			is.FixVersions = []string{CurrentRelease}
		}
		if r.n == incWrongRelease {
			is.FixVersions = []string{PreviousRelease}
		}
		out = append(out, is)
	}
	return out
}

// Workflow transitions. Ids are per target status, and transitions are
// named for the column they lead to, not for the status they reach ("Code
// Review" reaches In Review, "Production" reaches Released), as the
// documented transitions name theirs ("Close Issue" reaches In Progress).
// The hand-over to the operations team comes first wherever it is offered
// and reaches a status named Production that no column holds.
type transition struct {
	id, name, to string
}

var (
	tInProgress  = transition{"11", "In Progress", StatusInProgress}
	tCodeReview  = transition{"21", "Code Review", StatusCodeReview}
	tMerged      = transition{"31", "Merged to Master", StatusMergedToMaster}
	tStaging     = transition{"41", "Staging", StatusStaging}
	tQAHold      = transition{"51", "QA Hold", StatusQAHold}
	tWaitForQA   = transition{"52", "Wait for QA", StatusWaitingForQA}
	tTestingProd = transition{"61", "Testing For Production", StatusTestingForProd}
	tProduction  = transition{"71", "Production", StatusProduction}
	tReopen      = transition{"81", "Reopen", StatusReopened}
	tHandOver    = transition{"91", "Hand over to ops", StatusOffBoard}
	allowedMoves = map[string][]transition{
		StatusInProgress:     {tCodeReview},
		StatusReopened:       {tCodeReview},
		StatusCodeReview:     {tInProgress, tMerged},
		StatusMergedToMaster: {tStaging},
		StatusStaging:        {tHandOver, tQAHold, tTestingProd, tProduction},
		StatusQAHold:         {tHandOver, tTestingProd, tProduction, tStaging, tWaitForQA},
		StatusWaitingForQA:   {tHandOver, tQAHold, tTestingProd, tProduction, tStaging},
		StatusTestingForProd: {tHandOver, tProduction, tQAHold},
		StatusProduction:     {tReopen},
		StatusOffBoard:       {tReopen},
	}
)

// ColumnRules are the checks the seed runbook asks of each column of
// Columns, as [[jira.column]] entries: the cockpit's config for this board.
func ColumnRules() []config.JiraColumn {
	return []config.JiraColumn{
		{Name: ColumnInProgress, NotMergedTo: "master"},
		{Name: ColumnCodeReview, NotMergedTo: "master"},
		{Name: ColumnMergedToMaster, MergedTo: "master", CheckRelease: true},
		{Name: ColumnStaging, MergedTo: "staging", CheckRelease: true},
		{Name: ColumnQAHold, MergedTo: "staging", CheckRelease: true, NoBlockers: true},
		{Name: ColumnTestingForProd, MergedTo: "staging", CheckRelease: true},
		{Name: ColumnProduction},
	}
}

// Moves are the seed runbook's post-deploy moves, as [[jira.move]] entries.
func Moves() []config.JiraMove {
	return []config.JiraMove{
		{From: []string{ColumnStaging, ColumnQAHold, ColumnTestingForProd}, To: ColumnProduction},
		{From: []string{ColumnMergedToMaster}, To: ColumnStaging},
	}
}
