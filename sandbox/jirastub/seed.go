package jirastub

import (
	"fmt"
	"slices"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// Statuses of the team's workflow. Each board column maps to the status of
// the same name, so these double as column names.
const (
	StatusInProgress     = "In Progress"
	StatusCodeReview     = "Code Review"
	StatusMergedToMaster = "Merged to Master"
	StatusStaging        = "Staging"
	StatusQAHold         = "QA Hold"
	StatusTestingForProd = "Testing For Production"
	StatusProduction     = "Production"
)

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
	return []string{
		StatusInProgress, StatusCodeReview, StatusMergedToMaster, StatusStaging,
		StatusQAHold, StatusTestingForProd, StatusProduction,
	}
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
		{key(project, incMergedInProgress), StatusInProgress,
			"left in In Progress but already merged to master"},
		{key(project, incStagingUnmerged), StatusStaging,
			"in Staging but not merged to staging (merged to master only)"},
		{key(project, incBlocker), StatusQAHold,
			"deployment blocker in QA Hold (label \"blocker\", priority \"Blocker\")"},
		{key(project, incWrongRelease), StatusTestingForProd,
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
	{39, StatusInProgress, "Staff shift swap requests", "Minor", "Hannah Kim", nil},
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
	{19, StatusQAHold, "Treatment plan templates", "Major", "Hannah Kim", nil},

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
// the seven columns, consistent with BuildRepo's history except for exactly
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
		case StatusInProgress, StatusCodeReview:
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

// Workflow transitions. Ids are per target status, as in a workflow where
// every status has one incoming transition named after it; the reopen from
// Production is separate so it can be told apart in an audit trail.
type transition struct {
	id, name, to string
}

var (
	tInProgress  = transition{"11", StatusInProgress, StatusInProgress}
	tCodeReview  = transition{"21", StatusCodeReview, StatusCodeReview}
	tMerged      = transition{"31", StatusMergedToMaster, StatusMergedToMaster}
	tStaging     = transition{"41", StatusStaging, StatusStaging}
	tQAHold      = transition{"51", StatusQAHold, StatusQAHold}
	tTestingProd = transition{"61", StatusTestingForProd, StatusTestingForProd}
	tProduction  = transition{"71", StatusProduction, StatusProduction}
	tReopen      = transition{"81", "Reopen", StatusInProgress}
	allowedMoves = map[string][]transition{
		StatusInProgress:     {tCodeReview},
		StatusCodeReview:     {tInProgress, tMerged},
		StatusMergedToMaster: {tStaging},
		StatusStaging:        {tQAHold, tTestingProd, tProduction},
		StatusQAHold:         {tTestingProd, tProduction, tStaging},
		StatusTestingForProd: {tProduction, tQAHold},
		StatusProduction:     {tReopen},
	}
)

// ColumnRules are the checks the seed runbook asks of each column of
// Columns, as [[jira.column]] entries: the cockpit's config for this board.
func ColumnRules() []config.JiraColumn {
	return []config.JiraColumn{
		{Name: "In Progress", NotMergedTo: "master"},
		{Name: "Code Review", NotMergedTo: "master"},
		{Name: "Merged to Master", MergedTo: "master", CheckRelease: true},
		{Name: "Staging", MergedTo: "staging", CheckRelease: true},
		{Name: "QA Hold", MergedTo: "staging", CheckRelease: true, NoBlockers: true},
		{Name: "Testing For Production", MergedTo: "staging", CheckRelease: true},
		{Name: "Production"},
	}
}

// Moves are the seed runbook's post-deploy moves, as [[jira.move]] entries.
func Moves() []config.JiraMove {
	return []config.JiraMove{
		{From: []string{"Staging", "QA Hold", "Testing For Production"}, To: "Production"},
		{From: []string{"Merged to Master"}, To: "Staging"},
	}
}
