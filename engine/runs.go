package engine

import (
	"encoding/json"
	"fmt"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

// RunCapacity is how many lines of output the engine keeps per command
// run, for a view that joins late.
const RunCapacity = 10000

// run is a command run as the views show it, with its newest lines.
type run struct{ view.RunInfo }

func (r *run) add(lines ...string) {
	r.Lines = append(r.Lines, lines...)
	if over := len(r.Lines) - RunCapacity; over > 0 {
		r.Lines = append(r.Lines[:0:0], r.Lines[over:]...)
	}
}

func (r *run) end(x view.Ended) {
	r.Running, r.Took, r.Exit, r.Err = false, x.Took, x.Exit, x.Err
}

func (r *run) info() view.RunInfo {
	i := r.RunInfo
	i.Lines = append([]string(nil), r.Lines...)
	return i
}

func (e *Engine) addRun(info view.RunInfo) *run {
	r := &run{RunInfo: info}
	r.Lines = append([]string(nil), info.Lines...)
	if _, ok := e.runs[info.ID]; !ok {
		e.runOrder = append(e.runOrder, info.ID)
	}
	e.runs[info.ID] = r
	return r
}

// orphan is a command the previous cockpit left without a result.
type orphan struct {
	step   string
	pgid   int
	log    string
	offset int64 // how much of log the views already have
}

// restoreRuns rebuilds the command runs from the journal: each with its
// output (the whole file where it is still there, else the tail the journal
// kept), and the runs left open by a cockpit that stopped. Reading the files
// is I/O, done once here before anything is served.
func (e *Engine) restoreRuns() {
	started := map[string]runbook.CommandStarted{}
	for _, rec := range e.history {
		if rec.Kind != runbook.KindCommand {
			continue
		}
		switch rec.Type {
		case runbook.RecIntent:
			title := rec.Summary
			if st := e.rb.Step(rec.Step); st != nil {
				title = st.Title
			}
			e.addRun(view.RunInfo{ID: rec.Action, Step: rec.Step, Title: title, Command: rec.Summary, Started: rec.At})
		case runbook.RecProgress:
			var s runbook.CommandStarted
			if json.Unmarshal(rec.Data, &s) == nil {
				started[rec.Action] = s
			}
		case runbook.RecResult:
			if r := e.runs[rec.Action]; r != nil {
				e.fillRun(r, started[rec.Action].Log, rec.Tail)
				r.end(view.Ended{Took: rec.Duration.Duration(), Exit: rec.Exit, Err: rec.Error})
			}
		}
	}
	for _, rec := range e.rb.Open() {
		r := e.runs[rec.Action]
		if r == nil || rec.Kind != runbook.KindCommand {
			continue
		}
		s := started[rec.Action]
		r.Orphan = s.Pgid
		offset := e.fillRun(r, s.Log, nil)
		if s.Pgid > 0 && actions.GroupAlive(s.Pgid) {
			r.OrphanAlive = true
			e.orphans[rec.Action] = &orphan{step: rec.Step, pgid: s.Pgid, log: s.Log, offset: offset}
		}
	}
}

// fillRun puts a restored run's output in it and returns how many bytes of
// its file that was.
func (e *Engine) fillRun(r *run, log string, tail []string) int64 {
	if log != "" {
		if lines, size, err := actions.ReadLog(log, RunCapacity); err == nil {
			for i, l := range lines {
				lines[i] = e.opts.Redact(l)
			}
			r.add(lines...)
			return size
		}
	}
	r.FromJournal = true
	r.add(tail...)
	return 0
}

// orphanSteps are the steps whose command still runs, with its group.
func (e *Engine) orphanSteps() map[string]int {
	alive := map[string]int{}
	for _, o := range e.orphans {
		alive[o.step] = o.pgid
	}
	return alive
}

// waitOrphan follows a left-over command's output to its end.
func (e *Engine) waitOrphan(id string) (string, error) {
	o := e.orphans[id]
	if o == nil {
		return "", fmt.Errorf("that run is not running any more")
	}
	if e.waiting[id] {
		return fmt.Sprintf("already waiting for process group %d", o.pgid), nil
	}
	e.waiting[id] = true
	in, redact, oc := e.in, e.opts.Redact, *o
	e.goOwned(func() {
		err := actions.FollowOrphan(e.ctx, oc.pgid, oc.log, oc.offset, func(l string) { in.Lines(id, l) }, redact)
		in.push(item{orphanEnded: &orphanEnd{run: id, err: err}})
	})
	return fmt.Sprintf("waiting for process group %d; its output follows", o.pgid), nil
}

func (e *Engine) orphanEnded(end orphanEnd) []view.Event {
	delete(e.waiting, end.run)
	if end.err != nil {
		return nil // the engine is stopping
	}
	if r := e.runs[end.run]; r != nil {
		r.OrphanAlive = false
	}
	delete(e.orphans, end.run)
	return []view.Event{{OrphanEnded: end.run}, {Notice: &view.Notice{
		Text: "the left-over command has ended; its outcome is unknown — verify, then tick the step (space) or reopen it"}}}
}

// noteStopped marks an orphan gone once its stop has run.
func (e *Engine) noteStopped(out actions.Outcome) []view.Event {
	var events []view.Event
	for id, o := range e.orphans {
		if o.step == out.Step && !actions.GroupAlive(o.pgid) {
			if r := e.runs[id]; r != nil {
				r.OrphanAlive = false
			}
			delete(e.orphans, id)
			events = append(events, view.Event{OrphanEnded: id})
		}
	}
	return events
}
