package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
)

// bigConfig is a 60-step runbook over four phases.
func bigConfig(tb testing.TB) *config.Config {
	var b strings.Builder
	b.WriteString("[deploy]\nname = \"Bench\"\nenvironment = \"production\"\n[window]\nstart = \"09:00\"\nend = \"12:30\"\ntimezone = \"Europe/London\"\n")
	for p := 0; p < 4; p++ {
		fmt.Fprintf(&b, "[[phase]]\nname = \"Phase %d\"\n", p+1)
		for s := 0; s < 15; s++ {
			fmt.Fprintf(&b, "[[phase.step]]\ntitle = \"Step %d.%d: make sure the thing number %d is in the right state\"\nestimate = \"3m\"\n", p+1, s+1, s)
			if s%3 == 0 {
				fmt.Fprintf(&b, "command = \"echo step %d %d && git checkout production && git pull\"\n", p, s)
			}
		}
	}
	cfg, err := config.Parse("bench.toml", []byte(b.String()), config.LoadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

type nopJournal struct{}

func (nopJournal) Append(r journal.Record) (journal.Record, error) { return r, nil }

// BenchmarkRenderCockpit draws one full frame: every pane at 200×60, a
// 60-step runbook with a third of it done, and 10,000 lines of output.
func BenchmarkRenderCockpit(b *testing.B) {
	cfg := bigConfig(b)
	rb := runbook.New(cfg)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i, s := range rb.Steps() {
		if i%3 == 0 {
			rb.Apply(journal.Record{Type: runbook.RecStepCheck, Step: s.ID, At: now.Add(-time.Duration(60-i) * time.Minute)})
		}
	}
	m := newTestModel(testOptions{Config: cfg, Runbook: rb, Journal: nopJournal{}, Day: now, Now: now, Theme: theme.New(true, false)})
	m.rb = rb // the view's copy of the journal's state, as if it had arrived
	m.checklist.Data.Runbook = rb
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.output.Start(panes.NewRun("bench", "long output", "yes", now))
	lines := make([]string, 10000)
	for i := range lines {
		lines[i] = fmt.Sprintf("%05d some output line from a migration with a few words in it", i)
	}
	m.output.Append("bench", lines)
	m.checklist.Data.Cursor = 30
	if out := m.Render(); strings.Count(out, "\n") != 59 {
		b.Fatalf("frame has %d lines", strings.Count(out, "\n")+1)
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.drawn = [paneCount]drawn{} // every pane changed
			_ = m.Render()
		}
	})
	// A clock tick with nothing new: the status bar is drawn, the panes
	// are reused.
	b.Run("tick", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = m.Render()
		}
	})
}
