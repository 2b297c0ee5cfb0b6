package sources

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// BoardSource polls Jira and reads git every [jira] poll, and whenever
// Refresh is called, never running two reads at once.
type BoardSource struct {
	Jira   *config.Jira
	Git    *config.Git // nil: merge rules are not checked
	Target snapshot.ReleaseTarget
	Client *JiraClient
	Now    func() time.Time // nil uses time.Now

	refresh Refresher
	lastGit *snapshot.GitInfo
	gitAt   time.Time
}

// NewBoardSource builds the source from cfg, expanding the fix version and
// sprint for the deploy day.
func NewBoardSource(cfg *config.Config, day time.Time) *BoardSource {
	s := &BoardSource{Jira: cfg.Jira, Git: cfg.Git, Client: NewJiraClient(cfg.Jira)}
	vars := cfg.TemplateVars(day)
	expand := func(t string) string {
		if x, err := config.Expand(t, vars, false); err == nil {
			return x
		}
		return t
	}
	s.Target = snapshot.ReleaseTarget{FixVersion: expand(cfg.Jira.FixVersion), Sprint: expand(cfg.Jira.Sprint)}
	return s
}

// Name implements Source.
func (s *BoardSource) Name() string { return "jira" }

// Refresh asks for a new reading now, as after a move or a fetch. It never
// blocks; asking during a read makes one more read right after it, so the
// change is seen.
func (s *BoardSource) Refresh() { s.refresh.Refresh() }

// Run implements Source.
func (s *BoardSource) Run(ctx context.Context, emit func(Snapshot[snapshot.Board])) error {
	every := s.Jira.Poll.D()
	if every <= 0 {
		every = 60 * time.Second
	}
	return Poller[snapshot.Board]{Every: every, Refresh: &s.refresh, Now: s.Now}.Run(ctx, s.Read, emit)
}

// Read reads the board and git once. A Jira failure is the error (the
// supervisor keeps the last good board); a git failure is carried in the
// board, which keeps the last good git reading.
func (s *BoardSource) Read(ctx context.Context) (snapshot.Board, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	client := s.Client
	if client == nil {
		client = NewJiraClient(s.Jira)
	}
	var (
		git    snapshot.GitInfo
		gitErr error
		wg     sync.WaitGroup
	)
	if s.Git != nil {
		wg.Go(func() { git, gitErr = ReadGit(ctx, s.Git, s.Jira.Project) })
	}
	bc, err := client.BoardConfig(ctx, s.Jira.Board)
	var issues []snapshot.JiraIssue
	if err == nil {
		issues, err = client.BoardIssues(ctx, s.Jira.Project, bc)
	}
	wg.Wait()
	if err != nil {
		return snapshot.Board{At: now()}, err
	}
	var gi *snapshot.GitInfo
	if s.Git != nil {
		if gitErr == nil {
			s.lastGit, s.gitAt = &git, now()
		}
		gi = s.lastGit
	}
	b := snapshot.BuildBoard(BoardRules(s.Jira), s.Target, bc, issues, gi, now())
	b.GitErr, b.GitAt = gitErr, s.gitAt
	return b, nil
}

// ErrNoMoves is returned when a move is asked for but [jira] has none.
var ErrNoMoves = errors.New("no [[jira.move]] is configured: add one to the config")
