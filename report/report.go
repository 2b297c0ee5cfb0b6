// Package report turns a deploy's journal into the Markdown record the CAB
// review reads: what happened when, each step against its estimate, every
// command, gate, action and rollback, and the worst error rate and lock
// wait the cockpit saw. It reads the journal only; it never asks a live
// system, so the record of a deploy reads the same a month later.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// Record types the report reads besides the runbook's. The cockpit journals
// one whenever the deploy's worst reading so far gets worse, so the record
// holds the peak without a line per poll.
const (
	// RecErrorPeak carries an ErrorPeak.
	RecErrorPeak = "sentry.peak"
	// RecLockPeak carries a LockPeak.
	RecLockPeak = "locks.peak"
)

// ErrorPeak is the busiest interval of errors seen since the deploy started.
type ErrorPeak struct {
	PerMinute    int       `json:"per_minute"`
	At           time.Time `json:"at"` // the interval's start
	BaselineMean float64   `json:"baseline_mean"`
	Threshold    float64   `json:"threshold"`
	Spike        bool      `json:"spike"` // a spike was flagged at the time
}

// Record is the journal record of the peak, for the cockpit to append
// when a reading beats the last peak it recorded.
func (p ErrorPeak) Record() journal.Record {
	data, _ := json.Marshal(p)
	return journal.Record{Type: RecErrorPeak, Summary: fmt.Sprintf("errors peaked at %d/min", p.PerMinute), Data: data}
}

// LockPeak is the longest lock wait seen since the deploy started.
type LockPeak struct {
	WaitMS   int64     `json:"wait_ms"`
	At       time.Time `json:"at"`
	Target   string    `json:"target"` // the [[postgres.target]] name
	PID      int       `json:"pid,omitempty"`
	Relation string    `json:"relation,omitempty"`
	Blocker  int       `json:"blocker_pid,omitempty"`
}

// Record is the journal record of the peak.
func (p LockPeak) Record() journal.Record {
	data, _ := json.Marshal(p)
	return journal.Record{Type: RecLockPeak, Summary: fmt.Sprintf("lock wait peaked at %s on %s", gates.FormatDuration(time.Duration(p.WaitMS)*time.Millisecond), p.Target), Data: data}
}

// Kinds the report knows by name. They are spelled out here rather than
// imported from actions, which would pull Kubernetes and Postgres clients
// into every reader of a journal.
const (
	kindRollback      = "kube.rollback"
	kindRollbackAlert = "slack.rollback_alert"
	kindLKG           = "kube.last_known_good"
	// recRollbackDue is the clock passing the window's rollback deadline.
	recRollbackDue = "deploy.rollback_due"
)

// Options tune a report.
type Options struct {
	// Redact is applied to the whole text before it is written. The
	// journal is redacted when written; this catches a secret that was
	// added to the config after.
	Redact func(string) string
	// Source names the journal file in the header; "" leaves it out.
	Source string
}

// FromFile reads the journal at path and writes its report. A torn last
// line (a crash mid-write) is reported in the record, not an error: what
// came before it is intact.
func FromFile(w io.Writer, cfg *config.Config, path string) error {
	rep, err := journal.Read(path)
	if err != nil {
		return err
	}
	o := Options{Redact: cfg.Redactor().Redact, Source: path}
	recs := rep.Records
	if rep.Torn != nil {
		recs = append(recs, journal.Record{Type: "journal.torn", Summary: rep.Torn.String()})
	}
	return Write(w, cfg, recs, o)
}

// Write writes the Markdown record of the deploy in recs.
func Write(w io.Writer, cfg *config.Config, recs []journal.Record, o Options) error {
	text := Markdown(cfg, recs, o)
	if o.Redact != nil {
		text = o.Redact(text)
	}
	_, err := io.WriteString(w, text)
	return err
}

// Markdown renders the record. It is pure: the same journal always gives
// the same text.
func Markdown(cfg *config.Config, recs []journal.Record, o Options) string {
	r := newReader(cfg, recs)
	var b strings.Builder
	r.header(&b, o)
	r.timeline(&b)
	r.steps(&b)
	r.commands(&b)
	r.gatesSection(&b)
	r.actionsSection(&b)
	r.rollbacks(&b)
	r.migrations(&b)
	r.peaks(&b)
	return b.String()
}

type reader struct {
	cfg     *config.Config
	recs    []journal.Record
	rb      *runbook.Runbook
	loc     *time.Location
	intents map[string]journal.Record // action id → intent
	results map[string]journal.Record // action id → result or verify
	end     time.Time                 // the last record's time
}

func newReader(cfg *config.Config, recs []journal.Record) *reader {
	r := &reader{cfg: cfg, recs: recs, rb: runbook.New(cfg), loc: cfg.Window.Location,
		intents: map[string]journal.Record{}, results: map[string]journal.Record{}}
	if r.loc == nil {
		r.loc = time.UTC
	}
	for _, rec := range recs {
		r.rb.Apply(rec)
		switch rec.Type {
		case runbook.RecIntent:
			r.intents[rec.Action] = rec
		case runbook.RecResult, runbook.RecVerify:
			r.results[rec.Action] = rec
		}
		if rec.At.After(r.end) {
			r.end = rec.At
		}
	}
	return r
}

func (r *reader) clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(r.loc).Format("15:04:05")
}

func (r *reader) title(stepID string) string {
	if st := r.rb.Step(stepID); st != nil {
		return st.Title
	}
	return stepID
}

func (r *reader) header(b *strings.Builder, o Options) {
	d := r.cfg.Deploy
	name := d.Name
	if name == "" {
		name = "deploy"
	}
	fmt.Fprintf(b, "# %s: %s\n\n", r.heading(), md(name))
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, cell(v)) }
	b.WriteString("| | |\n|---|---|\n")
	r.rehearsalRows(row)
	if d.Environment != "" {
		row("Environment", d.Environment)
	}
	if rel := r.release(); rel != "" {
		row("Release", rel)
	}
	began := r.rb.Began()
	if !began.IsZero() {
		day := began.In(r.loc)
		ws, we := r.cfg.Window.On(began)
		row("Date", day.Format("Monday 2 January 2006"))
		row("Window", fmt.Sprintf("%s–%s %s", ws.Format("15:04"), we.Format("15:04"), r.loc))
	}
	if opened := r.rb.Opened; !opened.IsZero() {
		row("Opened", r.clock(opened)+by(r.first(runbook.RecDeployOpen).By))
	}
	started := r.rb.Started
	switch {
	case !started.IsZero():
		what := ""
		if rec := r.first(runbook.RecDeployStart); rec.Step != "" {
			if st := r.rb.Step(rec.Step); st != nil {
				what = ": " + st.Title
			}
		}
		row("Started", r.clock(started)+by(r.first(runbook.RecDeployStart).By)+what)
	case !began.IsZero():
		row("Started", "not started: the step that starts the deploy never ran")
		started = began
	default:
		row("Started", "not recorded: the journal has no deploy.start")
	}
	if fin := r.rb.Finished; !fin.IsZero() {
		rec := r.last(runbook.RecDeployFinish)
		row("Finished", fmt.Sprintf("%s%s, after %s", r.clock(fin), by(rec.By), runbook.Short(fin.Sub(started))))
		if outcome := finishOutcome(rec); outcome != "" {
			row("Outcome", outcome)
		}
		if _, we := r.cfg.Window.On(started); fin.After(we) {
			row("Window", fmt.Sprintf("overran by %s", runbook.Short(fin.Sub(we))))
		}
	} else {
		row("Finished", fmt.Sprintf("not finished: last record at %s", r.clock(r.end)))
	}
	closed, total := r.rb.Progress()
	skipped := 0
	for _, st := range r.rb.Steps() {
		if st.State.Status == runbook.Skipped {
			skipped++
		}
	}
	row("Steps", fmt.Sprintf("%d of %d closed (%d skipped); planned %s", closed, total, skipped, runbook.Short(r.cfg.PlannedEstimate())))
	row("Rollbacks", fmt.Sprint(len(r.ofKind(kindRollback))))
	if ops := r.operators(); len(ops) > 0 {
		row("Operators", strings.Join(ops, ", "))
	}
	if o.Source != "" {
		row("Journal", fmt.Sprintf("%s (%d records)", o.Source, len(r.recs)))
	}
	b.WriteString("\n")
}

// finishOutcome is how deploy.finish says the deploy ended: finished,
// overran, rolled back; with the steps an early finish left open.
func finishOutcome(rec journal.Record) string {
	var d struct {
		Outcome string   `json:"outcome"`
		Open    []string `json:"open"`
	}
	if len(rec.Data) == 0 || json.Unmarshal(rec.Data, &d) != nil || d.Outcome == "" {
		return ""
	}
	if len(d.Open) > 0 {
		return fmt.Sprintf("%s; finished with %d step(s) open: %s", d.Outcome, len(d.Open), strings.Join(d.Open, "; "))
	}
	return d.Outcome
}

// release is what the deploy says it released: the Sentry marker's
// release when one was recorded, else the config's, expanded for the day.
func (r *reader) release() string {
	for _, rec := range r.recs {
		if rec.Type != runbook.RecResult || rec.Kind != "sentry.deploy_marker" {
			continue
		}
		var d struct {
			Release string `json:"release"`
		}
		if json.Unmarshal(rec.Data, &d) == nil && d.Release != "" {
			return d.Release
		}
	}
	if r.cfg.Deploy.Release == "" || r.rb.Started.IsZero() {
		return ""
	}
	return r.cfg.TemplateVars(r.rb.Started)["release"]
}

func (r *reader) first(typ string) journal.Record {
	for _, rec := range r.recs {
		if rec.Type == typ {
			return rec
		}
	}
	return journal.Record{}
}

func (r *reader) last(typ string) journal.Record {
	for i := len(r.recs) - 1; i >= 0; i-- {
		if r.recs[i].Type == typ {
			return r.recs[i]
		}
	}
	return journal.Record{}
}

func (r *reader) operators() []string {
	seen := map[string]bool{}
	var out []string
	for _, rec := range r.recs {
		if rec.By != "" && !seen[rec.By] {
			seen[rec.By] = true
			out = append(out, rec.By)
		}
	}
	return out
}

// ofKind lists the results of actions of a kind, oldest first.
func (r *reader) ofKind(kind string) []journal.Record {
	var out []journal.Record
	for _, rec := range r.recs {
		if rec.Type == runbook.RecResult && rec.Kind == kind {
			out = append(out, rec)
		}
	}
	return out
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

func (r *reader) timeline(b *strings.Builder) {
	b.WriteString("## Timeline\n\n| Time | Who | What |\n|---|---|---|\n")
	for _, rec := range r.recs {
		what := r.event(rec)
		if what == "" {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", r.clock(rec.At), cell(rec.By), cell(what))
	}
	b.WriteString("\n")
}

// event is one record as a line of the timeline; "" leaves it out.
func (r *reader) event(rec journal.Record) string {
	step := func() string {
		if rec.Step == "" {
			return ""
		}
		return " (" + r.title(rec.Step) + ")"
	}
	switch rec.Type {
	case runbook.RecRehearsalStart:
		return "Rehearsal started: " + rec.Summary
	case runbook.RecRehearsalFinish:
		return "Rehearsal finished: " + rec.Summary
	case runbook.RecDeployOpen:
		return "Cockpit opened for the deploy"
	case runbook.RecDeployStart:
		return "Deploy started"
	case runbook.RecDeployFinish:
		if rec.Summary != "" {
			return "Deploy finished: " + rec.Summary
		}
		return "Deploy finished"
	case recRollbackDue:
		return "**" + rec.Summary + "**"
	case runbook.RecStepCheck:
		s := "Done: " + r.title(rec.Step)
		if rec.Summary != "" {
			s += " — " + rec.Summary
		}
		return s
	case runbook.RecStepSkip:
		return "Skipped: " + r.title(rec.Step) + " — " + rec.Reason
	case runbook.RecStepReopen:
		return "Reopened: " + r.title(rec.Step)
	case runbook.RecIntent:
		if rec.Kind == runbook.KindCommand {
			return "Ran `" + rec.Summary + "`" + step()
		}
		return "Started " + rec.Kind + ": " + rec.Summary + step()
	case runbook.RecResult:
		verdict := "failed"
		if rec.OK != nil && *rec.OK {
			verdict = "ok"
		}
		s := fmt.Sprintf("%s %s: %s", rec.Kind, verdict, rec.Summary)
		switch {
		case rec.Kind == runbook.KindCommand && rec.Exit != nil && *rec.Exit == 0:
			s = "Exit 0"
		case rec.Kind == runbook.KindCommand && rec.Exit != nil:
			s = fmt.Sprintf("**Exit %d**", *rec.Exit)
		case rec.Kind == runbook.KindCommand:
			s = "**Command " + rec.Summary + "**"
		case rec.Kind == kindRollback:
			s = "**ROLLBACK** " + verdict + ": " + rec.Summary
		}
		if rec.Error != "" && !strings.Contains(s, rec.Error) {
			s += " — " + rec.Error
		}
		if d := rec.Duration.Duration(); d > 0 {
			s += " (" + gates.FormatDuration(d) + ")"
		}
		return s
	case runbook.RecVerify:
		verdict := "failed"
		if rec.OK != nil && *rec.OK {
			verdict = "done"
		}
		return "Verified an interrupted run as " + verdict + step() + ": " + rec.Reason
	case kindLKG:
		return "Rollback target recorded: " + strings.TrimPrefix(rec.Summary, "rollback target: ")
	case RecErrorPeak, RecLockPeak:
		return "" // in the peaks section
	case RecPreflight:
		return "Migrations " + rec.Summary
	case "journal.torn":
		return "Journal damaged: " + rec.Summary
	}
	if rec.Summary != "" {
		return rec.Type + ": " + rec.Summary
	}
	return ""
}

func (r *reader) steps(b *strings.Builder) {
	b.WriteString("## Steps\n\n")
	for _, ph := range r.rb.Phases {
		var est, act time.Duration
		touched := false
		for _, st := range ph.Steps {
			est += st.Estimate.D()
			act += st.State.Actual(r.end)
			touched = touched || st.State.Status != runbook.Pending
		}
		if ph.Contingency && !touched {
			fmt.Fprintf(b, "### %s (contingency, not used)\n\n", md(ph.Name))
			continue
		}
		head := ph.Name
		if ph.Contingency {
			head += " (contingency)"
		}
		fmt.Fprintf(b, "### %s — estimate %s, actual %s\n\n", md(head), runbook.Short(est), runbook.Short(act))
		b.WriteString("| Step | Estimate | Actual | Status | Who | Notes |\n|---|---|---|---|---|---|\n")
		for _, st := range ph.Steps {
			s := st.State
			actual := "—"
			if a := s.Actual(r.end); a > 0 {
				actual = runbook.Short(a)
				if e := st.Estimate.D(); e > 0 && a > e+e/2 {
					actual += " ⚠"
				}
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", cell(st.Title), shortOr(st.Estimate.D()), actual, s.Status, cell(s.By), cell(r.stepNote(st)))
		}
		b.WriteString("\n")
	}
}

func (r *reader) stepNote(st *runbook.Step) string {
	s := st.State
	var parts []string
	switch {
	case s.Reason != "":
		parts = append(parts, s.Reason)
	case s.Value != "":
		parts = append(parts, "passed on "+s.Value)
	}
	if s.Exit != nil && st.Kind == config.Command {
		parts = append(parts, fmt.Sprintf("exit %d", *s.Exit))
	}
	if s.Err != "" {
		parts = append(parts, s.Err)
	}
	// A step that needed more than one run is what a review asks about.
	runs := 0
	for _, in := range r.intents {
		if in.Step == st.ID && (in.Kind == runbook.KindCommand || st.Kind == config.Action) {
			runs++
		}
	}
	if runs > 1 {
		parts = append(parts, fmt.Sprintf("%d runs", runs))
	}
	return strings.Join(parts, "; ")
}

func shortOr(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return runbook.Short(d)
}

func (r *reader) commands(b *strings.Builder) {
	b.WriteString("## Commands\n\n")
	var rows []string
	var tails []string
	for _, rec := range r.recs {
		if rec.Type != runbook.RecIntent || rec.Kind != runbook.KindCommand {
			continue
		}
		res, done := r.results[rec.Action]
		exit, took := "no result (interrupted)", "—"
		if done {
			switch {
			case res.Type == runbook.RecVerify:
				exit = "verified by hand"
			case res.Exit != nil:
				exit = fmt.Sprint(*res.Exit)
			default:
				exit = res.Summary
			}
			if res.Duration > 0 {
				took = gates.FormatDuration(res.Duration.Duration())
			}
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | `%s` | %s | %s | %s |", r.clock(rec.At), cell(r.title(rec.Step)), code(rec.Summary), cell(exit), took, cell(rec.By)))
		if done && res.OK != nil && !*res.OK && len(res.Tail) > 0 {
			tails = append(tails, fmt.Sprintf("`%s` (%s, exit %s), last lines:\n\n```\n%s\n```\n", code(rec.Summary), r.clock(res.At), exit, strings.Join(res.Tail, "\n")))
		}
	}
	if len(rows) == 0 {
		b.WriteString("No commands were run.\n\n")
		return
	}
	b.WriteString("| Started | Step | Command | Exit | Took | Who |\n|---|---|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
	for _, t := range tails {
		b.WriteString(t + "\n")
	}
}

func (r *reader) gatesSection(b *strings.Builder) {
	b.WriteString("## Gates\n\n")
	var rows []string
	for _, rec := range r.recs {
		st := r.rb.Step(rec.Step)
		if st == nil || st.Kind != config.Gate || (rec.Type != runbook.RecStepCheck && rec.Type != runbook.RecStepSkip) {
			continue
		}
		on := rec.Summary
		if rec.Type == runbook.RecStepSkip {
			on = "skipped: " + rec.Reason
		} else if on == "" {
			on = "passed (value not recorded)"
		}
		rows = append(rows, fmt.Sprintf("| %s | `%s` | %s | %s | %s |", cell(st.Title), code(st.Gate), cell(on), r.clock(rec.At), cell(rec.By)))
	}
	if len(rows) == 0 {
		b.WriteString("No gates were passed or skipped.\n\n")
		return
	}
	b.WriteString("| Step | Gate | Passed on | At | Who |\n|---|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

func (r *reader) actionsSection(b *strings.Builder) {
	b.WriteString("## Actions\n\n")
	var rows []string
	for _, rec := range r.recs {
		if rec.Type != runbook.RecIntent || rec.Kind == runbook.KindCommand {
			continue
		}
		res, done := r.results[rec.Action]
		outcome, took := "**no result** (interrupted; outcome unknown)", "—"
		if done {
			switch {
			case res.Type == runbook.RecVerify:
				outcome = "verified by hand: " + res.Reason
			case res.OK != nil && *res.OK:
				outcome = "ok: " + res.Summary
			default:
				outcome = "**failed**: " + res.Summary
				if res.Error != "" && !strings.Contains(res.Summary, res.Error) {
					outcome += " — " + res.Error
				}
			}
			if res.Duration > 0 {
				took = gates.FormatDuration(res.Duration.Duration())
			}
		}
		step := "—"
		if rec.Step != "" {
			step = r.title(rec.Step)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", r.clock(rec.At), rec.Kind, cell(step), cell(outcome), took, cell(rec.By)))
	}
	if len(rows) == 0 {
		b.WriteString("No actions were run.\n\n")
		return
	}
	b.WriteString("| Started | Action | Step | Result | Took | Who |\n|---|---|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

// rollbackTarget is one deployment in a rollback's result.
type rollbackTarget struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	FromImage    string `json:"from_image"`
	ToImage      string `json:"to_image"`
	FromRevision int64  `json:"from_revision"`
	ToRevision   int64  `json:"to_revision"`
	Resumed      bool   `json:"resumed"`
	Unchanged    string `json:"unchanged"`
	OK           bool   `json:"ok"`
	Error        string `json:"error"`
	TookMS       int64  `json:"took_ms"`
}

func (r *reader) rollbacks(b *strings.Builder) {
	b.WriteString("## Rollbacks\n\n")
	rbs := r.ofKind(kindRollback)
	if len(rbs) == 0 {
		b.WriteString("None.\n\n")
		return
	}
	alerts := r.ofKind(kindRollbackAlert)
	for i, rec := range rbs {
		verdict := "failed"
		if rec.OK != nil && *rec.OK {
			verdict = "succeeded"
		}
		fmt.Fprintf(b, "### Rollback %d at %s%s: %s\n\n", i+1, r.clock(r.intents[rec.Action].At), by(rec.By), verdict)
		if rec.Step != "" {
			fmt.Fprintf(b, "From the step %q.\n\n", r.title(rec.Step))
		}
		var targets []rollbackTarget
		_ = json.Unmarshal(rec.Data, &targets)
		for _, t := range targets {
			line := fmt.Sprintf("- `%s/%s`: ", t.Namespace, t.Name)
			switch {
			case !t.OK:
				line += "**not rolled back**: " + oneLine(t.Error)
				if t.FromImage != "" {
					line += fmt.Sprintf(" (still `%s`)", t.FromImage)
				}
			case t.Unchanged != "":
				line += t.Unchanged
			default:
				line += fmt.Sprintf("`%s` → `%s`, revision %d → %d", t.FromImage, t.ToImage, t.FromRevision, t.ToRevision)
				if t.TookMS > 0 {
					line += fmt.Sprintf(", applied in %s", gates.FormatDuration(time.Duration(t.TookMS)*time.Millisecond))
				}
			}
			if t.Resumed {
				line += " (resumed)"
			}
			b.WriteString(line + "\n")
		}
		if len(targets) == 0 {
			fmt.Fprintf(b, "- %s\n", oneLine(rec.Summary+" "+rec.Error))
		}
		// The alert that followed this rollback, before the next one.
		var next time.Time
		if i+1 < len(rbs) {
			next = rbs[i+1].At
		}
		alerted := false
		for _, a := range alerts {
			if a.At.Before(rec.At) || (!next.IsZero() && !a.At.Before(next)) {
				continue
			}
			alerted = true
			if a.OK != nil && *a.OK {
				fmt.Fprintf(b, "- Incident alert: %s at %s\n", a.Summary, r.clock(a.At))
			} else {
				fmt.Fprintf(b, "- Incident alert **not delivered** at %s: %s\n", r.clock(a.At), oneLine(a.Error))
			}
		}
		if !alerted {
			b.WriteString("- Incident alert: not recorded\n")
		}
		b.WriteString("\n")
	}
}

func (r *reader) peaks(b *strings.Builder) {
	b.WriteString("## Peaks observed\n\n")
	var ep *ErrorPeak
	var lp *LockPeak
	for _, rec := range r.recs {
		switch rec.Type {
		case RecErrorPeak:
			var p ErrorPeak
			if json.Unmarshal(rec.Data, &p) == nil && (ep == nil || p.PerMinute > ep.PerMinute) {
				ep = &p
			}
		case RecLockPeak:
			var p LockPeak
			if json.Unmarshal(rec.Data, &p) == nil && (lp == nil || p.WaitMS > lp.WaitMS) {
				lp = &p
			}
		}
	}
	if ep == nil {
		b.WriteString("- Error rate: not recorded\n")
	} else {
		line := fmt.Sprintf("- Error rate: %d errors/min in the minute from %s", ep.PerMinute, r.clock(ep.At))
		if ep.BaselineMean > 0 {
			line += fmt.Sprintf(", %.1f× the baseline of %.1f/min", float64(ep.PerMinute)/ep.BaselineMean, ep.BaselineMean)
		}
		if ep.Spike {
			line += fmt.Sprintf("; flagged as a spike (limit %.1f/min)", ep.Threshold)
		}
		b.WriteString(line + "\n")
	}
	if lp == nil {
		b.WriteString("- Lock wait: not recorded\n")
	} else {
		line := fmt.Sprintf("- Lock wait: %s at %s on %s", gates.FormatDuration(time.Duration(lp.WaitMS)*time.Millisecond), r.clock(lp.At), lp.Target)
		var who []string
		if lp.PID != 0 {
			who = append(who, fmt.Sprintf("pid %d waiting", lp.PID))
		}
		if lp.Relation != "" {
			who = append(who, "on "+lp.Relation)
		}
		if lp.Blocker != 0 {
			who = append(who, fmt.Sprintf("blocked by pid %d", lp.Blocker))
		}
		if len(who) > 0 {
			line += " (" + strings.Join(who, ", ") + ")"
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n")
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = oneLine(s)
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// code makes text safe inside an inline code span in a table.
func code(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(oneLine(s), "`", "'"), "|", `\|`)
}

// md escapes the characters that would turn a heading into something else.
func md(s string) string {
	return strings.NewReplacer("#", `\#`, "*", `\*`, "_", `\_`, "`", "'").Replace(oneLine(s))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
