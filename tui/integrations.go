package tui

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// ReachInterval is how often a configured system without a live source of
// its own is probed.
const ReachInterval = 15 * time.Second

// buildSources makes the live sources the model talks back to: the board
// (refreshed after a move or a fetch) and Sentry (told the deploy start and
// each rollback).
func (m *Model) buildSources() {
	cfg := m.opts.Config
	if cfg.Jira != nil && len(cfg.SecretErrors["jira"]) == 0 {
		m.board = sources.NewBoardSource(cfg, m.opts.Day)
	}
	if cfg.Sentry != nil && len(cfg.SecretErrors["sentry"]) == 0 {
		s, err := sources.NewSentry(cfg.Sentry, sources.SentryOptions{})
		if err != nil {
			m.opts.Log.Warn("sentry source", "err", err)
		} else {
			m.sentry = s
			m.sentry.SetDeploy(m.deployMarks())
		}
	}
}

// deployMarks are the deploy's start, release and rollbacks, from the
// journal as replayed so far.
func (m *Model) deployMarks() snapshot.DeployMarks {
	marks := snapshot.DeployMarks{Start: m.rb.Started, Release: m.vars["release"]}
	for _, r := range m.history {
		if r.Type == runbook.RecResult && r.Kind == actions.KindKubeRollback {
			marks.Rollbacks = append(marks.Rollbacks, r.At)
		}
	}
	return marks
}

// StartSources starts the window clock and one source per configured
// system in the group, all emitting into the relay. A system with a live
// source reports its own health; the others are probed for reachability.
func (m *Model) StartSources(g *sources.Group) {
	cfg, r := m.opts.Config, m.relay
	sources.Start(g, sources.Clock{}, sources.DefaultBackoff, r.Emit)
	live := map[string]bool{}
	if cfg.Kubernetes != nil {
		sources.Start(g, &sources.Kube{Config: cfg.Kubernetes}, sources.DefaultBackoff, r.Emit)
		live["kubernetes"] = true
	}
	if cfg.Postgres != nil {
		sources.Start(g, &sources.Postgres{Config: cfg, Day: m.opts.Day}, sources.DefaultBackoff, r.Emit)
		live["postgres"] = true
	}
	if m.board != nil {
		sources.Start(g, m.board, sources.DefaultBackoff, r.Emit)
		live["jira"] = true
	}
	if m.sentry != nil {
		sources.Start(g, m.sentry, sources.DefaultBackoff, r.Emit)
		live["sentry"] = true
	}
	for _, sec := range sources.Sections {
		if !sources.Configured(cfg, sec) || live[sec] {
			continue
		}
		src := sources.Reachability{Config: cfg, Section: sec, Interval: ReachInterval, Day: m.opts.Day}
		sources.Start(g, src, sources.DefaultBackoff, r.Emit)
	}
}

// jiraRequest turns a key in the board pane into its action.
func (m *Model) jiraRequest(req panes.JiraRequest) tea.Cmd {
	cfg := m.opts.Config
	switch req.Op {
	case panes.JiraRefresh:
		if m.board != nil {
			m.board.Refresh()
			m.setFlash("reading the board again…", false)
		}
		return nil
	case panes.JiraFetch:
		if cfg.Git == nil {
			m.setFlash(fmt.Sprintf("nothing to fetch: add a [git] section to %s", cfg.Path), true)
			return nil
		}
		return m.previewAction(&actions.GitFetch{Git: cfg.Git}, "git fetch")
	}
	if m.opts.ReadOnly {
		m.setFlash(actions.KindJiraMove+": "+actions.ErrReadOnly.Error(), true)
		return nil
	}
	if cfg.Jira == nil {
		m.setFlash(fmt.Sprintf("no [jira] section in %s", cfg.Path), true)
		return nil
	}
	switch req.Op {
	case panes.JiraMoveAll:
		a, err := actions.NewJiraMove(cfg.Jira, "", "")
		if err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		a.Moved = actions.JiraMovedByJournal(m.history)
		return m.previewAction(a, "post-deploy ticket moves")
	case panes.JiraMoveCard:
		if req.To == "" {
			m.setFlash(fmt.Sprintf("%s is in %s, which no [[jira.move]] takes cards from", req.Key, req.From), true)
			return nil
		}
		return m.previewAction(actions.NewJiraMoveCard(cfg.Jira, req.Key, req.To), fmt.Sprintf("move %s to %s", req.Key, req.To))
	}
	return nil
}

// stepAction builds the action of an action step other than the rollback
// and the Postgres signals; ok is false for an action it does not know.
func (m *Model) stepAction(st *runbook.Step) (a actions.Action, summary string, err error, ok bool) {
	cfg := m.opts.Config
	if verb, ok := actions.KubeVerbOf(st.Action); ok {
		a, summary, err := m.kubeStep(st, verb)
		return a, summary, err, true
	}
	switch st.Action {
	case actions.KindJiraMove:
		jm, err := actions.NewJiraMove(cfg.Jira, st.Args["move"], st.ID)
		if err != nil {
			return nil, "", err, true
		}
		jm.Moved = actions.JiraMovedByJournal(m.history)
		return jm, st.Title, nil, true
	case actions.KindGitFetch:
		return &actions.GitFetch{Git: cfg.Git, StepID: st.ID}, st.Title, nil, true
	case actions.KindSentryDeployMarker:
		if m.sentry == nil {
			return nil, "", fmt.Errorf("Sentry is not usable: %v", m.sectionProblem("sentry")), true
		}
		return m.deployMarker(st.Args["stage"], st.ID), st.Title, nil, true
	case actions.KindSlackNotify:
		if cfg.Slack == nil || len(cfg.SecretErrors["slack"]) > 0 {
			return nil, "", fmt.Errorf("Slack is not usable: %v", m.sectionProblem("slack")), true
		}
		text, err := config.Expand(st.Args["text"], m.vars, false)
		if err != nil {
			return nil, "", err, true
		}
		return actions.NewSlackNotify(cfg.Slack, st.Args["channel"], text, st.ID), st.Title, nil, true
	}
	return nil, "", nil, false
}

func (m *Model) sectionProblem(section string) string {
	if errs := m.opts.Config.SecretErrors[section]; len(errs) > 0 {
		return errs.Error()
	}
	if !sources.Configured(m.opts.Config, section) {
		return fmt.Sprintf("no [%s] section in %s", section, m.opts.Config.Path)
	}
	return "its configuration was refused; see the log"
}

func (m *Model) deployMarker(stage, step string) *actions.DeployMarker {
	return &actions.DeployMarker{Client: m.sentry.Client(), Release: m.vars["release"], Stage: stage,
		Deploy: m.opts.Config.Deploy.Name, Started: m.rb.Started, StepID: step}
}

// afterRollback tells the incident channel and Sentry about a rollback,
// whatever its outcome, each through the journal like any action.
func (m *Model) afterRollback(out actions.Outcome) []tea.Cmd {
	cfg := m.opts.Config
	var cmds []tea.Cmd
	if cfg.Slack != nil && len(cfg.SecretErrors["slack"]) == 0 {
		alert := actions.RollbackAlert(cfg.Slack, actions.RollbackNotice{Deploy: cfg.Deploy.Name,
			Environment: cfg.Deploy.Environment, By: m.opts.Operator, Outcome: out})
		cmds = append(cmds, m.execute(alert, "rollback alert to "+alert.Channel, 30*time.Second, nil))
	}
	if m.sentry != nil {
		m.sentry.AddRollback(m.now)
		cmds = append(cmds, m.execute(m.deployMarker(actions.StageRollback, ""), "Sentry rollback marker", 30*time.Second, nil))
	}
	return cmds
}

// notePeaks journals the worst lock wait and error rate whenever a reading
// beats the last one recorded, for the deploy record. A wait is recorded
// again only when it has grown by a quarter, so a wait growing second by
// second leaves a handful of records, not one a second.
func (m *Model) notePeaks(data any) tea.Cmd {
	switch d := data.(type) {
	case snapshot.DBState:
		var best report.LockPeak
		for _, t := range d.Targets {
			if t.Err != nil || len(t.Waits) == 0 {
				continue
			}
			w := t.Waits[0]
			if ms := w.For.Milliseconds(); ms > best.WaitMS {
				best = report.LockPeak{WaitMS: ms, At: t.At, Target: t.Name, PID: int(w.PID), Relation: w.Relation}
				if len(w.BlockedBy) > 0 {
					best.Blocker = int(w.BlockedBy[0])
				}
			}
		}
		if best.WaitMS < 1000 || float64(best.WaitMS) < 1.25*float64(m.lockPeakMS) {
			return nil
		}
		m.lockPeakMS = best.WaitMS
		note := &actions.Note{Rec: best.Record()}
		return m.execute(note, note.Rec.Summary, 0, nil)
	case snapshot.ErrorRate:
		if !d.HasPeak || d.Peak.Count <= m.errorPeak {
			return nil
		}
		m.errorPeak = d.Peak.Count
		p := report.ErrorPeak{PerMinute: d.Peak.Count, At: d.Peak.At, BaselineMean: d.Baseline.Mean, Threshold: d.Threshold, Spike: d.Spike}
		note := &actions.Note{Rec: p.Record()}
		return m.execute(note, note.Rec.Summary, 0, nil)
	}
	return nil
}

// replayPeaks starts the peak marks from the journal, so a restart does
// not record the same peak again.
func (m *Model) replayPeaks() {
	for _, r := range m.history {
		switch r.Type {
		case report.RecLockPeak:
			var p report.LockPeak
			if jsonInto(r.Data, &p) && p.WaitMS > m.lockPeakMS {
				m.lockPeakMS = p.WaitMS
			}
		case report.RecErrorPeak:
			var p report.ErrorPeak
			if jsonInto(r.Data, &p) && p.PerMinute > m.errorPeak {
				m.errorPeak = p.PerMinute
			}
		}
	}
}

// ReportPath is where the deploy record is written when the deploy is
// finished: beside the journal.
func ReportPath(journalPath string) string {
	return strings.TrimSuffix(journalPath, ".jsonl") + ".md"
}

// maybeReport writes the deploy record once every step is closed.
func (m *Model) maybeReport() tea.Cmd {
	closed, total := m.rb.Progress()
	if m.reported || m.reporting || total == 0 || closed < total || m.opts.JournalPath == "" {
		return nil
	}
	m.reporting = true
	cfg, recs, path, redact := m.opts.Config, append([]journal.Record(nil), m.history...), ReportPath(m.opts.JournalPath), m.opts.Redact
	// Owned like an action, so quitting waits for the file to be written.
	m.actions.Add(1)
	return func() tea.Msg {
		defer m.actions.Done()
		var b bytes.Buffer
		err := report.Write(&b, cfg, recs, report.Options{Redact: redact, Source: m.opts.JournalPath})
		if err == nil {
			err = os.WriteFile(path, b.Bytes(), 0o644)
		}
		return reportMsg{path: path, err: err}
	}
}

type reportMsg struct {
	path string
	err  error
}
