package runbook

import (
	"slices"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
)

// Journal record types of a rehearsal: its journal opens with
// rehearsal.start and ends with rehearsal.finish, which says how it went.
const (
	RecRehearsalStart  = "rehearsal.start"
	RecRehearsalFinish = "rehearsal.finish"
)

// Usual is how long a step took in the runs history holds: the median
// actual time of the last few that did it. Runs is how many that is; zero
// when history has none.
type Usual struct {
	Median time.Duration
	Runs   int
}

// Known reports whether history has any run of the step.
func (u Usual) Known() bool { return u.Runs > 0 }

// Expected is how long the step is expected to take: its learned time
// where history has one, else its configured estimate.
func (s *Step) Expected() time.Duration {
	if s.Usual.Known() {
		return s.Usual.Median
	}
	return s.Estimate.D()
}

// Learn sets each step's learned time; steps not in usual have none.
func (r *Runbook) Learn(usual map[string]Usual) {
	for id, st := range r.byID {
		st.Usual = usual[id]
	}
}

// Learned is what Learn was given: each step's learned time, by id.
func (r *Runbook) Learned() map[string]Usual {
	out := map[string]Usual{}
	for id, st := range r.byID {
		if st.Usual.Known() {
			out[id] = st.Usual
		}
	}
	return out
}

// Learner gathers steps' actual times from past journals, real deploys and
// rehearsals alike, keeping the last runs of each step.
type Learner struct {
	cfg     *config.Config
	last    int
	samples map[string][]sample
}

type sample struct {
	at time.Time
	d  time.Duration
}

// NewLearner learns from the last runs of each step of cfg's runbook.
func NewLearner(cfg *config.Config, last int) *Learner {
	return &Learner{cfg: cfg, last: max(last, 1), samples: map[string][]sample{}}
}

// Add takes one journal's records: each step it closed by doing it counts
// once, with the actual time the checklist showed for it. A skipped,
// failed or unfinished step does not count, nor one verified by hand after
// an interrupted run (its time includes the outage), nor a manual step of
// a rehearsal, which a machine ticked without anyone doing it.
func (l *Learner) Add(recs []journal.Record) {
	rb := New(l.cfg)
	closedBy := map[string]string{}
	for _, rec := range recs {
		rb.Apply(rec)
		switch rec.Type {
		case RecStepCheck, RecStepSkip, RecResult, RecVerify, RecStepReopen, RecIntent:
			if rec.Step != "" {
				closedBy[rec.Step] = rec.Type
			}
		}
	}
	for _, st := range rb.Steps() {
		s := st.State
		switch {
		case s.Status != Done, closedBy[st.ID] == RecVerify, rb.Rehearsal && st.Kind == config.Manual:
			continue
		case s.StartedAt.IsZero() || s.EndedAt.Before(s.StartedAt):
			continue
		}
		l.samples[st.ID] = append(l.samples[st.ID], sample{at: s.EndedAt, d: s.EndedAt.Sub(s.StartedAt)})
	}
}

// Enough reports whether every step of the normal flow has its last runs,
// so older journals need not be read. Contingency steps run too rarely to
// wait for.
func (l *Learner) Enough() bool {
	for _, p := range l.cfg.Phases {
		if p.Contingency {
			continue
		}
		for _, s := range p.Steps {
			if len(l.samples[s.ID]) < l.last {
				return false
			}
		}
	}
	return true
}

// Usual is each step's learned time: the median of its last runs, newest
// by when the step closed, whatever order the journals came in.
func (l *Learner) Usual() map[string]Usual {
	out := map[string]Usual{}
	for id, ss := range l.samples {
		ss = slices.Clone(ss)
		slices.SortFunc(ss, func(a, b sample) int { return a.at.Compare(b.at) })
		if len(ss) > l.last {
			ss = ss[len(ss)-l.last:]
		}
		ds := make([]time.Duration, len(ss))
		for i, s := range ss {
			ds[i] = s.d
		}
		out[id] = Usual{Median: Median(ds), Runs: len(ds)}
	}
	return out
}

// Median is the middle duration, or the mean of the two middle ones; zero
// for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}
