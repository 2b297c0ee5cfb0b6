package panes

import (
	"fmt"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// SourceView is what a pane fed by one external system shows about that
// system: whether it is configured, whether it answers, and what the config
// asks the cockpit to watch there.
type SourceView struct {
	Number     int
	Title      string
	Section    string // config section, e.g. "kubernetes"
	ConfigPath string
	Configured bool
	Explain    string   // what the pane shows once configured
	Scope      []string // what the config points it at
	Reach      []snapshot.Reach
	Health     snapshot.Health
	Focused    bool
}

// HealthMark renders a health state as the status bar and panes show it:
// "● ok", "◐ stale 12s", "✕ down: reason".
func HealthMark(h snapshot.Health, th theme.Theme) string {
	switch h.State {
	case snapshot.OK:
		return th.OK.S("● ok")
	case snapshot.Stale:
		return th.Warn.S("◐ stale " + runbook.Short(h.Age))
	case snapshot.Down:
		if h.Reason == "" {
			return th.Bad.S("✕ down")
		}
		return th.Bad.S("✕ down: " + h.Reason)
	}
	return th.Dim.S("… connecting")
}

// RenderSource draws a source pane.
func RenderSource(v SourceView, width, height int, th theme.Theme) string {
	inner := width - 2
	title := fmt.Sprintf("%d %s", v.Number, v.Title)
	var body []string
	add := func(p theme.Paint, text string) {
		for _, l := range Wrap(text, inner) {
			body = append(body, p.S(l))
		}
	}
	if !v.Configured {
		add(th.Dim, "Not configured.")
		add(th.Text, fmt.Sprintf("Add a [%s] section to %s to see %s here; config.example.toml shows one.", v.Section, v.ConfigPath, v.Explain))
		return Frame(title, v.Focused, body, width, height, th)
	}
	// The reach lines below carry the details; the headline stays short.
	headline := v.Health
	if headline.State == snapshot.Down && len(v.Reach) > 0 {
		headline.Reason = ""
	}
	body = append(body, Trunc(HealthMark(headline, th), inner))
	for _, r := range v.Reach {
		mark, p := "✓", th.OK
		text := r.Target
		if r.Detail != "" {
			text += " · " + r.Detail
		}
		if r.Err != nil {
			mark, p = "✕", th.Bad
			text = r.Target + " · " + snapshot.OneLine(r.Err.Error())
		}
		add(p, mark+" "+text)
	}
	if len(v.Scope) > 0 {
		body = append(body, "")
		for _, s := range v.Scope {
			add(th.Dim, s)
		}
	}
	if len(body) > 0 && strings.TrimSpace(body[len(body)-1]) == "" {
		body = body[:len(body)-1]
	}
	return Frame(title, v.Focused, body, width, height, th)
}
