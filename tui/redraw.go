package tui

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/view"
)

// A pane is drawn again only when what it shows has changed: its data (a
// stamp the view bumps), its size or focus, or the clock at the time the
// pane says its text moves (panes.Clocked). A clock tick with nothing new
// redraws the status bar alone.

// drawn is a pane as last drawn.
type drawn struct {
	w, h    int
	focused bool
	stamp   uint64
	until   time.Time // zero: the text does not move with the clock
	lines   []string
}

// touch marks panes as changed.
func (m *Model) touch(ps ...int) {
	for _, p := range ps {
		m.stamps[p]++
	}
}

func (m *Model) touchAll() {
	for p := range m.stamps {
		m.stamps[p]++
	}
	m.barStamp++
}

// drawnBar is the status bar as drawn at a width and bar stamp.
type drawnBar struct {
	stamp uint64
	width int
	line  string
}

// drawnGrid is the panes laid out as last drawn, with the first line of
// each pane's lines it was built from.
type drawnGrid struct {
	w, h  int
	zoom  bool
	focus int
	from  [paneCount]*string
	rows  []string
}

// drawnFrame is the whole frame as last drawn.
type drawnFrame struct {
	mode        mode
	bar, bottom string
	out         string
}

// paneLines is pane p drawn at w×h, line by line, or what was drawn last
// if nothing it shows has changed since.
func (m *Model) paneLines(p, w, h int) []string {
	d := &m.drawn[p]
	focused := p == m.focus
	if d.lines != nil && d.w == w && d.h == h && d.focused == focused && d.stamp == m.stamps[p] &&
		(d.until.IsZero() || m.now.Before(d.until)) {
		return d.lines
	}
	out := strings.Split(m.panes[p].View(w, h), "\n")
	// A reading that changes nothing on screen (a poll with the same
	// answer) keeps the lines drawn before, so the frame stays the same
	// string and nothing downstream works again.
	if d.lines != nil && slices.Equal(out, d.lines) {
		out = d.lines
	}
	var until time.Time
	if c, ok := m.panes[p].(panes.Clocked); ok {
		until = c.ChangesAt(m.now)
	}
	*d = drawn{w: w, h: h, focused: focused, stamp: m.stamps[p], until: until, lines: out}
	return out
}

// sectionPane is the pane a config section's source feeds.
var sectionPane = map[string]int{"kubernetes": paneRollout, "postgres": paneLocks, "jira": paneJira, "sentry": paneErrors}

// migrationsSource feeds the DB pane's pre-flight.
const migrationsSource = "migrations"

// smokeSource feeds the rollout pane's smoke checks.
const smokeSource = "smoke"

// fed is what a source pane was last shown besides its data: its health as
// drawn and what the engine said beside it.
type fed struct {
	health string
	extra  any
}

// touchChanged marks the panes a batch changes.
func (m *Model) touchChanged(b view.Batch, before view.Status) {
	if b.Initial {
		m.touchAll()
		return
	}
	for _, u := range b.Updates {
		if p, ok := sectionPane[u.Source]; ok {
			m.touch(p)
		}
		if u.Source == migrationsSource {
			m.touch(paneLocks) // the pre-flight is shown there
		}
		if u.Source == smokeSource {
			m.touch(paneRollout) // the smoke checks are shown there
		}
		if u.Source == "kubernetes" {
			m.barStamp++ // what runs where, with several clusters
		}
		if _, ok := u.Data.(noted); ok {
			m.barStamp++
		}
	}
	for _, e := range b.Events {
		switch {
		case e.Record != nil, e.OrphanEnded != "":
			m.touch(paneChecklist, paneOutput)
			m.barStamp++ // the clock counts the steps left
		case e.Lines != nil, e.Started != nil, e.Ended != nil:
			m.touch(paneOutput)
		}
	}
	if b.Status == nil {
		return
	}
	m.barStamp++
	if !reflect.DeepEqual(before.Gates, b.Status.Gates) || !reflect.DeepEqual(before.Orphans, b.Status.Orphans) {
		m.touch(paneChecklist)
	}
	extra := map[int]any{paneRollout: b.Status.LKG, paneLocks: b.Status.PodsByClient}
	for sec, p := range sectionPane {
		f := fed{health: panes.HealthMark(m.health(sec), m.th), extra: extra[p]}
		if old := m.fed[p]; old.health != f.health || !sameMap(old.extra, f.extra) {
			m.touch(p)
		}
		m.fed[p] = f
	}
}

// sameMap reports whether a and b are the same map: the engine hands out a
// new map only when its contents change, and comparing thousands of pods
// entry by entry every frame would cost more than drawing the pane.
func sameMap(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return va.IsValid() == vb.IsValid()
	}
	return va.Type() == vb.Type() && va.Kind() == reflect.Map && va.UnsafePointer() == vb.UnsafePointer()
}
