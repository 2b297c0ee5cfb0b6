package tui

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// batchMsg is what the engine published since the view last read.
type batchMsg view.Batch

// applyBatch brings the view up to date: the whole state when the batch
// is initial, then the sources' newest snapshots, the status, and every
// record, line and end in the order they happened.
func (m *Model) applyBatch(b view.Batch) tea.Cmd {
	if b.Status != nil && !b.Initial && m.onlyTimePassed(b.Status) {
		b.Status = nil
	}
	defer m.touchChanged(b, m.status)
	if b.Initial {
		m.restart(b)
	}
	if b.Status != nil {
		m.status = *b.Status
		m.now = b.Status.Now
		m.awaitStatus = false
		m.expireFlash()
	}
	for _, u := range b.Updates {
		m.updates[u.Source] = u
	}
	// Lines, records and ends in the order they happened: a run's lines
	// are in the pane before the result that ends it.
	for _, e := range b.Events {
		switch {
		case e.Lines != nil:
			m.output.Append(e.Run, e.Lines)
		case e.Started != nil:
			m.output.Start(runOf(*e.Started))
		case e.Record != nil:
			m.rb.Apply(*e.Record)
		case e.Ended != nil:
			if e.Ended.Command {
				m.output.End(e.Ended.ID, e.Ended.Took, e.Ended.Exit, e.Ended.Err)
			}
		case e.Notice != nil:
			m.notice(*e.Notice)
		case e.OrphanEnded != "":
			if r := m.output.Run(e.OrphanEnded); r != nil {
				r.OrphanAlive = false
			}
		}
	}
	m.syncStatus()
	var cmds []tea.Cmd
	if m.quitting && !m.busy() {
		cmds = append(cmds, tea.Quit)
	}
	if !m.spinning && m.anyCommandRunning() {
		m.spinning = true
		cmds = append(cmds, spinTick())
	}
	return tea.Batch(cmds...)
}

// onlyTimePassed: st says nothing the view does not know but the time, and
// the view's clock may wait (Options.ClockEvery).
func (m *Model) onlyTimePassed(st *view.Status) bool {
	if m.opts.ClockEvery <= 0 || st.Now.Sub(m.now) >= m.opts.ClockEvery {
		return false
	}
	was := m.status
	return st.KubeDenied == was.KubeDenied &&
		sameMap(st.LKG, was.LKG) && sameMap(st.PodsByClient, was.PodsByClient) &&
		sameHealth(st.Health, was.Health) && reflect.DeepEqual(st.Gates, was.Gates) &&
		reflect.DeepEqual(st.Orphans, was.Orphans) && reflect.DeepEqual(st.Running, was.Running) &&
		slices.Equal(st.Watchers, was.Watchers) && reflect.DeepEqual(st.Advisory, was.Advisory)
}

// sameHealth compares health as the screen shows it: the age of a
// source's last good reading grows every tick and is shown only when it
// is stale.
func sameHealth(a, b map[string]snapshot.Health) bool {
	if len(a) != len(b) {
		return false
	}
	for k, ha := range a {
		hb, ok := b[k]
		if !ok || ha.Source != hb.Source || ha.State != hb.State || ha.Reason != hb.Reason {
			return false
		}
		if ha.State == snapshot.Stale && ha.Age != hb.Age {
			return false
		}
	}
	return true
}

// restart drops what the view holds for the engine's whole state.
func (m *Model) restart(b view.Batch) {
	m.synced = true
	m.rb = runbook.New(m.opts.Config)
	m.rb.Learn(b.Learned)
	m.checklist.Data.Runbook = m.rb
	for _, rec := range b.History {
		m.rb.Apply(rec)
	}
	running := map[string]bool{}
	if b.Status != nil {
		for _, r := range b.Status.Running {
			running[r.ID] = true
		}
	}
	m.rb.InterruptedBut(running)
	m.output.Reset()
	for _, r := range b.Runs {
		m.output.Start(runOf(r))
	}
	m.updates = map[string]snapshot.Update{}
}

// runOf is a run as the Output pane holds it.
func runOf(i view.RunInfo) *panes.Run {
	r := panes.NewRun(i.ID, i.Title, i.Command, i.Started)
	r.Lines.Add(i.Lines...)
	r.Running, r.Exit, r.Err = i.Running, i.Exit, i.Err
	if !i.Running {
		r.Ended = i.Started.Add(i.Took)
	}
	r.FromJournal, r.Orphan, r.OrphanAlive = i.FromJournal, i.Orphan, i.OrphanAlive
	return r
}

// health is a section's health as the engine judged it.
func (m *Model) health(section string) snapshot.Health {
	if h, ok := m.status.Health[section]; ok {
		return h
	}
	return snapshot.Health{Source: section}
}

// syncStatus hands the engine's judgement to the panes: health ages with
// the clock even when a source says nothing.
func (m *Model) syncStatus() {
	m.showSources()
	m.checklist.Data.Now = m.now
	m.output.Data.Now = m.now
	m.checklist.Data.Gates = m.status.Gates
	m.checklist.Data.Orphans = m.status.Orphans
}

// notice shows what the engine said; what follows a rollback adds to its
// message rather than hiding it.
func (m *Model) notice(n view.Notice) {
	if n.FollowUp && m.flash != nil && !m.flash.isErr {
		m.setFlash(m.flash.text+" · "+strings.TrimPrefix(n.Text, "done: "), false)
		return
	}
	m.setFlash(n.Text, n.Err)
}

// Sections with health marks, in status bar order.
func (m *Model) healthList() []snapshot.Health {
	var out []snapshot.Health
	for _, sec := range snapshot.Sections {
		if h, ok := m.status.Health[sec]; ok {
			out = append(out, h)
		}
	}
	return out
}

// runningTitles lists what runs now, for the quit question.
func (m *Model) runningTitles() []string {
	var t []string
	for _, r := range m.status.Running {
		t = append(t, r.Title)
	}
	sort.Strings(t)
	return t
}

func (m *Model) anyCommandRunning() bool {
	for _, r := range m.status.Running {
		if r.Command {
			return true
		}
	}
	return false
}
