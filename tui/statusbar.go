package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// The status bar is what the huddle reads from across the room, often on a
// shared 80-column screen where not all of it fits. The health marks matter
// most: a source that is down must never be cut off. So the other parts
// give way first, one detail at a time (barDetail), and the marks are
// shortened only when nothing else is left to give.

// barDetail is how much of the bar's left side and watchers is shown; each
// level drops one more thing than the one before.
type barDetail int

const (
	barFull         barDetail = iota
	barNoRelease              // the release name goes first
	barClockTime              // the clock becomes "10:42 AT RISK"
	barNoWhere                // with several clusters, what runs where goes
	barWatcherCount           // the watchers' names become a count
	barClockPhase             // the clock becomes "AT RISK"
	barShortName              // the deploy name is cut; a banner loses the deploy
	barShortest               // the environment goes, the name is cut shorter
	barDetailLevels
)

// healthDetail is how much each health mark says.
type healthDetail int

const (
	healthFull    healthDetail = iota // "✕ down: connection refused", Sentry's note
	healthBrief                       // "✕ down", "◐ stale 2m"
	healthCompact                     // "pg ✕", "jira ◐2m"
	healthTight                       // "pg✕ jira◐2m", one space apart
)

// statusBar draws the top line at width w: the first of the bar's forms,
// from the fullest, that fits. The words in the marks ("ok", a down
// source's reason) go before the deploy's name is cut; once the marks are
// shortened, the other parts may say more again.
func (m *Model) statusBar(w int) string {
	if m.bar.stamp == m.barStamp && m.bar.width == w && m.bar.line != "" {
		return m.bar.line
	}
	line := m.drawStatusBar(w)
	m.bar = drawnBar{stamp: m.barStamp, width: w, line: line}
	return line
}

func (m *Model) drawStatusBar(w int) string {
	for hd := healthFull; hd <= healthTight; hd++ {
		last := barShortest
		if hd < healthCompact {
			last = barClockPhase
		}
		right := m.barRight(barFull, hd)
		// Nothing on the left fits beside marks this wide: say less in them.
		if hd < healthTight && ansi.StringWidth(right)+2 > w {
			continue
		}
		for d := barFull; d <= last; d++ {
			left, right := m.barLeft(d), m.barRight(d, hd)
			if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 2 {
				return left + strings.Repeat(" ", gap) + right
			}
		}
	}
	// Narrower than the least the bar says: the marks keep their room, then
	// the clock, and the name is cut.
	right := panes.Trunc(m.healthMarks(healthTight), w)
	left := m.clock(barClockPhase)
	if room := w - ansi.StringWidth(right) - ansi.StringWidth(left) - 3; room > 0 {
		left = panes.Trunc(m.barName(barShortest), room) + "  " + left
	}
	return panes.Fit(panes.Fit(left, max(w-ansi.StringWidth(right)-1, 0))+" "+right, w)
}

// barLeft is who and what is deployed, and the window clock.
func (m *Model) barLeft(d barDetail) string {
	return m.barName(d) + "  " + m.clock(d)
}

// barName is who and what is deployed.
func (m *Model) barName(d barDetail) string {
	cfg := m.opts.Config
	th := m.th
	var line string
	if m.opts.Viewer.ReadOnly {
		line = th.Banner.S(" " + m.banner(d) + " ")
	} else {
		name := cfg.Deploy.Name
		switch {
		case d >= barShortest:
			line = "✈ " + cut(name, 10)
		case d >= barShortName:
			line = "✈ " + cut(name, 16) + " · " + cfg.Deploy.Environment
		default:
			line = "✈ " + name + " · " + cfg.Deploy.Environment
		}
		line = th.Bold.S(line)
	}
	if cfg.Deploy.Release != "" && d < barNoRelease {
		line += th.Bold.S(" · " + m.vars["release"])
	}
	// What runs in each cluster outlasts the release name: in an incident
	// it is the first question.
	if d < barNoWhere {
		if where := feedOf[snapshot.Rollout](m, "kubernetes").Data.WhatRunsWhere(); where != "" {
			line += th.Info.S(" · " + where)
		}
	}
	if denied := m.status.KubeDenied; denied != "" {
		badge := " not permitted "
		if d < barClockPhase {
			badge += denied + " "
		}
		line += " " + th.BadStrong.S(badge)
	}
	return line
}

// banner is what a read-only view says in place of the deploy's name: whose
// deploy it is watching, or, with no driver to attach to, that it follows
// the journal.
func (m *Model) banner(d barDetail) string {
	driver := clean(m.opts.Driver)
	switch {
	case d >= barShortName && driver == "":
		return "following the journal"
	case d >= barShortName:
		return "watching · driven by " + cut(driver, 12)
	case driver == "":
		return "following the journal of " + m.opts.Config.Deploy.Name
	}
	return "watching " + m.opts.Config.Deploy.Name + " · driven by " + driver
}

// clock is the window clock, in as many words as d allows.
func (m *Model) clock(d barDetail) string {
	th := m.th
	ws := m.window()
	var text string
	switch {
	case d >= barClockPhase:
		text = phaseWords(ws)
	case d >= barClockTime:
		text = ws.Now.In(ws.End.Location()).Format("15:04") + " " + phaseWords(ws)
	default:
		text = fmt.Sprintf("%s–%s %s", ws.Start.Format("15:04"), ws.End.Format("15:04"), ws.Summary())
	}
	switch ws.Phase {
	case runbook.AtRisk:
		return th.WarnAlarm.S(text)
	case runbook.RollBack:
		return th.BadStrong.S(" " + text + " ")
	case runbook.BeforeWindow:
		return th.Info.S(text)
	}
	return th.OK.S(text)
}

// phaseWords is the clock in the fewest words that still say what to do.
func phaseWords(ws runbook.WindowState) string {
	switch ws.Phase {
	case runbook.Finished:
		return "all closed"
	case runbook.RollBack:
		return "ROLL BACK"
	case runbook.AtRisk:
		return "AT RISK"
	case runbook.BeforeWindow:
		return "opens " + ws.Start.Format("15:04")
	}
	return runbook.Short(ws.Left) + " left"
}

func (m *Model) window() runbook.WindowState {
	start, end := m.opts.Config.Window.On(m.opts.Day)
	closed, total := m.rb.Progress()
	return runbook.Window(m.now, start, end, m.rollbackBy, m.rb.Remaining(m.now), closed == total || !m.rb.Finished.IsZero())
}

// barRight is who watches (for the driver) and the health marks.
func (m *Model) barRight(d barDetail, hd healthDetail) string {
	marks := m.healthMarks(hd)
	if w := m.watchers(d); w != "" {
		if marks == "" {
			return w
		}
		return w + "  " + marks
	}
	return marks
}

// watchers tells the driver who else is looking at the screen: the
// read-only views, by name. A viewer sees no such line.
func (m *Model) watchers(d barDetail) string {
	names := m.status.Watchers
	if m.opts.Viewer.ReadOnly || len(names) == 0 {
		return ""
	}
	text := fmt.Sprintf("👀 %d", len(names))
	if d < barWatcherCount {
		const shown = 3
		var list []string
		for i, n := range names {
			if i == shown {
				list = append(list, fmt.Sprintf("+%d", len(names)-shown))
				break
			}
			list = append(list, cut(clean(n), 12))
		}
		text += ": " + strings.Join(list, ", ")
	}
	return m.th.Info.S(text)
}

// clean makes a name from outside (an SSH key's comment) safe to draw on
// the shared screen: no terminal control sequence, one line.
func clean(s string) string {
	return strings.TrimSpace(snapshot.OneLine(snapshot.Printable(s)))
}

// cut shortens s to n cells, the ellipsis after the last word's letters
// rather than after a space.
func cut(s string, n int) string {
	if ansi.StringWidth(s) <= n {
		return s
	}
	return strings.TrimRight(ansi.Truncate(s, n-1, ""), " ") + "…"
}

var shortName = map[string]string{"kubernetes": "k8s", "postgres": "pg", "jira": "jira", "git": "git", "sentry": "sentry", "slack": "slack"}

func (m *Model) healthMarks(hd healthDetail) string {
	var parts []string
	for _, h := range m.healthList() {
		var mark string
		switch {
		case hd == healthTight:
			parts = append(parts, shortName[h.Source]+compactMark(h, m))
			continue
		case hd == healthCompact:
			mark = compactMark(h, m)
		case hd == healthBrief && h.State == snapshot.Down:
			mark = m.th.Bad.S("✕ down")
		default:
			mark = panes.HealthMark(h, m.th)
		}
		if hd == healthFull {
			if h.State == snapshot.Down {
				mark = panes.Trunc(mark, 30)
			}
			if n, ok := m.updates[h.Source].Data.(noted); ok && h.State == snapshot.OK && n.Note() != "" {
				mark = m.th.OK.S("●") + " " + m.th.Dim.S(n.Note())
			}
		}
		parts = append(parts, shortName[h.Source]+" "+mark)
	}
	if hd == healthTight {
		return strings.Join(parts, " ")
	}
	return strings.Join(parts, "  ")
}

// noted is data from a source that is up but has something to say in the
// status bar (Sentry answering, with no event in the environment yet).
type noted interface{ Note() string }

func compactMark(h snapshot.Health, m *Model) string {
	switch h.State {
	case snapshot.OK:
		return m.th.OK.S("●")
	case snapshot.Stale:
		return m.th.Warn.S("◐" + runbook.Short(h.Age))
	case snapshot.Down:
		return m.th.Bad.S("✕")
	}
	return m.th.Dim.S("…")
}
