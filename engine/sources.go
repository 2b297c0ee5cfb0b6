package engine

import (
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// ReachInterval is how often a configured system without a live source of
// its own is probed.
const ReachInterval = 15 * time.Second

// buildSources makes the live sources the engine talks back to: the board
// (read again after a move or a fetch) and Sentry (told the deploy start and
// each rollback).
func (e *Engine) buildSources() {
	cfg := e.cfg
	if cfg.Jira != nil && len(cfg.SecretErrors["jira"]) == 0 {
		e.board = sources.NewBoardSource(cfg, e.opts.Day)
	}
	if cfg.Sentry != nil && len(cfg.SecretErrors["sentry"]) == 0 {
		s, err := sources.NewSentry(cfg.Sentry, sources.SentryOptions{})
		if err != nil {
			e.opts.Log.Warn("sentry source", "err", err)
		} else {
			e.sentry = s
			e.sentry.SetDeploy(e.deployMarks())
		}
	}
	if cfg.Migrations != nil {
		e.migrations = &sources.Migrations{Config: cfg, Day: e.opts.Day}
	}
	e.buildSmoke()
}

// deployMarks are the deploy's start, release and rollbacks, from the
// journal as replayed so far.
func (e *Engine) deployMarks() snapshot.DeployMarks {
	marks := snapshot.DeployMarks{Start: e.rb.Started, Release: e.vars["release"]}
	for _, r := range e.history {
		if r.Type == runbook.RecResult && r.Kind == actions.KindKubeRollback {
			marks.Rollbacks = append(marks.Rollbacks, r.At)
		}
	}
	return marks
}

// startSources starts the window clock and one source per configured
// system. A system with a live source reports its own health; the others
// are probed for reachability.
func (e *Engine) startSources(g *sources.Group) {
	cfg, emit := e.cfg, e.in.Emit
	sources.Start(g, sources.Clock{}, sources.DefaultBackoff, emit)
	live := map[string]bool{}
	if cfg.Kubernetes != nil {
		sources.Start(g, &sources.Kube{Config: cfg.Kubernetes}, sources.DefaultBackoff, emit)
		live["kubernetes"] = true
	}
	if cfg.Postgres != nil {
		sources.Start(g, &sources.Postgres{Config: cfg, Day: e.opts.Day}, sources.DefaultBackoff, emit)
		live["postgres"] = true
	}
	if e.board != nil {
		sources.Start(g, e.board, sources.DefaultBackoff, emit)
		live["jira"] = true
	}
	if e.sentry != nil {
		sources.Start(g, e.sentry, sources.DefaultBackoff, emit)
		live["sentry"] = true
	}
	if e.migrations != nil {
		sources.Start(g, e.migrations, sources.DefaultBackoff, emit)
	}
	e.startSmoke(g)
	for _, sec := range snapshot.Sections {
		if !sources.Configured(cfg, sec) || live[sec] {
			continue
		}
		src := sources.Reachability{Config: cfg, Section: sec, Interval: ReachInterval, Day: e.opts.Day}
		sources.Start(g, src, sources.DefaultBackoff, emit)
	}
}

// sectionProblem says why a configured system cannot be used.
func (e *Engine) sectionProblem(section string) string {
	if errs := e.cfg.SecretErrors[section]; len(errs) > 0 {
		return errs.Error()
	}
	if !sources.Configured(e.cfg, section) {
		return fmt.Sprintf("no [%s] section in %s", section, e.cfg.Path)
	}
	return "its configuration was refused; see the log"
}

func (e *Engine) deployMarker(stage, step string) *actions.DeployMarker {
	return &actions.DeployMarker{Client: e.sentry.Client(), Release: e.vars["release"], Stage: stage,
		Deploy: e.cfg.Deploy.Name, Started: e.rb.Started, StepID: step}
}
