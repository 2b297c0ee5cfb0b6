package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// RecPreflight carries a Preflight: the cockpit journals one whenever the
// pre-flight's verdicts change, so the record shows what was known when.
const RecPreflight = "migrations.preflight"

// kindDryRun is the action that measures the migrations on a clone.
const kindDryRun = "migrations.dry_run"

// Preflight is the verdicts of the pending migrations at one moment.
type Preflight struct {
	Origin        string                        `json:"origin,omitempty"`
	Err           string                        `json:"err,omitempty"`
	Target        string                        `json:"target,omitempty"`
	ProductionErr string                        `json:"production_err,omitempty"`
	Statements    []snapshot.PreflightStatement `json:"statements"`
}

// PreflightOf keeps of a reading what the record needs: verdicts, reasons
// and figures, not the clone's observations (the dry run's own result
// carries those).
func PreflightOf(p snapshot.Preflight) Preflight {
	out := Preflight{Origin: p.Origin, Err: p.Err, Target: p.Target, ProductionErr: p.ProductionErr}
	for _, s := range p.Statements {
		s.Observed, s.ObservedErr, s.Took, s.Fingerprint = "", "", 0, ""
		out.Statements = append(out.Statements, s)
	}
	return out
}

// Key changes when a verdict, a reason's kind or the statements change, not
// when production's figures move (an index's scans grow every second).
func (p Preflight) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%t|", p.Origin, p.Err, p.ProductionErr != "")
	for _, s := range p.Statements {
		fmt.Fprintf(&b, "%s %s %s", s.Where, s.Kind, s.Verdict)
		for _, f := range s.Findings {
			b.WriteString(" " + f.Code)
		}
		b.WriteString(";")
	}
	return b.String()
}

// Record is the journal record of the verdicts.
func (p Preflight) Record() journal.Record {
	data, _ := json.Marshal(p)
	sum := snapshot.Preflight{Err: p.Err, Statements: p.Statements}.Summary()
	return journal.Record{Type: RecPreflight, Summary: "pre-flight: " + sum, Data: data}
}

// dryRunDetail mirrors what the dry run journals, without linking the
// parser the action needs.
type dryRunDetail struct {
	Target   string `json:"target"`
	Observed []struct {
		File  string
		Line  int
		SQL   string
		Took  time.Duration
		Err   string
		Locks []struct {
			Relation string
			Lock     string
			Held     time.Duration
		}
	} `json:"observed"`
}

// migrations writes the last pre-flight's verdicts and the last dry run's
// observations, predicted beside observed.
func (r *reader) migrations(b *strings.Builder) {
	var last *journal.Record
	var dry *journal.Record
	for i := range r.recs {
		rec := &r.recs[i]
		switch {
		case rec.Type == RecPreflight:
			last = rec
		case rec.Type == runbook.RecResult && rec.Kind == kindDryRun:
			dry = rec
		}
	}
	if last == nil && dry == nil {
		return
	}
	b.WriteString("## Migrations\n\n")
	observed := map[string]string{}
	if dry != nil {
		var d dryRunDetail
		if json.Unmarshal(dry.Data, &d) == nil {
			fmt.Fprintf(b, "Dry run on %s at %s: %s\n\n", d.Target, r.clock(dry.At), oneLine(dry.Summary))
			for _, o := range d.Observed {
				var parts []string
				for _, l := range o.Locks {
					parts = append(parts, fmt.Sprintf("%s on %s %s", l.Lock, l.Relation, gates.FormatDuration(l.Held)))
				}
				if o.Err != "" {
					parts = append(parts, "failed: "+o.Err)
				}
				if len(parts) == 0 {
					parts = append(parts, "no relation lock")
				}
				observed[fmt.Sprintf("%s:%d", o.File, o.Line)] = strings.Join(parts, ", ")
			}
		}
	}
	if last == nil {
		return
	}
	var p Preflight
	if json.Unmarshal(last.Data, &p) != nil {
		return
	}
	fmt.Fprintf(b, "Pre-flight at %s: %s\n\n", r.clock(last.At), oneLine(last.Summary))
	if p.Err != "" {
		fmt.Fprintf(b, "- %s\n\n", oneLine(p.Err))
		return
	}
	b.WriteString("| Where | Statement | Verdict | Predicted | Observed on the clone | Why |\n|---|---|---|---|---|---|\n")
	for _, s := range p.Statements {
		var why []string
		for _, f := range s.Findings {
			why = append(why, f.Reason)
		}
		if s.Figures != "" {
			why = append(why, s.Figures)
		}
		obs, ok := observed[s.Where]
		if !ok {
			obs = ""
		}
		fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s | %s |\n", cell(s.Where), code(snapshot.QueryLine(s.SQL, 120)), s.Verdict, cell(s.Locks), cell(obs), cell(strings.Join(why, "; ")))
	}
	b.WriteString("\n")
}
