package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

const flowConfig = `
[deploy]
name = "Flow test"
environment = "production"

[window]
start = "00:00"
end = "23:59"
timezone = "UTC"

[[phase]]
name = "Pre-Deployment"

[[phase.step]]
id = "hello"
title = "Say hello"
estimate = "1m"
command = "echo hello-from-{{env}}; echo second-line"

[[phase.step]]
id = "board"
title = "Check the board"
estimate = "5m"

[[phase.step]]
id = "fails"
title = "Failing step"
estimate = "1m"
command = "echo about-to-fail >&2; exit 3"

[[phase.step]]
id = "slow"
title = "Slow step"
estimate = "1m"
command = "echo slow-started; sleep 30"
`

type flow struct {
	t       *testing.T
	tm      *teatest.TestModel
	journal string
}

func startFlow(t *testing.T, readOnly bool) *flow {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(cfgPath, []byte(flowConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(dir, "journal.jsonl")
	j, _, err := journal.Open(jpath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	now := time.Now()
	m := newTestModel(testOptions{
		Config: cfg, Runbook: runbook.New(cfg), Journal: j, ReadOnly: readOnly, Operator: "tester",
		Day: now, Now: now, Theme: theme.New(true, true),
	})
	tm := teatest.NewTestModel(t, probed{m}, teatest.WithInitialTermSize(120, 40))
	serve(t, m, tm.Send)
	return &flow{t: t, tm: tm, journal: jpath}
}

func (f *flow) key(keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter":
			f.tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "space":
			f.tm.Send(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		default:
			r := []rune(k)[0]
			f.tm.Send(tea.KeyPressMsg{Code: r, Text: k})
		}
	}
}

// probed wraps the model so a test can read the screen from inside the
// event loop, where reading the model is safe: the output stream alone only
// carries the cells that changed.
type probed struct{ *Model }

type probeMsg struct {
	fn   func(*Model)
	done chan struct{}
}

func (p probed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pm, ok := msg.(probeMsg); ok {
		pm.fn(p.Model)
		close(pm.done)
		return p, nil
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

// screen returns the screen as the operator sees it, without styles.
func (f *flow) screen() string {
	var s string
	done := make(chan struct{})
	var stale bool
	f.tm.Send(probeMsg{fn: func(m *Model) {
		s = ansi.Strip(m.Render())
		// What the view reuses must be what a full redraw would draw.
		m.drawn = [paneCount]drawn{}
		stale = ansi.Strip(m.Render()) != s
	}, done: done})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<20)
		f.t.Fatalf("the program did not answer a probe\n%s", buf[:runtime.Stack(buf, true)])
	}
	if stale {
		f.t.Fatalf("the screen reused a pane that had changed:\n%s", s)
	}
	return s
}

// waitFor waits until the screen shows every one of want.
func (f *flow) waitFor(want ...string) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		s = f.screen()
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("screen never showed %q; last screen:\n%s", want, s)
}

func (f *flow) records() []journal.Record {
	f.t.Helper()
	r, err := journal.Read(f.journal)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Records
}

func (f *flow) final() *Model {
	f.t.Helper()
	return f.tm.FinalModel(f.t, teatest.WithFinalTimeout(15*time.Second)).(probed).Model
}

func TestFlowCheckOffStep(t *testing.T) {
	f := startFlow(t, false)
	f.waitFor("Check the board")
	f.key("j", "space")
	f.waitFor("[x] Check the board")
	f.key("q")
	m := f.final()
	if st := m.rb.Step("board").State; st.Status != runbook.Done || st.By != "tester" {
		t.Fatalf("board: %+v", st)
	}
	var checks int
	for _, r := range f.records() {
		if r.Type == runbook.RecStepCheck && r.Step == "board" {
			checks++
		}
	}
	if checks != 1 {
		t.Fatalf("journal has %d step.check records for board, want 1", checks)
	}
}

func TestFlowRunCommandStep(t *testing.T) {
	f := startFlow(t, false)
	f.waitFor("Say hello")
	f.key("enter")
	f.waitFor("Confirm", "echo hello-from-production")
	f.key("y")
	f.waitFor("hello-from-production", "second-line", "exit 0 after")
	f.key("q")
	m := f.final()
	st := m.rb.Step("hello").State
	if st.Status != runbook.Done || st.Exit == nil || *st.Exit != 0 {
		t.Fatalf("hello: %+v", st)
	}
	recs := f.records()
	var intent, result *journal.Record
	for i := range recs {
		switch recs[i].Type {
		case runbook.RecIntent:
			intent = &recs[i]
		case runbook.RecResult:
			result = &recs[i]
		}
	}
	if intent == nil || result == nil || intent.Action != result.Action {
		t.Fatalf("want a paired intent and result, got %+v", recs)
	}
	if intent.Seq > result.Seq || *result.Exit != 0 || !*result.OK {
		t.Fatalf("intent %+v result %+v", intent, result)
	}
	if !strings.Contains(strings.Join(result.Tail, "\n"), "hello-from-production") {
		t.Fatalf("tail %q lacks the output", result.Tail)
	}
}

func TestFlowFailingCommandBlocksStep(t *testing.T) {
	f := startFlow(t, false)
	f.waitFor("Failing step")
	f.key("j", "j", "enter")
	f.waitFor("Confirm")
	f.key("y")
	f.waitFor("about-to-fail", "exit 3 after")
	f.key("space")
	f.waitFor("is a command: run it with enter, or skip it")
	f.key("q")
	m := f.final()
	if st := m.rb.Step("fails").State; st.Status != runbook.Failed || *st.Exit != 3 {
		t.Fatalf("fails: %+v", st)
	}
	if closed, _ := m.rb.Progress(); closed != 0 {
		t.Fatalf("a failed command must not count as closed, progress %d", closed)
	}
}

func TestFlowQuitAsksWhileCommandRuns(t *testing.T) {
	f := startFlow(t, false)
	f.waitFor("Slow step")
	f.key("j", "j", "j", "enter")
	f.waitFor("Confirm")
	f.key("y")
	f.waitFor("slow-started")
	f.key("q")
	f.waitFor("Quit anyway?")
	f.key("n")
	f.waitFor("not quitting")
	f.key("q")
	f.waitFor("Quit anyway?")
	f.key("y")
	m := f.final()
	if len(m.status.Running) != 0 {
		t.Fatalf("still running after quit: %v", m.runningTitles())
	}
	var result *journal.Record
	for _, r := range f.records() {
		if r.Type == runbook.RecResult && r.Step == "slow" {
			result = &r
		}
	}
	if result == nil || *result.OK || !strings.Contains(result.Error, "cancelled") {
		t.Fatalf("the stopped command must be journaled as cancelled, got %+v", result)
	}
}

func TestFlowReadOnlyRefusesCommandStep(t *testing.T) {
	f := startFlow(t, true)
	f.waitFor("following the journal")
	f.key("enter")
	f.waitFor("read-only mode")
	f.key("q")
	m := f.final()
	if st := m.rb.Step("hello").State; st.Status != runbook.Pending {
		t.Fatalf("hello ran in read-only mode: %+v", st)
	}
	for _, r := range f.records() {
		if r.Type == runbook.RecIntent {
			t.Fatalf("read-only mode journaled an intent: %+v", r)
		}
	}
	var out bytes.Buffer
	out.WriteString(m.Render())
	if strings.Contains(out.String(), "enter run step") {
		t.Fatal("read-only help still offers to run steps")
	}
}

func TestFlowSkipNeedsReason(t *testing.T) {
	f := startFlow(t, false)
	f.waitFor("Check the board")
	f.key("j", "s")
	f.waitFor("Skip step", "Reason (journaled)")
	f.key("enter")
	f.waitFor("a skip needs a reason")
	for _, r := range "done by Phillip" {
		f.key(string(r))
	}
	f.key("enter")
	f.waitFor("[-] Check the board")
	f.key("q")
	m := f.final()
	if st := m.rb.Step("board").State; st.Status != runbook.Skipped || st.Reason != "done by Phillip" {
		t.Fatalf("board: %+v", st)
	}
}
