package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/view"
)

// Journal records of the rollback advisory.
const (
	RecAdvisoryRaise = "advisory.raise"
	RecAdvisoryClear = "advisory.clear"
)

// signal is one post-deploy reading gone bad: Key says which (so a count
// that moves is not a new signal), Text says it for the banner.
type signal struct{ Key, Text string }

// AdvisoryDetail is what advisory.raise and advisory.clear carry.
type AdvisoryDetail struct {
	Signals []string `json:"signals"`
	Keys    []string `json:"keys,omitempty"`
}

// signals reads, after deploy.start, every post-deploy reading that has
// turned bad: a ticked gate that no longer passes, pods failing to start
// or a rollout stalled, an error spike, new issues, lock waits over the
// threshold, a failing smoke check. Before the deploy starts nothing here
// is a reason to roll back. Called with e.mu held, after refreshGates.
func (e *Engine) signals() []signal {
	if e.rb.Started.IsZero() {
		return nil
	}
	var out []signal
	add := func(key, text string) {
		for _, s := range out {
			if s.Key == key {
				return
			}
		}
		out = append(out, signal{key, text})
	}
	fact := func(name string) (gates.Fact, bool) {
		f, ok := e.facts[name]
		return f, ok && f.Known
	}
	if u, ok := e.updates["kubernetes"]; ok && u.Err == nil {
		if rs, ok := u.Data.(snapshot.Rollout); ok {
			for _, d := range rs.Deployments {
				if d.Phase == snapshot.Stalled {
					add("rollout.stalled/"+d.Label(), fmt.Sprintf("%s rollout stalled at %d/%d ready", d.Label(), d.Ready, d.Desired))
				}
				if n := d.FailingToStart(); n > 0 {
					add("rollout.failing/"+d.Label(), fmt.Sprintf("%s %d/%d pods failing to start", d.Label(), n, max(int(d.Desired), len(d.Pods))))
				}
			}
		}
	}
	if f, ok := fact("sentry.no_spike"); ok && !f.Bool {
		add("sentry.no_spike", e.spikeWords(f))
	}
	fewNew := false // new issues, but fewer than recommend a rollback
	if f, ok := fact("sentry.no_new_issues"); ok && !f.Bool {
		if e.cfg.Sentry != nil && f.Number < float64(e.cfg.Sentry.AdvisoryNewIssues) {
			fewNew = true
		} else {
			add("sentry.no_new_issues", f.Detail)
		}
	}
	if f, ok := fact("locks.max_wait"); ok && e.cfg.Postgres != nil && f.Duration > e.cfg.Postgres.LockThreshold.D() {
		add("locks.max_wait", fmt.Sprintf("a lock wait of %s (over %s)", gates.FormatDuration(f.Duration), gates.FormatDuration(e.cfg.Postgres.LockThreshold.D())))
	}
	if f, ok := fact("smoke.passing"); ok && !f.Bool {
		add("smoke.passing", "smoke: "+f.Detail)
	}
	// A gate ticked off before that fails now: whatever it watches.
	for _, st := range e.rb.Steps() {
		if st.Kind != config.Gate || st.State.Status != runbook.Done || e.rb.Phases[st.Phase].Contingency {
			continue
		}
		if st.GateExpr.Name == "sentry.no_new_issues" && fewNew {
			continue // under [sentry] advisory_new_issues
		}
		if r := e.gates[st.ID]; r.State == gates.Fail {
			add("gate/"+st.ID, fmt.Sprintf("%q no longer passes: %s", st.Title, r.Value))
		}
	}
	return out
}

// spikeWords is an error spike as the banner says it: "errors 14×
// baseline (61/min)".
func (e *Engine) spikeWords(f gates.Fact) string {
	if u, ok := e.updates["sentry"]; ok {
		if er, ok := u.Data.(snapshot.ErrorRate); ok && er.Baseline.Mean > 0 {
			return fmt.Sprintf("errors %.0f× baseline (%d%s)", float64(er.Current.Count)/er.Baseline.Mean, er.Current.Count, "/min")
		}
	}
	return "errors: " + f.Detail
}

// judgeAdvisory raises the rollback advisory when a post-deploy signal
// turns bad and clears it when every one has recovered, journaling both
// (and a change of which signals are bad), and telling the incident
// channel when [slack] advisory is set.
func (e *Engine) judgeAdvisory() {
	sigs := e.signals()
	keys := make([]string, len(sigs))
	texts := make([]string, len(sigs))
	for i, s := range sigs {
		keys[i], texts[i] = s.Key, s.Text
	}
	slices.Sort(keys)
	was := e.advisory
	switch {
	case len(sigs) == 0 && was == nil:
		return
	case len(sigs) == 0:
		e.advisory = nil
		e.advisoryKeys = nil
		e.noteAdvisory(RecAdvisoryClear, "rollback no longer recommended: the signals recovered ("+strings.Join(was.Signals, "; ")+")", was.Signals, nil)
		return
	}
	since := e.now
	if was != nil {
		since = was.Since
	}
	e.advisory = &view.Advisory{Since: since, Signals: texts}
	if slices.Equal(keys, e.advisoryKeys) {
		return // the same signals, their figures moving
	}
	e.advisoryKeys = keys
	e.noteAdvisory(RecAdvisoryRaise, "ROLLBACK RECOMMENDED: "+strings.Join(texts, "; "), texts, keys)
}

func (e *Engine) noteAdvisory(typ, summary string, sigs, keys []string) {
	if e.opts.ReadOnly {
		return
	}
	data, _ := json.Marshal(AdvisoryDetail{Signals: sigs, Keys: keys})
	note := &actions.Note{Rec: journal.Record{Type: typ, Summary: summary, Data: data}}
	e.execute(note, summary, 0, nil, false)
	if s := e.cfg.Slack; s != nil && s.Advisory && s.IncidentChannel != "" && len(e.cfg.SecretErrors["slack"]) == 0 {
		text := fmt.Sprintf(":rotating_light: %s %s: %s (driven by %s)", e.cfg.Deploy.Name, e.vars["release"], summary, e.opts.Operator)
		if typ == RecAdvisoryClear {
			text = fmt.Sprintf(":white_check_mark: %s %s: %s", e.cfg.Deploy.Name, e.vars["release"], summary)
		}
		e.execute(actions.NewSlackNotify(s, s.IncidentChannel, text, ""), "advisory to "+s.IncidentChannel, 30*time.Second, nil, true)
	}
}

// replayAdvisory takes up the advisory the journal left raised, so a
// restart neither raises it again nor forgets to clear it.
func (e *Engine) replayAdvisory() {
	for _, r := range e.history {
		switch r.Type {
		case RecAdvisoryRaise:
			var d AdvisoryDetail
			_ = json.Unmarshal(r.Data, &d)
			since := r.At
			if e.advisory != nil {
				since = e.advisory.Since
			}
			e.advisory = &view.Advisory{Since: since, Signals: d.Signals}
			e.advisoryKeys = d.Keys
		case RecAdvisoryClear:
			e.advisory, e.advisoryKeys = nil, nil
		}
	}
}
