package panes

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// ErrorsView is what the errors pane shows.
type ErrorsView struct {
	Source  SourceView // connection, scope, health
	State   snapshot.ErrorRate
	HasData bool
	Loc     *time.Location // times are shown in the deploy window's zone
}

// Errors is the Sentry error-rate pane. Until the first reading it shows
// its source: configured or not, reachable or not.
type Errors struct {
	Data ErrorsView
	th   theme.Theme
}

// ErrorsSettings are what the errors pane shows of the [sentry] section,
// and the deploy window's zone.
type ErrorsSettings struct {
	ConfigPath     string // the config file, named while the section is missing
	Configured     bool   // there is a [sentry] section
	Org            string
	Projects       []string
	Environment    string // empty for all environments
	Baseline       time.Duration
	SpikeFactor    float64
	SpikeFloor     float64
	SpikeIntervals int
	Ignore         []string
	// Location is the deploy window's zone, which times are shown in;
	// nil for UTC.
	Location *time.Location
}

// NewErrors is the Sentry error-rate pane.
func NewErrors(s ErrorsSettings, th theme.Theme) *Errors {
	v := SourceView{Number: 5, Title: "Errors", Section: "sentry", ConfigPath: s.ConfigPath,
		Explain: "errors per minute against the pre-deploy baseline, and new issues"}
	if s.Configured {
		v.Configured = true
		env := s.Environment
		if env == "" {
			env = "all environments"
		}
		v.Scope = append(v.Scope,
			fmt.Sprintf("org %s, projects %s, %s", s.Org, strings.Join(s.Projects, ", "), env),
			fmt.Sprintf("baseline: the %s before the deploy", gates.FormatDuration(s.Baseline)),
			fmt.Sprintf("spike: over %g× baseline and %g/min for %d minutes", s.SpikeFactor, s.SpikeFloor, s.SpikeIntervals))
		for _, ig := range s.Ignore {
			v.Scope = append(v.Scope, "ignored: "+ig)
		}
	}
	return &Errors{Data: ErrorsView{Source: v, Loc: s.Location}, th: th}
}

// Show is how the errors pane learns what to show: the Sentry source's
// feed.
func (e *Errors) Show(f snapshot.Feed[snapshot.ErrorRate]) {
	e.Data.State, e.Data.HasData = f.Data, f.HasData
	e.Data.Source.Health, e.Data.Source.Reach = f.Health, f.Reach
}

// Title implements Pane.
func (e *Errors) Title() string { return e.Data.Source.Title }

// SetFocused implements Pane.
func (e *Errors) SetFocused(f bool) { e.Data.Source.Focused = f }

// SetTheme implements Pane.
func (e *Errors) SetTheme(th theme.Theme) { e.th = th }

// Update implements Pane.
func (e *Errors) Update(tea.Msg) (Pane, tea.Cmd) { return e, nil }

// View implements Pane.
func (e *Errors) View(width, height int) string {
	return RenderErrors(e.Data, width, height, e.th)
}

// ShortHelp implements help.KeyMap.
func (e *Errors) ShortHelp() []key.Binding { return nil }

// FullHelp implements help.KeyMap.
func (e *Errors) FullHelp() [][]key.Binding { return nil }

func zoneOr(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}

// RenderErrors draws the error rate: where it stands against the baseline,
// whether that is a spike, a chart of the errors per interval with the
// deploy start and rollbacks marked, and the issues new since the deploy.
func RenderErrors(v ErrorsView, width, height int, th theme.Theme) string {
	if !v.Source.Configured || !v.HasData {
		return RenderSource(v.Source, width, height, th)
	}
	inner, rows := width-2, height-2
	title := "5 Errors"
	if inner < 1 || rows < 1 {
		return Frame(title, v.Source.Focused, nil, width, height, th)
	}
	s := v.State
	z := zoneOr(v.Loc)
	hm := func(t time.Time) string { return t.In(z).Format("15:04") }
	per := "/min"
	if s.Interval != 0 && s.Interval != time.Minute {
		per = "/" + spanLabel(s.Interval)
	}

	var body []string
	if v.Source.Health.State != snapshot.OK {
		body = append(body, Trunc(HealthMark(v.Source.Health, th), inner))
	}
	body = append(body, Trunc(rateLine(s, per, hm, th), inner), Trunc(spikeLine(s, per, hm, th), inner))

	issues := issueLines(s, hm, inner, th)
	avail := rows - len(body)
	// The issues get at least a third of the pane, the chart the rest, as
	// long as it has two rows for bars: fewer say nothing.
	keep := min(len(issues), max(avail/3, 2))
	chartH := min(avail-keep-2, 10)
	if chartH >= 2 && len(s.Series) > 0 {
		body = append(body, renderErrorChart(s, inner, chartH, hm, th)...)
	}
	body = append(body, issues...)
	if len(body) > rows {
		cut := body[:rows]
		if more := len(body) - rows + 1; len(s.NewIssues) > 0 && more > 0 && more <= len(s.NewIssues) {
			cut[rows-1] = th.Dim.S(fmt.Sprintf("… %d more new issues", more))
		}
		body = cut
	}
	return Frame(title, v.Source.Focused, body, width, height, th)
}

// spanLabel names a window the way the config writes it: "60m", "2h", "30s".
func spanLabel(d time.Duration) string {
	switch {
	case d >= 2*time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return d.String()
}

func rateLine(s snapshot.ErrorRate, per string, hm func(time.Time) string, th theme.Theme) string {
	if len(s.Series) == 0 {
		return th.Dim.S("no error counts yet")
	}
	b := s.Baseline
	line := th.Bold.S(strconv.Itoa(s.Current.Count)+per) + th.Dim.S(" at "+hm(s.Current.At))
	if r, ok := s.Ratio(); ok {
		p := th.OK
		switch {
		case r >= s.Rule.Factor:
			p = th.Bad
		case r >= 1.5:
			p = th.Warn
		}
		line += th.Dim.S(" · ") + p.S(snapshot.FormatRate(r)+"×")
	}
	base := fmt.Sprintf(" baseline %s ± %s%s", snapshot.FormatRate(b.Mean), snapshot.FormatRate(b.Spread), per)
	if b.Samples == 0 {
		base = " baseline: no data before " + hm(b.To)
	} else if !s.Marks.Start.IsZero() {
		base += fmt.Sprintf(" over %s before %s", spanLabel(b.To.Sub(b.From)), hm(s.Marks.Start))
	}
	return line + th.Dim.S(base)
}

func spikeLine(s snapshot.ErrorRate, per string, hm func(time.Time) string, th theme.Theme) string {
	limit := fmt.Sprintf("%s%s for %d in a row", snapshot.FormatRate(s.Threshold), per, max(s.Rule.Intervals, 1))
	var line string
	switch {
	case s.Spike:
		line = th.BadStrong.S(" SPIKE ") + th.Bad.S(fmt.Sprintf(" over %s%s for %d intervals, since %s", snapshot.FormatRate(s.Threshold), per, s.Streak, hm(s.SpikeSince)))
	case s.Streak > 0:
		line = th.Warn.S(fmt.Sprintf("▲ over the limit %d of %d", s.Streak, s.Rule.Intervals)) + th.Dim.S(" · limit "+limit)
	default:
		line = th.OK.S("✓ no spike") + th.Dim.S(" · limit "+limit)
	}
	if s.HasPeak {
		line += th.Dim.S(fmt.Sprintf(" · peak %d%s at %s", s.Peak.Count, per, hm(s.Peak.At)))
	}
	return line
}

// issueLines lists the new issues: short id, title, events, users and
// when first seen, the title taking what the other columns leave.
func issueLines(s snapshot.ErrorRate, hm func(time.Time) string, w int, th theme.Theme) []string {
	if s.Marks.Start.IsZero() {
		return []string{th.Dim.S("new issues: counted from the deploy start")}
	}
	ignored := ""
	if s.HiddenNew > 0 {
		ignored = fmt.Sprintf(", %d ignored", s.HiddenNew)
	}
	since := hm(s.Marks.Start)
	if len(s.NewIssues) == 0 {
		return []string{Trunc(th.OK.S("✓ no new issues since "+since)+th.Dim.S(strings.TrimPrefix(ignored, ",")), w)}
	}
	out := []string{Trunc(th.Header.S(fmt.Sprintf("%d new since %s", len(s.NewIssues), since))+th.Dim.S(ignored), w)}
	idW := 0
	for _, is := range s.NewIssues {
		idW = max(idW, ansi.StringWidth(is.ShortID))
	}
	idW = min(idW, 12)
	wide := w >= 60
	for _, is := range s.NewIssues {
		nums := fmt.Sprintf(" %6s", compactCount(is.Events)+"ev")
		if wide {
			nums += fmt.Sprintf(" %5s %s", compactCount(is.Users)+"u", hm(is.FirstSeen))
		}
		titleW := w - idW - 1 - ansi.StringWidth(nums)
		if titleW < 8 {
			out = append(out, Trunc(th.Warn.S(Fit(is.ShortID, idW))+" "+is.Title, w))
			continue
		}
		out = append(out, th.Warn.S(Fit(is.ShortID, idW))+" "+th.Text.S(Fit(is.Title, titleW))+th.Dim.S(nums))
	}
	return out
}

func compactCount(n int) string {
	switch {
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 10_000:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

var eighths = [...]string{" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"}

// chartColumn is one column of the chart: the busiest interval it covers,
// so that folding many intervals into one column never hides a spike.
type chartColumn struct {
	value      int
	at         time.Time
	deploy     bool // the deploy started in one of its intervals
	rollback   bool
	afterStart bool
	over       bool // above the spike threshold
}

// renderErrorChart draws h rows of bars, an axis with the deploy start (▲)
// and rollbacks (↺) marked, and a row of times: h+2 lines of width w.
func renderErrorChart(s snapshot.ErrorRate, w, h int, hm func(time.Time) string, th theme.Theme) []string {
	top := 1
	for _, p := range s.Series {
		top = max(top, p.Count)
	}
	if thr := int(s.Threshold + 0.999); thr > top && s.Threshold > 0 {
		top = thr
	}
	label := strconv.Itoa(top)
	lw := ansi.StringWidth(label) + 1
	pw := w - lw
	if pw < 4 {
		lw, pw = 0, w
	}
	cols := foldColumns(s, pw)
	pad := pw - len(cols)

	thrRow := -1
	if s.Threshold > 0 && s.Threshold <= float64(top) {
		thrRow = h - 1 - min(int(s.Threshold/float64(top)*float64(h)), h-1)
	}
	lines := make([]string, 0, h+2)
	var row runs
	for r := 0; r < h; r++ {
		row.reset()
		if lw > 0 {
			switch r {
			case 0:
				row.add(th.Dim, fmt.Sprintf("%*s┤", lw-1, label))
			case h - 1:
				row.add(th.Dim, fmt.Sprintf("%*s┤", lw-1, "0"))
			default:
				row.add(th.Dim, strings.Repeat(" ", lw-1)+"│")
			}
		}
		empty := " "
		if r == thrRow {
			empty = "╌"
		}
		if pad > 0 {
			row.add(th.Warn, strings.Repeat(empty, pad))
		}
		level := h - 1 - r
		for _, c := range cols {
			e := c.value * h * 8 / top
			if c.value > 0 && e == 0 {
				e = 1
			}
			fill := min(max(e-level*8, 0), 8)
			switch {
			case fill > 0:
				row.add(columnPaint(c, th), eighths[fill])
			case c.deploy:
				row.add(th.Info, "┊")
			case c.rollback:
				row.add(th.Warn, "┊")
			default:
				row.add(th.Warn, empty)
			}
		}
		lines = append(lines, row.String())
	}

	row.reset()
	if lw > 0 {
		row.add(th.Dim, strings.Repeat(" ", lw-1)+"└")
	}
	row.add(th.Dim, strings.Repeat("─", pad))
	for _, c := range cols {
		switch {
		case c.deploy:
			row.add(th.Info, "▲")
		case c.rollback:
			row.add(th.Warn, "↺")
		default:
			row.add(th.Dim, "─")
		}
	}
	lines = append(lines, row.String())
	lines = append(lines, timeRow(s, cols, lw+pad, w, hm, th))
	return lines
}

func columnPaint(c chartColumn, th theme.Theme) theme.Paint {
	switch {
	case c.over && c.afterStart:
		return th.Bad
	case c.afterStart:
		return th.Info
	}
	return th.Dim
}

// foldColumns maps the series onto at most pw columns, newest at the right.
func foldColumns(s snapshot.ErrorRate, pw int) []chartColumn {
	n := len(s.Series)
	if n == 0 || pw <= 0 {
		return nil
	}
	iv := s.Interval
	if iv <= 0 {
		iv = time.Minute
	}
	nc := min(n, pw)
	cols := make([]chartColumn, nc)
	start := s.Marks.Start
	for c := range cols {
		lo, hi := c*n/nc, (c+1)*n/nc
		col := &cols[c]
		col.at = s.Series[lo].At
		from, to := s.Series[lo].At, s.Series[hi-1].At.Add(iv)
		for _, p := range s.Series[lo:hi] {
			col.value = max(col.value, p.Count)
			if float64(p.Count) > s.Threshold {
				col.over = true
			}
		}
		if !start.IsZero() {
			col.deploy = !start.Before(from) && start.Before(to)
			col.afterStart = !to.Before(start.Add(time.Nanosecond))
		}
		for _, rb := range s.Marks.Rollbacks {
			if !rb.Before(from) && rb.Before(to) {
				col.rollback = true
			}
		}
	}
	return cols
}

// timeRow puts the first interval's time under the first column, the
// newest at the right, and says what the marks are in between.
func timeRow(s snapshot.ErrorRate, cols []chartColumn, indent, w int, hm func(time.Time) string, th theme.Theme) string {
	var legend []string
	if !s.Marks.Start.IsZero() {
		legend = append(legend, th.Info.S("▲ deploy "+hm(s.Marks.Start)))
	}
	for _, rb := range s.Marks.Rollbacks {
		legend = append(legend, th.Warn.S("↺ rollback "+hm(rb)))
	}
	mid := strings.Join(legend, " ")
	if len(cols) == 0 {
		return Trunc(mid, w)
	}
	left, right := hm(cols[0].at), hm(s.Series[len(s.Series)-1].At)
	room := w - indent - ansi.StringWidth(left) - ansi.StringWidth(right)
	if mw := ansi.StringWidth(mid); mw+2 <= room {
		gap := room - mw
		return strings.Repeat(" ", indent) + th.Dim.S(left) + strings.Repeat(" ", gap/2) + mid + strings.Repeat(" ", gap-gap/2) + th.Dim.S(right)
	}
	if mid != "" {
		return Trunc(mid, w)
	}
	return Trunc(strings.Repeat(" ", indent)+th.Dim.S(left), w)
}

// runs builds a row from painted pieces, merging neighbours that share a
// paint so a wide chart costs a few escape codes per row, not one per cell.
// Its buffers are reused from row to row.
type runs struct {
	out, seg []byte
	cur      theme.Paint
	has      bool
}

func (r *runs) reset() {
	r.out, r.seg, r.has = r.out[:0], r.seg[:0], false
}

func (r *runs) add(p theme.Paint, s string) {
	if r.has && p != r.cur {
		r.flush()
	}
	r.cur, r.has = p, true
	r.seg = append(r.seg, s...)
}

func (r *runs) flush() {
	if len(r.seg) > 0 {
		r.out = append(r.out, r.cur.S(string(r.seg))...)
		r.seg = r.seg[:0]
	}
}

func (r *runs) String() string {
	r.flush()
	r.has = false
	return string(r.out)
}
