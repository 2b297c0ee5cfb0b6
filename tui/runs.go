package tui

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/panes"
)

// runLog is where a command run's output goes: beside the journal, so a
// restarted cockpit finds the whole output of a run, even one still going.
func (m *Model) runLog(id string) string {
	if m.opts.JournalPath == "" {
		return ""
	}
	return filepath.Join(m.opts.JournalPath+".runs", id+".log")
}

// orphan is a command the previous cockpit left without a result.
type orphan struct {
	step   string
	pgid   int
	log    string
	offset int64 // how much of log the pane already shows
}

// restoreRuns rebuilds the Output pane from the journal: every command run
// with its output (the whole file where it is still there, else the tail
// the journal kept), and the runs left open by a cockpit that stopped.
// Reading the files is I/O, done once here before the program starts.
func (m *Model) restoreRuns() {
	m.orphans = map[string]*orphan{}
	started := map[string]runbook.CommandStarted{}
	for _, rec := range m.history {
		if rec.Kind != runbook.KindCommand {
			continue
		}
		switch rec.Type {
		case runbook.RecIntent:
			title := rec.Summary
			if st := m.rb.Step(rec.Step); st != nil {
				title = st.Title
			}
			r := panes.NewRun(rec.Action, title, rec.Summary, rec.At)
			r.Running = false
			m.output.Start(r)
		case runbook.RecProgress:
			var s runbook.CommandStarted
			if json.Unmarshal(rec.Data, &s) == nil {
				started[rec.Action] = s
			}
		case runbook.RecResult:
			if r := m.output.Run(rec.Action); r != nil {
				m.fillRun(r, started[rec.Action].Log, rec.Tail)
				m.output.End(rec.Action, rec.Duration.Duration(), rec.Exit, rec.Error)
			}
		}
	}
	for _, rec := range m.rb.Open() {
		r := m.output.Run(rec.Action)
		if r == nil || rec.Kind != runbook.KindCommand {
			continue
		}
		s := started[rec.Action]
		r.Orphan = s.Pgid
		offset := m.fillRun(r, s.Log, nil)
		if s.Pgid > 0 && actions.GroupAlive(s.Pgid) {
			r.OrphanAlive = true
			m.orphans[rec.Action] = &orphan{step: rec.Step, pgid: s.Pgid, log: s.Log, offset: offset}
		}
	}
	m.syncOrphans()
}

// fillRun puts a restored run's output in the pane and returns how many
// bytes of its file that was.
func (m *Model) fillRun(r *panes.Run, log string, tail []string) int64 {
	if log != "" {
		if lines, size, err := actions.ReadLog(log, panes.OutputCapacity); err == nil {
			for i, l := range lines {
				lines[i] = m.opts.Redact(l)
			}
			r.Lines.Add(lines...)
			return size
		}
	}
	r.FromJournal = true
	r.Lines.Add(tail...)
	return 0
}

func (m *Model) syncOrphans() {
	alive := map[string]int{}
	for _, o := range m.orphans {
		alive[o.step] = o.pgid
	}
	m.checklist.Data.Orphans = alive
}

type orphanEndedMsg struct {
	run string
	err error
}

// outputRequest waits for, or stops, a command the previous cockpit left.
func (m *Model) outputRequest(req panes.OutputRequest) tea.Cmd {
	o := m.orphans[req.Run]
	if o == nil {
		m.setFlash("that run is not running any more", true)
		return nil
	}
	switch req.Op {
	case panes.OpWaitOrphan:
		if m.waiting[req.Run] {
			m.setFlash(fmt.Sprintf("already waiting for process group %d", o.pgid), false)
			return nil
		}
		m.waiting[req.Run] = true
		m.setFlash(fmt.Sprintf("waiting for process group %d; its output follows", o.pgid), false)
		ctx, relay, redact, id := m.ctx, m.relay, m.opts.Redact, req.Run
		o := *o
		m.actions.Add(1)
		return func() tea.Msg {
			defer m.actions.Done()
			err := actions.FollowOrphan(ctx, o.pgid, o.log, o.offset, func(l string) { relay.Lines(id, l) }, redact)
			relay.orphanEnded(id, err)
			return nil
		}
	case panes.OpStopOrphan:
		r := m.output.Run(req.Run)
		command := ""
		if r != nil {
			command = r.Command
		}
		return m.previewAction(&actions.StopOrphan{StepID: o.step, Pgid: o.pgid, Command: command}, fmt.Sprintf("stop process group %d", o.pgid))
	}
	return nil
}

// orphanEnded queues the end of a left-over run behind its last lines.
func (r *Relay) orphanEnded(id string, err error) {
	r.push(relayEvent{orphanEnded: &orphanEndedMsg{run: id, err: err}})
}

func (m *Model) orphanEnded(msg orphanEndedMsg) tea.Cmd {
	delete(m.waiting, msg.run)
	if msg.err != nil {
		return nil // the cockpit is stopping
	}
	if r := m.output.Run(msg.run); r != nil {
		r.OrphanAlive = false
	}
	delete(m.orphans, msg.run)
	m.syncOrphans()
	m.setFlash("the left-over command has ended; its outcome is unknown — verify, then tick the step (space) or reopen it", false)
	return nil
}

// noteStopped marks an orphan gone once its stop has run.
func (m *Model) noteStopped(out actions.Outcome) {
	for id, o := range m.orphans {
		if o.step == out.Step && !actions.GroupAlive(o.pgid) {
			if r := m.output.Run(id); r != nil {
				r.OrphanAlive = false
			}
			delete(m.orphans, id)
		}
	}
	m.syncOrphans()
}
