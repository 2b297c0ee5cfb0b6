package panes

import (
	"time"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Clocked is a pane whose text moves with the clock alone (ages, running
// times). The root redraws such a pane when its data changes or at the
// time ChangesAt names, and otherwise reuses what it drew: a clock tick
// redraws the status bar, not every pane.
type Clocked interface {
	// ChangesAt is the first time after now at which the pane's text would
	// read differently with no new data; zero if never.
	ChangesAt(now time.Time) time.Time
}

// ageChange is when runbook.Short(now.Sub(since)) next reads differently:
// each second below ten minutes, each minute from there.
func ageChange(now, since time.Time) time.Time {
	if since.IsZero() {
		return time.Time{}
	}
	a := now.Sub(since)
	if a < 0 {
		return now.Add(time.Second)
	}
	r := a.Round(time.Second)
	var next time.Time
	if r < 10*time.Minute {
		next = since.Add(r + time.Second/2)
	} else {
		next = since.Add(r.Truncate(time.Minute) + time.Minute - time.Second/2)
	}
	if !next.After(now) {
		next = now.Add(time.Second)
	}
	return next
}

// soonest keeps the earliest of the times it is given; zero ones are none.
type soonest time.Time

func (s *soonest) age(now, since time.Time) { s.at(ageChange(now, since)) }

func (s *soonest) at(t time.Time) {
	if !t.IsZero() && (time.Time(*s).IsZero() || t.Before(time.Time(*s))) {
		*s = soonest(t)
	}
}

// ChangesAt implements Clocked: a running step's time counts up.
func (c *Checklist) ChangesAt(now time.Time) time.Time {
	var s soonest
	if c.Data.Runbook == nil {
		return time.Time{}
	}
	for _, st := range c.Data.Runbook.Steps() {
		if st.State.Status == runbook.Running {
			s.age(now, st.State.StartedAt)
		}
	}
	return time.Time(s)
}

// ChangesAt implements Clocked: the ages of pods, revisions and events.
func (r *Rollout) ChangesAt(now time.Time) time.Time {
	var s soonest
	for _, d := range r.Data.State.Deployments {
		for _, p := range d.Pods {
			s.age(now, p.Created)
		}
		for _, h := range d.History {
			s.age(now, h.Created)
		}
	}
	for _, e := range r.Data.State.Events {
		s.age(now, e.At)
	}
	return time.Time(s)
}

// ChangesAt implements Clocked: query and transaction ages, and the age of
// a down target's last reading.
func (l *Locks) ChangesAt(now time.Time) time.Time {
	var s soonest
	for _, t := range l.Data.State.Targets {
		if t.Err != nil {
			s.age(now, t.GoodAt)
		}
		for _, b := range t.Backend {
			s.age(now, b.QueryStart)
			s.age(now, b.XactStart)
		}
	}
	return time.Time(s)
}

// ChangesAt implements Clocked: the age of the board while Jira is not
// answering, and of git's data while git fails.
func (p *Jira) ChangesAt(now time.Time) time.Time {
	if !p.Data.HasData {
		return time.Time{}
	}
	var s soonest
	if h := p.Data.Source.Health; h.State != snapshot.OK && h.State != snapshot.Waiting {
		s.age(now, p.Data.Board.At)
	}
	if p.Data.Board.GitErr != nil {
		s.age(now, p.Data.Board.GitAt)
	}
	return time.Time(s)
}

// ChangesAt implements Clocked: the running time of the run on screen.
func (o *Output) ChangesAt(now time.Time) time.Time {
	if r := o.Data.Current(); r != nil && r.Running {
		return ageChange(now, r.Started)
	}
	return time.Time{}
}
