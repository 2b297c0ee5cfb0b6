package panes

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// preflightLine is the pre-flight in one line, at the top of the DB pane:
// how many statements block, and the key that shows them.
func preflightLine(p *snapshot.Preflight, th theme.Theme) string {
	paint := th.OK
	switch {
	case p.Err != "" && p.ParseErr, p.Count(snapshot.VerdictBlock) > 0:
		paint = th.Bad
	case p.Err != "", p.Count(snapshot.VerdictUnknown) > 0, p.Count(snapshot.VerdictWarn) > 0:
		paint = th.Warn
	}
	return paint.S("pre-flight: "+p.Summary()) + th.Dim.S(" · p shows it")
}

// verdictPaint colours a verdict; the word itself says it without colour.
func verdictPaint(v string, th theme.Theme) theme.Paint {
	switch v {
	case snapshot.VerdictOK:
		return th.OK
	case snapshot.VerdictBlock:
		return th.Bad
	}
	return th.Warn
}

// PreflightLines is the pre-flight in full: each statement with its
// verdict, the locks predicted beside those the clone showed, every
// finding with its fix, and production's figures. Lines are not cut to
// width here; the frame does that.
func PreflightLines(p snapshot.Preflight, th theme.Theme) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	add(th.Header.S("Pre-flight of " + p.Origin))
	prod := "production " + p.Target
	switch {
	case p.ProductionErr != "":
		prod += th.Bad.S(" ✕ down: " + snapshot.OneLine(p.ProductionErr) + " — verdicts that need it are unknown")
	case !p.ProductionAt.IsZero():
		prod += fmt.Sprintf(" read in %s", runbook.Short(p.Took))
	}
	if !p.Measured.IsZero() {
		prod += " · clone measured " + p.Measured.Format("15:04:05")
	}
	add(th.Dim.S(prod))
	if p.Err != "" {
		for _, l := range strings.Split(p.Err, "\n") {
			add(th.Bad.S(l))
		}
		return out
	}
	if len(p.Statements) == 0 {
		add(th.OK.S("no pending migrations"))
		return out
	}
	for _, s := range p.Statements {
		word := strings.ToUpper(s.Verdict)
		add(verdictPaint(s.Verdict, th).S(fmt.Sprintf("%-7s", word)) + " " + th.Dim.S(s.Where) + " " + snapshot.QueryLine(s.SQL, 300))
		predicted := s.Locks
		if predicted == "" {
			predicted = "no table lock"
		}
		line := "        predicted: " + predicted
		if s.Observed != "" {
			line += " · clone: " + s.Observed
		}
		add(th.Dim.S(line))
		for _, f := range s.Findings {
			add("        " + verdictPaint(f.Verdict, th).S(f.Verdict+":") + " " + f.Reason)
			if f.Fix != "" {
				add(th.Info.S("          fix: " + snapshot.OneLine(f.Fix)))
			}
		}
		if s.Figures != "" {
			add(th.Dim.S("        production: " + s.Figures))
		}
	}
	return out
}
