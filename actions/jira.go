package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// Kinds of the Jira and git actions, as the journal records them.
const (
	KindJiraMove = "jira.move"
	KindGitFetch = "git.fetch"
)

// DefaultJiraConcurrency is how many cards move at once: enough to finish a
// post-deploy move in seconds, few enough to stay inside Jira Cloud's burst
// limits, which the client's shared Retry-After handling covers beyond that.
const DefaultJiraConcurrency = 4

// JiraMoveResult is what happened to one card. Result.Detail holds one per
// card, in plan order, whatever happened.
type JiraMoveResult struct {
	Key            string `json:"key"`
	Summary        string `json:"summary,omitempty"`
	From           string `json:"from"`
	To             string `json:"to"`
	Transition     string `json:"transition,omitempty"` // its id
	TransitionName string `json:"transition_name,omitempty"`
	OK             bool   `json:"ok"`
	Error          string `json:"error,omitempty"`
	// TookMS runs from the start of Run to this card's answer.
	TookMS int64 `json:"took_ms"`
}

// JiraMove applies [[jira.move]] rules, or moves one card. Both Preview and
// Run plan from the board as Jira shows it at that moment, so running it
// again after a partial failure, an interruption or a crash moves exactly
// the cards still in a from column, and running it after success moves
// nothing. Once previewed, Run moves no card the preview did not list: the
// operator confirmed those.
type JiraMove struct {
	Jira   *config.Jira
	Client *sources.JiraClient // nil: built from Jira
	Moves  []config.JiraMove
	// Card and To, when Card is set, make this a single-card move.
	Card, To    string
	StepID      string
	Concurrency int // cards moved at once; 0 means DefaultJiraConcurrency
	// Moved maps the cards this deploy has already moved to the column it
	// moved them to (JiraMovedByJournal reads it from the journal). Such a
	// card is not moved on out of that column: re-running "Staging →
	// Production" after "Merged to Master → Staging" must not ship the
	// cards that only just reached Staging. Run adds what it moves.
	Moved map[string]string

	mu        sync.Mutex
	previewed map[string]bool
	progress  func(Progress) error
}

// SetProgress implements Progressing: each card is journaled as it moves,
// so a cockpit killed in the middle of a bulk move leaves a record of the
// cards already moved, and the next run moves exactly the rest.
func (m *JiraMove) SetProgress(f func(Progress) error) { m.progress = f }

// JiraMovedByJournal reads, from a deploy's journal records, every card a
// jira.move moved and the column it went to; the latest move of a card wins.
func JiraMovedByJournal(recs []journal.Record) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		if r.Kind != KindJiraMove || len(r.Data) == 0 {
			continue
		}
		var results []JiraMoveResult
		switch r.Type {
		case runbook.RecResult:
			if json.Unmarshal(r.Data, &results) != nil {
				continue
			}
		case runbook.RecProgress:
			var one JiraMoveResult
			if json.Unmarshal(r.Data, &one) != nil {
				continue
			}
			results = []JiraMoveResult{one}
		default:
			continue
		}
		for _, res := range results {
			if res.OK {
				out[strings.ToUpper(res.Key)] = res.To
			}
		}
	}
	return out
}

func (m *JiraMove) movedHere(key, column string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	to, ok := m.Moved[strings.ToUpper(key)]
	return ok && strings.EqualFold(to, column)
}

// NewJiraMove builds the move a jira.move step asks for: which is its
// args.move ("" for every [[jira.move]], an index from 0, or a to column).
func NewJiraMove(j *config.Jira, which, step string) (*JiraMove, error) {
	if j == nil {
		return nil, errors.New("jira.move: no [jira] section in the config")
	}
	if len(j.Moves) == 0 {
		return nil, sources.ErrNoMoves
	}
	moves, err := sources.SelectMoves(j.Moves, which)
	if err != nil {
		return nil, fmt.Errorf("jira.move: %w", err)
	}
	return &JiraMove{Jira: j, Moves: moves, StepID: step}, nil
}

// NewJiraMoveCard builds the move of one card to column to.
func NewJiraMoveCard(j *config.Jira, key, to string) *JiraMove {
	return &JiraMove{Jira: j, Card: key, To: to}
}

// Kind implements Action.
func (m *JiraMove) Kind() string { return KindJiraMove }

// Step implements Action.
func (m *JiraMove) Step() string { return m.StepID }

// Dangerous implements Action.
func (m *JiraMove) Dangerous() bool { return true }

func (m *JiraMove) client() *sources.JiraClient {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Client == nil {
		m.Client = sources.NewJiraClient(m.Jira)
	}
	return m.Client
}

func (m *JiraMove) concurrency() int {
	if m.Concurrency > 0 {
		return m.Concurrency
	}
	return DefaultJiraConcurrency
}

// jiraPlan is a move worked out against the board: the steps to take, and
// the cards left where an earlier move of this deploy put them.
type jiraPlan struct {
	steps []sources.MoveStep
	stays []sources.MoveStep
}

// plan reads the board and each candidate card's transitions, and works out
// every step.
func (m *JiraMove) plan(ctx context.Context) (jiraPlan, error) {
	var out jiraPlan
	if m.Jira == nil {
		return out, errors.New("no [jira] section in the config")
	}
	if m.Card == "" && len(m.Moves) == 0 {
		return out, sources.ErrNoMoves
	}
	c := m.client()
	bc, err := c.BoardConfig(ctx, m.Jira.Board)
	if err != nil {
		return out, err
	}
	issues, err := c.BoardIssues(ctx, m.Jira.Project, bc)
	if err != nil {
		return out, err
	}
	// Moves do not depend on git or the release, only on where cards are.
	b := snapshot.BuildBoard(sources.BoardRules(m.Jira), snapshot.ReleaseTarget{}, bc, issues, nil, time.Now())
	keys := []string{m.Card}
	if m.Card == "" {
		keys = nil
		for _, k := range sources.MoveCards(b, m.Moves) {
			ci, ki, _ := b.Find(k)
			if col := b.Columns[ci]; m.movedHere(k, col.Name) {
				out.stays = append(out.stays, sources.MoveStep{Key: k, Summary: col.Cards[ki].Summary, From: col.Name})
				continue
			}
			keys = append(keys, k)
		}
	}
	type answer struct {
		ts  []sources.JiraTransition
		err error
	}
	answers := make([]answer, len(keys))
	forEach(ctx, len(keys), m.concurrency(), func(i int) {
		answers[i].ts, answers[i].err = c.Transitions(ctx, keys[i])
	})
	byKey := map[string]answer{}
	for i, k := range keys {
		byKey[strings.ToUpper(k)] = answers[i]
	}
	lookup := func(key string) ([]sources.JiraTransition, error) {
		a, ok := byKey[strings.ToUpper(key)]
		if !ok {
			return nil, errors.New("not read")
		}
		if a.err == nil && a.ts == nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return a.ts, a.err
	}
	if m.Card != "" {
		st, err := sources.PlanCardMove(b, m.Card, m.To, lookup)
		if err != nil {
			return out, err
		}
		if st.Problem != "already in "+m.To {
			out.steps = []sources.MoveStep{st}
		}
		return out, nil
	}
	for _, p := range sources.PlanMoves(b, m.Moves, lookup) {
		for _, st := range p.Steps {
			if !m.movedHere(st.Key, st.From) {
				out.steps = append(out.steps, st)
			}
		}
	}
	return out, ctx.Err()
}

// forEach runs fn(0..n-1) with at most limit at once, and starts no more
// once ctx ends.
func forEach(ctx context.Context, n, limit int, fn func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

func (m *JiraMove) what() string {
	if m.Card != "" {
		return fmt.Sprintf("Move %s to %s", m.Card, m.To)
	}
	var parts []string
	for _, mv := range m.Moves {
		parts = append(parts, strings.Join(mv.From, ", ")+" → "+mv.To)
	}
	return "Move Jira cards: " + strings.Join(parts, "; ")
}

func stepLine(s sources.MoveStep) string {
	head := fmt.Sprintf("%s %s → %s", s.Key, s.From, s.To)
	if s.Problem != "" {
		return head + ": problem: " + s.Problem
	}
	line := fmt.Sprintf("%s via %q (transition %s)", head, s.TransitionName, s.TransitionID)
	if s.Summary != "" {
		line += ": " + s.Summary
	}
	return line
}

// Preview implements Action: every card and the transition it will take,
// and every card that cannot move and why.
func (m *JiraMove) Preview(ctx context.Context) (Preview, error) {
	p := Preview{Title: m.what()}
	plan, err := m.plan(ctx)
	if err != nil {
		return p, err
	}
	steps := plan.steps
	seen := map[string]bool{}
	problems := 0
	for _, s := range steps {
		p.Lines = append(p.Lines, stepLine(s))
		seen[s.Key] = true
		if s.Problem != "" {
			problems++
		}
	}
	for _, s := range plan.stays {
		p.Lines = append(p.Lines, fmt.Sprintf("%s stays in %s: this deploy moved it there", s.Key, s.From))
	}
	m.mu.Lock()
	m.previewed = seen
	m.mu.Unlock()
	switch {
	case len(steps) == 0 && m.Card != "":
		p.Title += ": already there, nothing to do"
	case len(steps) == 0 && len(plan.stays) > 0:
		p.Title += ": nothing to move, the cards left are where this deploy put them"
	case len(steps) == 0:
		p.Title += ": nothing to move, the from columns are empty"
	default:
		p.Title += " (" + cardCount(len(steps), "card")
		if problems > 0 {
			p.Title += fmt.Sprintf(", %d with problems", problems)
		}
		p.Title += ")"
	}
	return p, nil
}

// Run implements Action. It plans again from the board as it is now and
// moves the cards concurrently; every card's outcome is in Result.Detail.
func (m *JiraMove) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	plan, err := m.plan(ctx)
	if err != nil {
		return Result{Summary: "not run: " + snapshot.OneLine(err.Error()), Detail: []byte("[]")}, err
	}
	steps := plan.steps
	m.mu.Lock()
	previewed := m.previewed
	m.mu.Unlock()

	results := make([]JiraMoveResult, len(steps))
	errs := make([]error, len(steps))
	var todo []int
	for i, s := range steps {
		results[i] = JiraMoveResult{Key: s.Key, Summary: s.Summary, From: s.From, To: s.To, Transition: s.TransitionID, TransitionName: s.TransitionName}
		switch {
		case previewed != nil && !previewed[s.Key]:
			errs[i] = fmt.Errorf("%s was not in the preview (it reached %s since): not moved; run the move again to include it", s.Key, s.From)
		case s.Problem != "":
			errs[i] = errors.New(s.Problem)
		default:
			todo = append(todo, i)
		}
	}
	c := m.client()
	var journalMu sync.Mutex // cards move concurrently; their records one at a time
	started := make([]bool, len(steps))
	forEach(ctx, len(todo), m.concurrency(), func(j int) {
		i := todo[j]
		started[i] = true
		s := steps[i]
		if err := c.Transition(ctx, s.Key, s.TransitionID); err != nil {
			errs[i] = explainMove(s, err)
		}
		results[i].TookMS = time.Since(start).Milliseconds()
		if errs[i] == nil && m.progress != nil {
			done := results[i]
			done.OK = true
			journalMu.Lock()
			perr := m.progress(Progress{Summary: fmt.Sprintf("moved %s from %s to %s", s.Key, s.From, s.To), Data: done})
			journalMu.Unlock()
			if perr != nil {
				// The card moved; only the record of it is missing.
				errs[i] = fmt.Errorf("moved, but the move could not be journaled: %w", perr)
			}
		}
	})
	for _, i := range todo {
		if !started[i] {
			errs[i] = fmt.Errorf("not started: %v; run the move again to finish", context.Cause(ctx))
		}
	}
	var failed []error
	var bad []string
	moved := map[string]int{}
	var order []string
	for i := range results {
		if errs[i] != nil {
			results[i].Error = errs[i].Error()
			failed = append(failed, fmt.Errorf("%s: %w", steps[i].Key, errs[i]))
			bad = append(bad, fmt.Sprintf("%s (%s)", steps[i].Key, moveShort(errs[i])))
			continue
		}
		results[i].OK = true
		m.mu.Lock()
		if m.Moved == nil {
			m.Moved = map[string]string{}
		}
		m.Moved[strings.ToUpper(steps[i].Key)] = steps[i].To
		m.mu.Unlock()
		if moved[steps[i].To] == 0 {
			order = append(order, steps[i].To)
		}
		moved[steps[i].To]++
	}
	detail, _ := json.Marshal(results)
	var summary string
	if len(steps) == 0 {
		summary = "nothing to move"
		if m.Card != "" {
			summary = m.Card + " is already in " + m.To
		}
	} else {
		summary = fmt.Sprintf("moved %d/%s", len(steps)-len(failed), cardCount(len(steps), "card"))
		var parts []string
		for _, to := range order {
			parts = append(parts, fmt.Sprintf("%d to %s", moved[to], to))
		}
		if len(parts) > 0 {
			summary += ": " + strings.Join(parts, ", ")
		}
		if len(bad) > 0 {
			summary += "; failed: " + strings.Join(bad, ", ")
		}
	}
	res := Result{OK: len(failed) == 0, Summary: summary, Detail: detail}
	if len(failed) > 0 {
		return res, fmt.Errorf("could not move %d of %d cards: %w", len(failed), len(steps), errors.Join(failed...))
	}
	return res, nil
}

// explainMove adds what a failed transition means for the card: a 5xx or a
// lost connection may have moved it anyway.
func explainMove(s sources.MoveStep, err error) error {
	var je *sources.JiraError
	if errors.As(err, &je) && (je.Status == 0 || je.Status >= 500) {
		return fmt.Errorf("%w; %s may or may not have moved: the board shows which after its refresh, and running the move again finishes the rest", err, s.Key)
	}
	return err
}

// moveShort is the summary's word or two for why a card did not move.
func moveShort(err error) string {
	var je *sources.JiraError
	switch {
	case errors.Is(err, context.Canceled) || strings.HasPrefix(err.Error(), "not started"):
		return "not started"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &je):
		switch {
		case je.Status == 0:
			return "no answer"
		case je.Status == http.StatusUnauthorized:
			return "unauthorized"
		case je.Status == http.StatusForbidden:
			return "forbidden"
		case je.Status == http.StatusTooManyRequests:
			return "rate limited"
		case je.Status >= 500:
			return fmt.Sprintf("Jira %d", je.Status)
		}
		return fmt.Sprintf("refused %d", je.Status)
	case strings.Contains(err.Error(), "not in the preview"):
		return "not previewed"
	}
	return "no transition"
}

// GitFetch fetches the remote so the branch checks see its current state.
// It changes only remote-tracking refs, never a local branch or a file, so
// it is allowed in read-only mode.
type GitFetch struct {
	Git    *config.Git
	StepID string
}

// Kind implements Action.
func (g *GitFetch) Kind() string { return KindGitFetch }

// Step implements Action.
func (g *GitFetch) Step() string { return g.StepID }

// Dangerous implements Action.
func (g *GitFetch) Dangerous() bool { return false }

// Preview implements Action.
func (g *GitFetch) Preview(context.Context) (Preview, error) {
	if g.Git == nil {
		return Preview{Title: "Fetch"}, errors.New("git.fetch: no [git] section in the config")
	}
	var refs []string
	for _, b := range g.Git.Branches {
		refs = append(refs, g.Git.Remote+"/"+b)
	}
	return Preview{
		Title: fmt.Sprintf("Fetch %s into %s", g.Git.Remote, g.Git.Repo),
		Lines: []string{"updates " + strings.Join(refs, ", ") + " and the other remote-tracking branches", "no local branch, checkout or file changes"},
	}, nil
}

// Run implements Action.
func (g *GitFetch) Run(ctx context.Context) (Result, error) {
	if g.Git == nil {
		err := errors.New("git.fetch: no [git] section in the config")
		return Result{Summary: "not run: " + err.Error()}, err
	}
	out, err := sources.GitFetch(ctx, g.Git)
	var tail []string
	if out != "" {
		tail = strings.Split(out, "\n")
		if len(tail) > 20 {
			tail = tail[len(tail)-20:]
		}
	}
	if err != nil {
		return Result{Summary: "fetch failed: " + snapshot.OneLine(err.Error()), Tail: tail}, err
	}
	summary := "fetched " + g.Git.Remote
	if out == "" {
		summary += ": already up to date"
	} else {
		n := 0
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, " -> ") {
				n++
			}
		}
		summary += fmt.Sprintf(": %d refs updated", n)
	}
	return Result{OK: true, Summary: summary, Tail: tail}, nil
}

func cardCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
