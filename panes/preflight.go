package panes

import (
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/gates"
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

// PreflightLines is the pre-flight in full, wrapped to width: each
// statement with its verdict, the locks predicted beside those the clone
// showed, every finding with its fix, and production's figures. A reason
// is the point of the view, so it is wrapped, never cut.
func PreflightLines(p snapshot.Preflight, width int, th theme.Theme) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	// wrapped adds text under an indent, in paint, over as many lines as
	// it takes.
	wrapped := func(indent, lead string, leadPaint, paint theme.Paint, text string) {
		w := max(width-len(indent), 16)
		for i, l := range Wrap(lead+text, w) {
			if i == 0 && lead != "" {
				add(indent + leadPaint.S(lead) + paint.S(strings.TrimPrefix(l, lead)))
				continue
			}
			add(indent + paint.S(l))
		}
	}
	add(th.Header.S("Pre-flight of " + p.Origin))
	prod := "production " + p.Target
	switch {
	case p.ProductionErr != "":
		prod += th.Bad.S(" ✕ down: " + snapshot.OneLine(p.ProductionErr) + " — verdicts that need it are unknown")
	case !p.ProductionAt.IsZero():
		prod += " read in " + gates.FormatDuration(p.Took)
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
		add(verdictPaint(s.Verdict, th).S(word) + strings.Repeat(" ", max(8-len(word), 1)) + th.Dim.S(s.Where) + " " + snapshot.QueryLine(s.SQL, 300))
		predicted := s.Locks
		if predicted == "" {
			predicted = "no table lock"
		}
		line := "predicted: " + predicted
		if s.Observed != "" {
			line += " · clone: " + s.Observed
		}
		wrapped("        ", "", th.Dim, th.Dim, line)
		for _, f := range s.Findings {
			wrapped("        ", f.Verdict+": ", verdictPaint(f.Verdict, th), th.Text, f.Reason)
			if f.Fix != "" {
				wrapped("          ", "fix: ", th.Info, th.Info, snapshot.OneLine(f.Fix))
			}
		}
		if s.Figures != "" {
			wrapped("        ", "", th.Dim, th.Dim, "production: "+s.Figures)
		}
	}
	return out
}
