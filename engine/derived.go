package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// notePeaks journals the worst lock wait and error rate whenever a reading
// beats the last one recorded, for the deploy record. A wait is recorded
// again only when it has grown by a quarter, so a wait growing second by
// second leaves a handful of records, not one a second.
func (e *Engine) notePeaks(data any) {
	if e.opts.ReadOnly {
		return // the driver's engine records them
	}
	var rec journal.Record
	switch d := data.(type) {
	case snapshot.DBState:
		var best report.LockPeak
		for _, t := range d.Targets {
			if t.Err != nil || len(t.Waits) == 0 {
				continue
			}
			w := t.Waits[0]
			if ms := w.For.Milliseconds(); ms > best.WaitMS {
				best = report.LockPeak{WaitMS: ms, At: t.At, Target: t.Name, PID: int(w.PID), Relation: w.Relation}
				if len(w.BlockedBy) > 0 {
					best.Blocker = int(w.BlockedBy[0])
				}
			}
		}
		if best.WaitMS < 1000 || float64(best.WaitMS) < 1.25*float64(e.lockPeakMS) {
			return
		}
		e.lockPeakMS = best.WaitMS
		rec = best.Record()
	case snapshot.ErrorRate:
		if !d.HasPeak || d.Peak.Count <= e.errorPeak {
			return
		}
		e.errorPeak = d.Peak.Count
		p := report.ErrorPeak{PerMinute: d.Peak.Count, At: d.Peak.At, BaselineMean: d.Baseline.Mean, Threshold: d.Threshold, Spike: d.Spike}
		rec = p.Record()
	default:
		return
	}
	note := &actions.Note{Rec: rec}
	e.execute(note, note.Rec.Summary, 0, nil, false)
}

// replayPeaks starts the peak marks from the journal, so a restart does
// not record the same peak again.
func (e *Engine) replayPeaks() {
	for _, r := range e.history {
		switch r.Type {
		case report.RecLockPeak:
			var p report.LockPeak
			if jsonInto(r.Data, &p) && p.WaitMS > e.lockPeakMS {
				e.lockPeakMS = p.WaitMS
			}
		case report.RecErrorPeak:
			var p report.ErrorPeak
			if jsonInto(r.Data, &p) && p.PerMinute > e.errorPeak {
				e.errorPeak = p.PerMinute
			}
		}
	}
}

// ReportPath is where the deploy record is written when the deploy is
// finished: beside the journal.
func ReportPath(journalPath string) string {
	return strings.TrimSuffix(journalPath, ".jsonl") + ".md"
}

// maybeReport writes the deploy record once the deploy is finished (every
// step closed, or deploy.finish), and again whenever the journal grows
// after that, in a goroutine the engine owns, so quitting waits for the
// file.
func (e *Engine) maybeReport() []view.Event {
	closed, total := e.rb.Progress()
	done := (total > 0 && closed == total) || !e.rb.Finished.IsZero()
	if !done || e.opts.JournalPath == "" || e.opts.ReadOnly || e.reportedLen == len(e.history) {
		return nil
	}
	if e.reporting {
		e.reportAgain = true
		return nil
	}
	e.reporting = true
	first := e.reportedLen == 0
	cfg, recs, path, redact := e.cfg, append([]journal.Record(nil), e.history...), ReportPath(e.opts.JournalPath), e.opts.Redact
	e.goOwned(func() {
		var b bytes.Buffer
		err := report.Write(&b, cfg, recs, report.Options{Redact: redact, Source: e.opts.JournalPath})
		if err == nil {
			err = writeFileAtomic(path, b.Bytes())
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		// A record that could not be written is tried again at the next
		// journal record.
		e.reporting = false
		if err == nil {
			e.reportedLen = len(recs)
		}
		var events []view.Event
		switch {
		case err != nil:
			events = append(events, view.Event{Notice: &view.Notice{Text: redact("the deploy record could not be written to " + path + ": " + err.Error()), Err: true}})
		case first:
			events = append(events, view.Event{Notice: &view.Notice{Text: "the deploy is finished: the deploy record is in " + path}})
		}
		if e.reportAgain {
			e.reportAgain = false
			events = append(events, e.maybeReport()...)
		}
		if len(events) > 0 {
			e.publish(nil, nil, events)
		}
	})
	return nil
}

// writeFileAtomic replaces path whole: a reader never sees half a record,
// however often it is rewritten.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fileExists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

func jsonInto(data []byte, v any) bool { return len(data) > 0 && json.Unmarshal(data, v) == nil }
