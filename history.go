package main

import (
	"log/slog"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// learnedTimes is how long each step usually takes, from the deploy's
// earlier journals in the state directory, real deploys' and rehearsals'
// alike: the median of the last [rehearsal] history runs of each step.
// The journal being driven (current) is not history. It is read once, at
// start: newest journals first, stopping as soon as every step of the
// normal flow has its runs, and never more than a bounded number of
// files, so a year of deploys does not slow the cockpit's start.
func learnedTimes(cfg *config.Config, current string, log *slog.Logger) map[string]runbook.Usual {
	n := cfg.RehearsalOrDefault().History
	l := runbook.NewLearner(cfg, n)
	limit, read := max(4*n, 20), 0
	for _, path := range journal.History(stateDir(), cfg.Deploy.Name) {
		if path == current {
			continue
		}
		if read >= limit || l.Enough() {
			break
		}
		rep, err := journal.Read(path)
		if err != nil {
			// One damaged journal costs its runs, not the estimates.
			log.Warn("history: a journal cannot be read", "journal", path, "err", err)
			continue
		}
		l.Add(rep.Records)
		read++
	}
	usual := l.Usual()
	log.Info("history", "journals", read, "steps_learned", len(usual), "runs", n)
	return usual
}
