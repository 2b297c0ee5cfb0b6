package tui

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// The source panes are given what they show of the config, not the config,
// and are shown their sources through one entry point, Show.

// RolloutSettings is what the rollout pane shows of cfg: its [kubernetes]
// section, and the window's zone for the smoke checks' times.
func RolloutSettings(cfg *config.Config) panes.RolloutSettings {
	s := panes.RolloutSettings{ConfigPath: cfg.Path, Location: cfg.Window.Location}
	if k := cfg.Kubernetes; k != nil {
		s.Configured = true
		s.Context, s.Namespaces, s.Deployments, s.Selector = k.Context, k.Namespaces, k.Deployments, k.Selector
		s.ProgressTimeout = k.ProgressTimeout.D()
		if k.Several() {
			for _, c := range k.ClusterList() {
				ctx := c.Context
				if ctx == "" {
					ctx = "(current context)"
				}
				s.Clusters = append(s.Clusters, fmt.Sprintf("cluster %s: context %s, namespaces %s", c.Name, ctx, strings.Join(c.Namespaces, ", ")))
			}
		}
	}
	return s
}

// LocksSettings is what the DB locks pane shows of cfg: its [postgres]
// section.
func LocksSettings(cfg *config.Config) panes.LocksSettings {
	s := panes.LocksSettings{ConfigPath: cfg.Path}
	if p := cfg.Postgres; p != nil {
		s.Configured = true
		for _, t := range p.Targets {
			s.Targets = append(s.Targets, t.Name)
		}
		s.LockThreshold, s.LongQuery, s.Poll = p.LockThreshold.D(), p.LongQuery.D(), p.Poll.D()
	}
	return s
}

// JiraSettings is what the board pane shows of cfg: its [jira] section.
func JiraSettings(cfg *config.Config) panes.JiraSettings {
	s := panes.JiraSettings{ConfigPath: cfg.Path}
	if j := cfg.Jira; j != nil {
		s.Configured = true
		s.Board, s.Project = j.Board, j.Project
		for _, c := range j.Columns {
			s.Columns = append(s.Columns, snapshot.ColumnRules(c))
		}
		for _, m := range j.Moves {
			s.Moves = append(s.Moves, panes.JiraMove{From: m.From, To: m.To})
		}
	}
	return s
}

// ErrorsSettings is what the errors pane shows of cfg: its [sentry]
// section, in the deploy window's zone.
func ErrorsSettings(cfg *config.Config) panes.ErrorsSettings {
	s := panes.ErrorsSettings{ConfigPath: cfg.Path, Location: cfg.Window.Location}
	if e := cfg.Sentry; e != nil {
		s.Configured = true
		s.Org, s.Projects, s.Environment = e.Org, e.Projects, e.Environment
		s.Baseline = e.Baseline.D()
		s.SpikeFactor, s.SpikeFloor, s.SpikeIntervals = e.SpikeFactor, e.SpikeFloor, e.SpikeIntervals
		s.Ignore = e.Ignore
	}
	return s
}

// showSources shows each source pane its feed, as of the updates so far
// and the clock, with what the cockpit knows beside it.
func (m *Model) showSources() {
	var smoke *snapshot.Smoke
	if f := feedOf[snapshot.Smoke](m, smokeSource); f.HasData {
		smoke = &f.Data
	}
	m.rollout.Show(feedOf[snapshot.Rollout](m, "kubernetes"), panes.RolloutContext{LKG: m.status.LKG, Smoke: smoke})
	var pre *snapshot.Preflight
	if f := feedOf[snapshot.Preflight](m, migrationsSource); f.HasData {
		pre = &f.Data
	}
	m.locks.Show(feedOf[snapshot.DBState](m, "postgres"), panes.LocksContext{Pods: m.status.PodsByClient, Preflight: pre})
	m.jira.Show(feedOf[snapshot.Board](m, "jira"))
	m.errs.Show(feedOf[snapshot.ErrorRate](m, "sentry"))
}

// feedOf is what a source pane is shown of section: the last good reading
// of its live source, or the probe answers of a section that has none, and
// the health of either now.
func feedOf[T any](m *Model, section string) snapshot.Feed[T] {
	f := snapshot.Feed[T]{Now: m.now}
	u, ok := m.updates[section]
	if !ok {
		return f
	}
	f.Health = m.health(section)
	switch data := u.Data.(type) {
	case T:
		if !u.GoodAt.IsZero() {
			f.Data, f.HasData = data, true
		}
	case []snapshot.Reach:
		f.Reach = data
	}
	return f
}
