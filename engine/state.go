package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// applyUpdate takes a source's newest snapshot: the clock, gate facts, the
// rollback targets on the first reading, and the peaks for the record.
func (e *Engine) applyUpdate(u snapshot.Update) []view.Event {
	e.updates[u.Source] = u
	switch data := u.Data.(type) {
	case time.Time:
		if u.Source == "clock" {
			e.now = data
		}
	case snapshot.Rollout:
		e.setFacts(u, data.Facts())
		if e.lkg == nil && u.Err == nil && len(data.Deployments) > 0 {
			e.recordLKG(data.LastKnownGood())
		} else if more := e.lateClusters(u, data); len(more) > 0 {
			e.recordLKG(append(e.lkgList(), more...))
		}
	case snapshot.DBState:
		e.setFacts(u, data.Facts())
		e.notePeaks(data)
	case snapshot.Board:
		e.setFacts(u, data.Facts())
	case snapshot.Preflight:
		e.setFacts(u, data.Facts())
		e.notePreflight(data)
	case snapshot.ErrorRate:
		e.setFacts(u, data.Facts())
		if u.Err == nil {
			e.notePeaks(data)
		}
	case snapshot.Smoke:
		e.setFacts(u, data.Facts())
	}
	return nil
}

// setFacts records a source's gate inputs. A source that is down or has no
// good data yet makes its gates unknown: a gate must never pass on data the
// cockpit cannot vouch for.
func (e *Engine) setFacts(u snapshot.Update, f gates.Facts) {
	ok := u.Err == nil && !u.GoodAt.IsZero()
	for name, fact := range f {
		if !ok {
			fact = gates.Fact{Detail: "down: " + snapshot.OneLine(fmt.Sprint(u.Err))}
		}
		e.facts[name] = fact
		e.factFrom[name] = u.Source
	}
}

// refreshGates evaluates the gates on the facts that are still fresh: a
// source that has said nothing for too long (a hung connection looks just
// like that) makes its gates unknown, as a source that is down does.
func (e *Engine) refreshGates() {
	facts := make(gates.Facts, len(e.facts))
	for name, f := range e.facts {
		if src, ok := e.factFrom[name]; ok && f.Known {
			if h := e.judge(e.updates[src]); h.State == snapshot.Stale {
				f = gates.Fact{Detail: "stale: no reading for " + runbook.Short(h.Age)}
			}
		}
		facts[name] = f
	}
	e.gates = e.rb.Gates(facts)
}

// partlyDown is data from a source that reads several systems at once and
// stays up while one of them is down (the locks source and its targets).
type partlyDown interface{ Down() error }

// judge is a source's health now; a source partly down shows as down, with
// the part named.
func (e *Engine) judge(u snapshot.Update) snapshot.Health {
	h := snapshot.Judge(u, e.now, e.staleAfter(u.Source))
	if p, ok := u.Data.(partlyDown); ok && u.Err == nil {
		if err := p.Down(); err != nil {
			h.State, h.Reason = snapshot.Down, snapshot.OneLine(err.Error())
		}
	}
	return h
}

// staleAfter is how old a source's good data may be before it shows as
// stale: the engine's limit, or for the smoke checks, which read only every
// interval, two of their longest intervals if that is longer.
func (e *Engine) staleAfter(source string) time.Duration {
	limit := e.opts.StaleAfter
	if source == "smoke" {
		for _, s := range e.cfg.Smoke {
			limit = max(limit, 2*s.Interval.D())
		}
	}
	return limit
}

// restoreLKG takes the rollback targets an earlier run of the cockpit kept.
func (e *Engine) restoreLKG() {
	if rec, ok := e.rb.Last(RecLastKnownGood); ok {
		var list []snapshot.LastKnownGood
		if json.Unmarshal(rec.Data, &list) == nil {
			e.setLKG(list)
		}
	}
}

func (e *Engine) setLKG(list []snapshot.LastKnownGood) {
	e.lkg = map[string]snapshot.LastKnownGood{}
	for _, l := range list {
		e.lkg[l.Key()] = l
	}
}

// lkgList is the rollback targets in key order.
func (e *Engine) lkgList() []snapshot.LastKnownGood {
	var out []snapshot.LastKnownGood
	for _, k := range slices.Sorted(maps.Keys(e.lkg)) {
		out = append(out, e.lkg[k])
	}
	return out
}

// lateClusters are the rollback targets of clusters read for the first
// time after the others: one that was down when the cockpit started must
// still be rolled back with the rest.
func (e *Engine) lateClusters(u snapshot.Update, data snapshot.Rollout) []snapshot.LastKnownGood {
	if e.lkg == nil || u.Err != nil || len(data.Clusters) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, l := range e.lkg {
		known[l.Cluster] = true
	}
	var more []snapshot.LastKnownGood
	for _, l := range data.LastKnownGood() {
		if !known[l.Cluster] {
			more = append(more, l)
		}
	}
	return more
}

// recordLKG keeps what ran when the cockpit first saw the deploy: that is
// what R rolls back to, and a restart must not move it.
func (e *Engine) recordLKG(list []snapshot.LastKnownGood) {
	e.setLKG(list)
	if e.opts.ReadOnly {
		return // the driver's engine records it; a watcher only shows it
	}
	data, _ := json.Marshal(list)
	var parts []string
	for _, l := range list {
		parts = append(parts, fmt.Sprintf("%s %s rev %d", l.Name, snapshot.Tag(l.Image), l.Revision))
	}
	note := &actions.Note{Rec: journal.Record{Type: RecLastKnownGood, Summary: "rollback target: " + strings.Join(parts, ", "), Data: data}}
	e.execute(note, note.Rec.Summary, 0, nil, false)
}

// podsByClient maps what a database sees of a client to its pod: the
// application_name the pod set to its own name, which Postgres cuts to 63
// bytes, or the pod's address. An address pods share (host networking, a
// proxy's) names none of them: a wrong pod is worse than none.
func podsByClient(s snapshot.Rollout) map[string]string {
	const appNameMax = 63 // NAMEDATALEN - 1
	pods := map[string]string{}
	shared := map[string]bool{}
	for _, d := range s.Deployments {
		for _, p := range d.Pods {
			pods[p.Name] = p.Name
			if len(p.Name) > appNameMax {
				pods[p.Name[:appNameMax]] = p.Name
			}
			if p.IP == "" {
				continue
			}
			if other, ok := pods[p.IP]; ok && other != p.Name {
				shared[p.IP] = true
			}
			pods[p.IP] = p.Name
		}
	}
	for ip := range shared {
		delete(pods, ip)
	}
	return pods
}
