// Package tui is the cockpit's root model: layout, focus, modes (normal,
// confirm, input, help, quit), the status bar, the relay from sources and the
// action runner's screens. It owns no connection: sources and actions do the
// I/O, in goroutines, and report back with messages.
package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// Options wires the model to the world.
type Options struct {
	Config   *config.Config
	Runbook  *runbook.Runbook // already replayed from the journal
	Journal  actions.Appender
	ReadOnly bool
	Operator string
	Redact   func(string) string
	// Day is the deploy's calendar day: template variables and the window
	// are computed for it.
	Day time.Time
	// Now is the clock before the first clock snapshot arrives.
	Now     time.Time
	Theme   theme.Theme
	Log     *slog.Logger
	Notices []string // shown once at start: a torn journal line, interrupted actions
	// StaleAfter: a source whose last good data is older is marked stale.
	StaleAfter time.Duration
	// Kube is the client rollouts are changed with; nil without [kubernetes].
	Kube    kubernetes.Interface
	KubeErr error // why Kube is nil although [kubernetes] is configured
	// AfterRollback is called once a rollback has run, whatever its
	// outcome, after the built-in Slack alert and Sentry marker.
	AfterRollback func(context.Context, actions.Outcome) error
	// Reporter sends the cockpit's own panics and failed actions to
	// Sentry; nil reports nothing.
	Reporter *selfreport.Reporter
	// History is the journal as replayed at start.
	History []journal.Record
	// JournalPath names the journal; the deploy record is written beside
	// it when every step is closed. Empty: no record is written.
	JournalPath string
}

// RecLastKnownGood is the journal record of the rollback targets.
const RecLastKnownGood = "kube.last_known_good"

type mode int

const (
	modeNormal mode = iota
	modeConfirm
	modeInput
	modeHelp
	modeQuit
)

// Pane order: the digit keys follow it.
const (
	paneChecklist = iota
	paneRollout
	paneLocks
	paneJira
	paneErrors
	paneOutput
	paneCount
)

var sectionPane = map[string]int{"kubernetes": paneRollout, "postgres": paneLocks, "jira": paneJira, "sentry": paneErrors}

// pendingAction is an action waiting for the operator's y.
type pendingAction struct {
	action  actions.Action
	preview actions.Preview
	summary string
	timeout time.Duration
	run     *panes.Run // for commands: what the output pane shows
}

type running struct {
	cancel context.CancelFunc
	step   string
	title  string
}

type flash struct {
	text  string
	isErr bool
}

// Model is the root of the cockpit.
type Model struct {
	opts   Options
	rb     *runbook.Runbook
	runner *actions.Runner
	relay  *Relay
	ctx    context.Context
	cancel context.CancelFunc
	vars   map[string]string
	th     theme.Theme

	width, height int
	panes         [paneCount]panes.Pane
	checklist     *panes.Checklist
	output        *panes.Output
	sourcePanes   map[string]panes.Pane
	rollout       *panes.Rollout
	locks         *panes.Locks
	jira          *panes.Jira
	errs          *panes.Errors
	focus         int
	zoom          bool
	mode          mode

	now     time.Time
	updates map[string]snapshot.Update
	facts   gates.Facts
	// factFrom names the source each fact came from, to judge its age.
	factFrom map[string]string
	gates    map[string]gates.Result

	actions sync.WaitGroup // running action goroutines, waited for at shutdown

	pending  *pendingAction
	input    textinput.Model
	inputFor string             // step id being skipped
	askFor   *panes.KubeRequest // the deployment being scaled or rolled back, when the input asks for a number
	running  map[string]*running
	spin     int
	spinning bool
	quitting bool
	flash    *flash

	keys globalKeys
	help help.Model

	lkg      map[string]snapshot.LastKnownGood
	lkgKnown bool
	// pods maps a database client to its pod, from the rollout source.
	pods map[string]string
	// kubeDenied lists what the API server refused this user at start, of
	// everything the cockpit does (flightdeck check asks the same).
	kubeDenied []sources.KubeDenial

	board      *sources.BoardSource
	sentry     *sources.Sentry
	history    []journal.Record // every journal record, replayed and new
	lockPeakMS int64
	errorPeak  int
	reported   bool
	reporting  bool
	// orphans are commands the previous cockpit left running, by run id;
	// waiting says which of them the operator follows.
	orphans map[string]*orphan
	waiting map[string]bool
}

// New builds the root model. The relay must be started with Run once the
// program exists (see Program).
func New(opts Options) *Model {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return s }
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = 45 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	relay := NewRelay()
	m := &Model{
		opts:     opts,
		rb:       opts.Runbook,
		relay:    relay,
		ctx:      ctx,
		cancel:   cancel,
		vars:     opts.Config.TemplateVars(opts.Day),
		th:       opts.Theme,
		now:      opts.Now,
		updates:  map[string]snapshot.Update{},
		facts:    gates.Facts{},
		factFrom: map[string]string{},
		running:  map[string]*running{},
		waiting:  map[string]bool{},
		keys:     newGlobalKeys(),
		help:     help.New(),
	}
	m.runner = &actions.Runner{
		Journal:  teeJournal{j: opts.Journal, relay: relay},
		ReadOnly: opts.ReadOnly,
		By:       opts.Operator,
		Timeout:  opts.Config.Deploy.CommandTimeout.D(),
	}
	m.checklist = panes.NewChecklist(m.rb, m.th)
	m.checklist.SetReadOnly(opts.ReadOnly)
	m.checklist.Data.Vars = m.vars
	m.checklist.Data.Now = m.now
	m.output = panes.NewOutput(m.th)
	m.output.SetReadOnly(opts.ReadOnly)
	m.rollout = panes.NewRollout(RolloutSettings(opts.Config), m.th)
	m.rollout.SetReadOnly(opts.ReadOnly)
	m.locks = panes.NewLocks(LocksSettings(opts.Config), m.th)
	m.locks.SetReadOnly(opts.ReadOnly)
	m.jira = panes.NewJira(JiraSettings(opts.Config), m.th)
	m.jira.SetReadOnly(opts.ReadOnly)
	m.errs = panes.NewErrors(ErrorsSettings(opts.Config), m.th)
	m.sourcePanes = map[string]panes.Pane{
		"kubernetes": m.rollout,
		"postgres":   m.locks,
		"jira":       m.jira,
		"sentry":     m.errs,
	}
	m.history = append([]journal.Record(nil), opts.History...)
	m.replayPeaks()
	m.restoreRuns()
	m.reported = fileExists(ReportPath(opts.JournalPath))
	m.buildSources()
	m.panes = [paneCount]panes.Pane{
		m.checklist, m.sourcePanes["kubernetes"], m.sourcePanes["postgres"],
		m.sourcePanes["jira"], m.sourcePanes["sentry"], m.output,
	}
	m.setFocus(paneChecklist)
	m.keys.Rollback.SetEnabled(!opts.ReadOnly && opts.Kube != nil)
	if rec, ok := m.rb.Last(RecLastKnownGood); ok {
		var list []snapshot.LastKnownGood
		if json.Unmarshal(rec.Data, &list) == nil {
			m.setLKG(list)
		}
	}
	m.input = textinput.New()
	m.input.Placeholder = "why is this step skipped?"
	m.input.CharLimit = 300
	m.applyTheme()
	m.refreshGates()
	if len(opts.Notices) > 0 {
		m.flash = &flash{text: joinNotices(opts.Notices), isErr: true}
	}
	return m
}

func joinNotices(n []string) string {
	s := n[0]
	if len(n) > 1 {
		s += fmt.Sprintf(" (+%d more in the log)", len(n)-1)
	}
	return s
}

// Relay is where sources and running actions send their data.
func (m *Model) Relay() *Relay { return m.relay }

// Runner is the model's action runner (for tests and wiring).
func (m *Model) Runner() *actions.Runner { return m.runner }

// Shutdown cancels every running action and waits (up to grace) for each to
// journal its result, so a command stopped by a signal is recorded as
// cancelled rather than left as "outcome unknown".
func (m *Model) Shutdown(grace time.Duration) {
	m.cancel()
	done := make(chan struct{})
	go func() {
		m.actions.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		m.opts.Log.Warn("actions still running at exit; their outcome will show as unknown", "grace", grace)
	}
}

func (m *Model) applyTheme() {
	for _, p := range m.panes {
		p.SetTheme(m.th)
	}
	st := help.DefaultStyles(m.th.Dark)
	if m.th.NoColor {
		st = help.Styles{}
	}
	m.help.Styles = st
}

func (m *Model) setFocus(i int) {
	m.focus = (i + paneCount) % paneCount
	for j, p := range m.panes {
		p.SetFocused(j == m.focus)
	}
}

type accessMsg struct {
	denied []sources.KubeDenial
	err    error
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	if m.opts.Kube != nil && m.opts.Config.Kubernetes != nil {
		kube, nss, ctx := m.opts.Kube, m.opts.Config.Kubernetes.Namespaces, m.ctx
		cmds = append(cmds, func() tea.Msg {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			denied, err := sources.KubeAccess(cctx, kube, nss, sources.CockpitRights)
			return accessMsg{denied: denied, err: err}
		})
	}
	return tea.Batch(cmds...)
}

type spinMsg struct{}

func spinTick() tea.Cmd {
	return tea.Tick(120*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{} })
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	defer m.reportPanic()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.th = theme.New(msg.IsDark(), m.th.NoColor)
		m.applyTheme()
		return m, nil
	case relayMsg:
		return m, m.applyRelay(msg)
	case previewMsg:
		return m, m.previewed(msg)
	case accessMsg:
		if msg.err != nil {
			m.opts.Log.Warn("access review", "err", msg.err)
		}
		m.kubeDenied = msg.denied
		return m, nil
	case reportMsg:
		// A record that could not be written is tried again at the next
		// journal record.
		m.reporting, m.reported = false, msg.err == nil
		if msg.err != nil {
			m.setFlash(fmt.Sprintf("the deploy record could not be written to %s: %v", msg.path, msg.err), true)
		} else {
			m.setFlash("every step is closed: the deploy record is in "+msg.path, false)
		}
		return m, nil
	case panes.JiraRequest:
		return m, m.jiraRequest(msg)
	case panes.OutputRequest:
		return m, m.outputRequest(msg)
	case spinMsg:
		m.spin++
		if len(m.running) == 0 {
			m.spinning = false
			return m, nil
		}
		m.syncSpinner()
		return m, spinTick()
	case panes.StepRequest:
		return m, m.stepRequest(msg)
	case panes.KubeRequest:
		return m, m.kubeRequest(msg)
	case panes.LocksRequest:
		return m, m.locksRequest(msg)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) syncSpinner() {
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	m.checklist.Data.Spinner = frames[m.spin%len(frames)]
}

func (m *Model) applyRelay(msg relayMsg) tea.Cmd {
	var cmds []tea.Cmd
	for _, u := range msg.updates {
		m.updates[u.Source] = u
		switch data := u.Data.(type) {
		case time.Time:
			if u.Source == "clock" {
				m.now = data
			}
		case snapshot.Rollout:
			m.setFacts(u, data.Facts())
			if !m.lkgKnown && u.Err == nil && len(data.Deployments) > 0 {
				cmds = append(cmds, m.recordLKG(data.LastKnownGood()))
			}
			m.pods = podsByClient(data)
		case snapshot.DBState:
			m.setFacts(u, data.Facts())
			cmds = append(cmds, m.notePeaks(data))
		case snapshot.Board:
			m.setFacts(u, data.Facts())
		case snapshot.ErrorRate:
			m.setFacts(u, data.Facts())
			if u.Err == nil {
				cmds = append(cmds, m.notePeaks(data))
			}
		}
	}
	// Lines, records and ends in the order they happened: a run's lines
	// are in the pane before the result that ends it.
	for _, e := range msg.events {
		switch {
		case e.lines != nil:
			m.output.Append(e.run, e.lines)
		case e.rec != nil:
			cmds = append(cmds, m.applyRecord(*e.rec))
		case e.done != nil:
			cmds = append(cmds, m.actionDone(*e.done))
		case e.orphanEnded != nil:
			cmds = append(cmds, m.orphanEnded(*e.orphanEnded))
		}
	}
	// Health ages with the clock even when a source says nothing.
	m.showSources()
	m.checklist.Data.Now = m.now
	m.output.Data.Now = m.now
	m.refreshGates()
	return tea.Batch(cmds...)
}

// applyRecord follows the journal: the checklist and the history take
// every record just written.
func (m *Model) applyRecord(rec journal.Record) tea.Cmd {
	m.rb.Apply(rec)
	m.history = append(m.history, rec)
	m.refreshGates()
	return m.maybeReport()
}

func (m *Model) setLKG(list []snapshot.LastKnownGood) {
	m.lkg = map[string]snapshot.LastKnownGood{}
	for _, l := range list {
		m.lkg[l.Key()] = l
	}
	m.lkgKnown = true
}

// recordLKG keeps what ran when the cockpit first saw the deploy: that is
// what R rolls back to, and a restart must not move it.
func (m *Model) recordLKG(list []snapshot.LastKnownGood) tea.Cmd {
	m.setLKG(list)
	data, _ := json.Marshal(list)
	var parts []string
	for _, l := range list {
		parts = append(parts, fmt.Sprintf("%s %s rev %d", l.Name, panes.Tag(l.Image), l.Revision))
	}
	note := &actions.Note{Rec: journal.Record{Type: RecLastKnownGood, Summary: "rollback target: " + strings.Join(parts, ", "), Data: data}}
	return m.execute(note, note.Rec.Summary, 0, nil)
}

// setFacts records a source's gate inputs. A source that is down or has no
// good data yet makes its gates unknown: a gate must never pass on data the
// cockpit cannot vouch for.
func (m *Model) setFacts(u snapshot.Update, f gates.Facts) {
	ok := u.Err == nil && !u.GoodAt.IsZero()
	for name, fact := range f {
		if !ok {
			fact = gates.Fact{Detail: "down: " + snapshot.OneLine(fmt.Sprint(u.Err))}
		}
		m.facts[name] = fact
		m.factFrom[name] = u.Source
	}
}

// refreshGates evaluates the gates on the facts that are still fresh: a
// source that has said nothing for too long (a hung connection looks just
// like that) makes its gates unknown, as a source that is down does.
func (m *Model) refreshGates() {
	facts := make(gates.Facts, len(m.facts))
	for name, f := range m.facts {
		if src, ok := m.factFrom[name]; ok && f.Known {
			if h := m.judge(m.updates[src]); h.State == snapshot.Stale {
				f = gates.Fact{Detail: "stale: no reading for " + runbook.Short(h.Age)}
			}
		}
		facts[name] = f
	}
	m.gates = m.rb.Gates(facts)
	m.checklist.Data.Gates = m.gates
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash = &flash{text: m.opts.Redact(text), isErr: isErr}
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch m.mode {
	case modeConfirm:
		return m.confirmKey(k)
	case modeInput:
		return m.inputKey(k)
	case modeQuit:
		if k.String() == "y" {
			m.mode = modeNormal
			return m.quit(true)
		}
		m.mode = modeNormal
		m.setFlash("not quitting", false)
		return nil
	case modeHelp:
		m.mode = modeNormal
		return nil
	}
	if c, ok := m.panes[m.focus].(panes.Capturing); ok && c.Capturing() {
		return m.paneKey(k)
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		return m.quit(false)
	case key.Matches(k, m.keys.Next):
		m.setFocus(m.focus + 1)
	case key.Matches(k, m.keys.Prev):
		m.setFocus(m.focus - 1)
	case key.Matches(k, m.keys.Focus):
		m.setFocus(int(k.String()[0] - '1'))
	case key.Matches(k, m.keys.Zoom):
		m.zoom = !m.zoom
	case key.Matches(k, m.keys.Help):
		m.mode = modeHelp
	case key.Matches(k, m.keys.Dismiss) && m.flash != nil:
		m.flash = nil
	case slices.Contains(m.keys.Rollback.Keys(), k.String()):
		// Matched by hand so that in read-only mode the key still says why
		// it does nothing.
		return m.rollback("", nil)
	default:
		return m.paneKey(k)
	}
	return nil
}

// paneKey hands a key to the focused pane.
func (m *Model) paneKey(k tea.KeyPressMsg) tea.Cmd {
	p, cmd := m.panes[m.focus].Update(k)
	m.panes[m.focus] = p
	return cmd
}

// quit leaves at once when nothing runs; otherwise it asks, and once
// confirmed stops every running command and leaves when they have ended, so
// their results are journaled as cancelled rather than lost.
func (m *Model) quit(confirmed bool) tea.Cmd {
	if len(m.running) == 0 {
		m.quitting = true
		return tea.Quit
	}
	if !confirmed {
		m.mode = modeQuit
		return nil
	}
	m.quitting = true
	for _, r := range m.running {
		r.cancel()
	}
	m.setFlash("stopping running commands before quitting…", false)
	return nil
}

func (m *Model) stepRequest(req panes.StepRequest) tea.Cmd {
	st := m.rb.Step(req.Step)
	if st == nil {
		return nil
	}
	switch req.Op {
	case panes.OpCheck:
		if err := m.rb.CanCheck(st.ID, m.gates[st.ID]); err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		mark := &actions.StepMark{Type: runbook.RecStepCheck, StepID: st.ID, Title: st.Title}
		if st.State.Status == runbook.Unknown {
			mark = &actions.StepMark{Type: runbook.RecVerify, StepID: st.ID, Title: st.Title,
				RunID: st.State.RunID, OK: true, Reason: "verified done by the operator after an interrupted run"}
		} else if st.Kind == config.Gate {
			mark.Value = m.gates[st.ID].Value
		}
		return m.execute(mark, "check off "+st.Title, 0, nil)
	case panes.OpSkip:
		if err := m.rb.CanSkip(st.ID); err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		m.mode = modeInput
		m.inputFor = st.ID
		m.input.Reset()
		m.input.Placeholder = "why is this step skipped?"
		return m.input.Focus()
	case panes.OpReopen:
		if err := m.rb.CanReopen(st.ID); err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		return m.execute(&actions.StepMark{Type: runbook.RecStepReopen, StepID: st.ID, Title: st.Title}, "reopen "+st.Title, 0, nil)
	case panes.OpCancel:
		for _, r := range m.running {
			if r.step == st.ID {
				r.cancel()
				m.setFlash("cancelling "+st.Title+"…", false)
				return nil
			}
		}
		m.setFlash(st.Title+" is not running", true)
		return nil
	case panes.OpRun:
		if err := m.rb.CanRun(st.ID); err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		return m.prepareRun(st)
	}
	return nil
}

// prepareRun builds the step's action, refuses it in read-only mode, and asks
// for confirmation with its preview.
func (m *Model) prepareRun(st *runbook.Step) tea.Cmd {
	if st.Kind == config.Action && st.Action == actions.KindKubeRollback {
		return m.rollback(st.ID, st.Args)
	}
	if st.Kind == config.Action && (st.Action == actions.KindPostgresCancel || st.Action == actions.KindPostgresTerminate) {
		return m.signalFromStep(st)
	}
	if st.Kind == config.Action {
		if a, summary, err, ok := m.stepAction(st); ok {
			if err != nil {
				m.setFlash(fmt.Sprintf("%s: %v (config line %d)", st.Title, err, st.Line), true)
				return nil
			}
			return m.previewAction(a, summary)
		}
		m.setFlash(fmt.Sprintf("%s: the cockpit cannot run action %s yet; do it by hand, then skip this step with s and say so", st.Title, st.Action), true)
		return nil
	}
	line, err := config.Expand(st.Command, m.vars, true)
	if err != nil {
		m.setFlash(fmt.Sprintf("%s: %v (config line %d)", st.Title, err, st.Line), true)
		return nil
	}
	dir := st.Workdir
	if dir == "" {
		dir = m.opts.Config.Deploy.Workdir
	}
	cmd := &actions.Command{
		StepID: st.ID, Title: st.Title, Line: line, Shell: m.opts.Config.Deploy.Shell, Dir: dir,
		Redact: m.opts.Redact,
		Env: []string{
			"FLIGHTDECK_DEPLOY=" + m.opts.Config.Deploy.Name,
			"FLIGHTDECK_ENV=" + m.opts.Config.Deploy.Environment,
			"FLIGHTDECK_STEP=" + st.ID,
		},
	}
	for _, name := range slices.Sorted(maps.Keys(m.opts.Config.Deploy.Env)) {
		value, err := config.Expand(m.opts.Config.Deploy.Env[name], m.vars, false)
		if err != nil {
			m.setFlash(fmt.Sprintf("%s: [deploy.env] %s: %v", st.Title, name, err), true)
			return nil
		}
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	if err := m.runner.Allowed(cmd); err != nil {
		m.setFlash(err.Error(), true)
		return nil
	}
	pv, err := cmd.Preview(m.ctx)
	if err != nil {
		m.setFlash(err.Error(), true)
		return nil
	}
	timeout := st.Timeout.D()
	if timeout == 0 {
		timeout = m.opts.Config.Deploy.CommandTimeout.D()
	}
	pv.Lines = append(pv.Lines, "timeout "+timeout.String())
	m.pending = &pendingAction{action: cmd, preview: pv, summary: line, timeout: timeout,
		run: &panes.Run{Title: st.Title, Command: line}}
	m.mode = modeConfirm
	return nil
}

func (m *Model) confirmKey(k tea.KeyPressMsg) tea.Cmd {
	p := m.pending
	m.pending = nil
	m.mode = modeNormal
	if p == nil {
		return nil
	}
	if k.String() != "y" {
		m.setFlash("cancelled: nothing ran", false)
		return nil
	}
	return m.execute(p.action, p.summary, p.timeout, p.run)
}

func (m *Model) inputKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.mode = modeNormal
		m.input.Blur()
		if m.askFor != nil {
			what := "not scaled"
			if m.askFor.Op == panes.OpUndo {
				what = "not rolled back"
			}
			m.askFor = nil
			m.setFlash(what, false)
			return nil
		}
		m.setFlash("not skipped", false)
		return nil
	case "enter":
		if req := m.askFor; req != nil && req.Op == panes.OpUndo {
			n, err := strconv.ParseInt(strings.TrimSpace(m.input.Value()), 10, 64)
			if err != nil || !slices.Contains(req.History, n) {
				m.setFlash(fmt.Sprintf("revision: one of %s, or esc to go back", revisionList(req.History)), true)
				return nil
			}
			m.mode = modeNormal
			m.input.Blur()
			m.askFor = nil
			t := []actions.KubeTarget{{Namespace: req.Namespace, Name: req.Name, ToRevision: n}}
			return m.previewAction(&actions.Rollback{Client: m.opts.Kube, Targets: t},
				fmt.Sprintf("roll back %s/%s to revision %d", req.Namespace, req.Name, n))
		}
		if req := m.askFor; req != nil {
			n, err := strconv.Atoi(strings.TrimSpace(m.input.Value()))
			if err != nil || n < 0 || n > 1000 {
				m.setFlash("replicas: a whole number from 0 to 1000, or esc to go back", true)
				return nil
			}
			m.mode = modeNormal
			m.input.Blur()
			m.askFor = nil
			t := []actions.KubeTarget{{Namespace: req.Namespace, Name: req.Name}}
			return m.previewAction(&actions.Kube{Verb: actions.KubeScale, Client: m.opts.Kube, Targets: t, Replicas: int32(n)},
				fmt.Sprintf("scale %s/%s to %d", req.Namespace, req.Name, n))
		}
		reason := m.input.Value()
		if len(reason) == 0 {
			m.setFlash("a skip needs a reason: type one, or esc to go back", true)
			return nil
		}
		m.mode = modeNormal
		m.input.Blur()
		st := m.rb.Step(m.inputFor)
		if st == nil {
			return nil
		}
		return m.execute(&actions.StepMark{Type: runbook.RecStepSkip, StepID: st.ID, Title: st.Title, Reason: reason}, "skip "+st.Title, 0, nil)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

// execute runs an action in a goroutine owned by the program; its records
// reach the model through the journal tee, its end as actionDoneMsg.
func (m *Model) execute(a actions.Action, summary string, timeout time.Duration, run *panes.Run) tea.Cmd {
	id := m.runner.NextID()
	ctx, cancel := context.WithCancel(m.ctx)
	if cmd, ok := a.(*actions.Command); ok {
		relay := m.relay
		cmd.Output = func(line string) { relay.Lines(id, line) }
		cmd.Log = m.runLog(id)
	}
	title := summary
	if st := m.rb.Step(a.Step()); st != nil {
		title = st.Title
	}
	m.running[id] = &running{cancel: cancel, step: a.Step(), title: title}
	if run != nil {
		run.ID, run.Started, run.Running = id, m.now, true
		m.output.Start(run)
	}
	m.opts.Log.Info("action start", "id", id, "kind", a.Kind(), "step", a.Step())
	runner := m.runner
	m.actions.Add(1)
	reporter := m.opts.Reporter
	cmd := func() tea.Msg {
		defer m.actions.Done()
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				reporter.Panic(r)
				panic(r)
			}
		}()
		// The end goes through the relay, behind every line and record the
		// action emitted, so nothing it said arrives after it.
		m.relay.Done(runner.Execute(ctx, id, a, summary, timeout))
		return nil
	}
	if !m.spinning && run != nil {
		m.spinning = true
		return tea.Batch(cmd, spinTick())
	}
	return cmd
}

func (m *Model) actionDone(out actions.Outcome) tea.Cmd {
	delete(m.running, out.ID)
	failed := out.Err != nil || !out.Result.OK
	m.opts.Reporter.Breadcrumb(out.Kind, m.opts.Redact(out.Result.Summary), failed)
	if failed {
		m.opts.Reporter.ActionFailed(out.Kind, m.opts.Redact(out.Result.Summary), out.Err)
	}
	m.opts.Log.Info("action end", "id", out.ID, "kind", out.Kind, "ok", out.Result.OK, "err", out.Err)
	if out.Kind == actions.KindCommandStop {
		m.noteStopped(out)
	}
	if out.Kind == runbook.KindCommand {
		errText := ""
		if out.Err != nil {
			errText = out.Err.Error()
		}
		m.output.End(out.ID, out.Took, out.Result.Exit, errText)
	}
	switch {
	case out.Err != nil:
		m.setFlash(fmt.Sprintf("%s failed: %v", out.Kind, out.Err), true)
	case !out.Result.OK:
		m.setFlash(fmt.Sprintf("%s: %s — the step stays blocked until retried (enter) or skipped (s)", out.Kind, out.Result.Summary), true)
	case out.Step == "" && (out.Kind == actions.KindSlackRollbackAlert || out.Kind == actions.KindSentryDeployMarker):
		// What follows a rollback adds to its message rather than hiding it.
		if m.flash != nil && !m.flash.isErr {
			m.setFlash(m.flash.text+" · "+out.Result.Summary, false)
		} else {
			m.setFlash("done: "+out.Result.Summary, false)
		}
	case out.Kind == actions.KindJiraMove || out.Kind == actions.KindGitFetch:
		m.setFlash("done: "+out.Result.Summary, false)
	case out.Kind == runbook.KindCommand || strings.HasPrefix(out.Kind, "kube.") || strings.HasPrefix(out.Kind, "postgres.") ||
		out.Kind == actions.KindSlackNotify || out.Kind == actions.KindSentryDeployMarker:
		m.setFlash("done: "+out.Result.Summary, false)
	}
	if (out.Kind == actions.KindJiraMove || out.Kind == actions.KindGitFetch) && m.board != nil {
		// A partial move changed the board too: read it whatever the outcome.
		m.board.Refresh()
	}
	var after []tea.Cmd
	if out.Kind == actions.KindKubeRollback {
		after = m.afterRollback(out)
	}
	var hook tea.Cmd
	if out.Kind == actions.KindKubeRollback && m.opts.AfterRollback != nil {
		after, ctx, log := m.opts.AfterRollback, m.ctx, m.opts.Log
		hook = func() tea.Msg {
			if err := after(ctx, out); err != nil {
				log.Warn("after-rollback hook failed", "err", err)
			}
			return nil
		}
	}
	if m.quitting && len(m.running) == 0 {
		return tea.Batch(hook, tea.Quit)
	}
	return tea.Batch(append(after, hook)...)
}

type previewMsg struct {
	action  actions.Action
	preview actions.Preview
	summary string
	err     error
}

// rollback builds the rollback to the last known good templates and asks
// the server for a dry run before showing the preview.
func (m *Model) rollback(step string, args map[string]string) tea.Cmd {
	if m.opts.Kube == nil {
		if m.opts.KubeErr != nil {
			m.setFlash(fmt.Sprintf("cannot roll back: %v", m.opts.KubeErr), true)
		} else {
			m.setFlash(fmt.Sprintf("nothing to roll back: add a [kubernetes] section to %s", m.opts.Config.Path), true)
		}
		return nil
	}
	if !m.lkgKnown {
		m.setFlash("no rollback target yet: waiting for the first reading of the deployments", true)
		return nil
	}
	var targets []actions.KubeTarget
	keys := make([]string, 0, len(m.lkg))
	for k := range m.lkg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := m.lkg[k]
		if d := args["deployment"]; d != "" && d != l.Name {
			continue
		}
		t := actions.KubeTarget{Namespace: l.Namespace, Name: l.Name, ToRevision: l.Revision, ToImage: l.Image}
		if r := args["revision"]; r != "" {
			t.ToRevision, _ = strconv.ParseInt(r, 10, 64)
			t.ToImage = ""
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		m.setFlash(fmt.Sprintf("no deployment %q is watched", args["deployment"]), true)
		return nil
	}
	return m.previewAction(&actions.Rollback{Client: m.opts.Kube, Targets: targets, StepID: step}, "roll back "+strings.Join(keys, ", "))
}

// previewAction refuses a dangerous action in read-only mode, else asks for
// its preview (a server-side dry run: I/O, so in a command) and then for
// confirmation.
func (m *Model) previewAction(a actions.Action, summary string) tea.Cmd {
	if err := m.runner.Allowed(a); err != nil {
		m.setFlash(err.Error(), true)
		return nil
	}
	m.setFlash(a.Kind()+": preparing the preview…", false)
	ctx := m.ctx
	return func() tea.Msg {
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		pv, err := a.Preview(pctx)
		return previewMsg{action: a, preview: pv, summary: summary, err: err}
	}
}

// kubeRequest turns a key in the rollout pane into its action.
func (m *Model) kubeRequest(req panes.KubeRequest) tea.Cmd {
	if m.opts.ReadOnly {
		m.setFlash("kube."+string(req.Op)+": "+actions.ErrReadOnly.Error(), true)
		return nil
	}
	if m.opts.Kube == nil {
		m.setFlash(fmt.Sprintf("cannot change deployments: %v", m.opts.KubeErr), true)
		return nil
	}
	t := []actions.KubeTarget{{Namespace: req.Namespace, Name: req.Name}}
	name := req.Namespace + "/" + req.Name
	switch req.Op {
	case panes.OpPauseResume:
		if req.Paused {
			return m.previewAction(&actions.Kube{Verb: actions.KubeResume, Client: m.opts.Kube, Targets: t}, "resume "+name)
		}
		return m.previewAction(&actions.Kube{Verb: actions.KubePause, Client: m.opts.Kube, Targets: t}, "pause "+name)
	case panes.OpRestart:
		return m.previewAction(&actions.Kube{Verb: actions.KubeRestart, Client: m.opts.Kube, Targets: t}, "restart "+name)
	case panes.OpScale:
		r := req
		m.askFor = &r
		m.mode = modeInput
		m.input.Reset()
		m.input.Placeholder = fmt.Sprintf("replicas (now %d)", req.Replicas)
		return m.input.Focus()
	case panes.OpUndo:
		if len(req.History) == 0 {
			m.setFlash(fmt.Sprintf("%s has no other revision to go back to", name), true)
			return nil
		}
		r := req
		m.askFor = &r
		m.mode = modeInput
		m.input.Reset()
		m.input.Placeholder = fmt.Sprintf("roll %s back to revision (%s; now %d)", name, revisionList(req.History), req.Revision)
		return m.input.Focus()
	}
	return nil
}

func revisionList(revs []int64) string {
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = strconv.FormatInt(r, 10)
	}
	return strings.Join(s, ", ")
}

// pgTarget finds a [[postgres.target]] by name; "" is the first.
func (m *Model) pgTarget(name string) (config.PostgresTarget, bool) {
	if m.opts.Config.Postgres == nil || len(m.opts.Config.Postgres.Targets) == 0 {
		return config.PostgresTarget{}, false
	}
	for _, t := range m.opts.Config.Postgres.Targets {
		if t.Name == name || name == "" {
			return t, true
		}
	}
	return config.PostgresTarget{}, false
}

// locksRequest turns c or K in the locks pane into a previewed signal.
func (m *Model) locksRequest(req panes.LocksRequest) tea.Cmd {
	kind := actions.KindPostgresCancel
	if req.Op == panes.OpTerminateBackend {
		kind = actions.KindPostgresTerminate
	}
	if m.opts.ReadOnly {
		m.setFlash(kind+": "+actions.ErrReadOnly.Error(), true)
		return nil
	}
	if len(req.PIDs) == 0 {
		m.setFlash("nothing to "+string(req.Op)+": select a backend in a list, or tag some with space", true)
		return nil
	}
	t, ok := m.pgTarget(req.Target)
	if !ok {
		m.setFlash(fmt.Sprintf("no [[postgres.target]] named %q", req.Target), true)
		return nil
	}
	a := &actions.PGSignal{Terminate: req.Op == panes.OpTerminateBackend, Target: t, Vars: m.vars, PIDs: actions.SortedPIDs(req.PIDs)}
	return m.previewAction(a, fmt.Sprintf("%s %v on %s", req.Op, a.PIDs, t.Name))
}

// signalFromStep runs a postgres.cancel or postgres.terminate step: on the
// backends tagged in the locks pane when that pane shows the step's target,
// else on the target's root blockers as the preview finds them.
func (m *Model) signalFromStep(st *runbook.Step) tea.Cmd {
	t, ok := m.pgTarget(st.Args["target"])
	if !ok {
		m.setFlash(fmt.Sprintf("%s: no [[postgres.target]] named %q (config line %d)", st.Title, st.Args["target"], st.Line), true)
		return nil
	}
	a := &actions.PGSignal{Terminate: st.Action == actions.KindPostgresTerminate, Target: t, Vars: m.vars, StepID: st.ID}
	if pids := m.locks.TaggedOn(t.Name); len(pids) > 0 {
		a.PIDs = pids
	}
	return m.previewAction(a, fmt.Sprintf("%s: %s on %s", st.Title, st.Action, t.Name))
}

func (m *Model) previewed(msg previewMsg) tea.Cmd {
	if msg.err != nil {
		m.setFlash(fmt.Sprintf("%s: cannot preview: %v", msg.action.Kind(), msg.err), true)
		return nil
	}
	if m.mode != modeNormal {
		m.setFlash("preview ready but another question is open; press R again", true)
		return nil
	}
	m.flash = nil
	m.pending = &pendingAction{action: msg.action, preview: msg.preview, summary: msg.summary, timeout: 2 * time.Minute}
	m.mode = modeConfirm
	return nil
}

// partlyDown is data from a source that reads several systems at once and
// stays up while one of them is down (the locks source and its targets).
type partlyDown interface{ Down() error }

// judge is a source's health now; a source partly down shows as down, with
// the part named, in the status bar.
func (m *Model) judge(u snapshot.Update) snapshot.Health {
	h := snapshot.Judge(u, m.now, m.opts.StaleAfter)
	if p, ok := u.Data.(partlyDown); ok && u.Err == nil {
		if err := p.Down(); err != nil {
			h.State, h.Reason = snapshot.Down, snapshot.OneLine(err.Error())
		}
	}
	return h
}

// podsByClient maps what a database sees of a client to its pod: the
// application_name the pod set to its own name, which Postgres cuts to 63
// bytes, or the pod's address. An address pods share (host networking, a
// proxy's) names none of them: a wrong pod is worse than none.
func podsByClient(s snapshot.Rollout) map[string]string {
	const appNameMax = 63 // NAMEDATALEN - 1
	pods := map[string]string{}
	shared := map[string]bool{}
	for _, d := range s.Deployments {
		for _, p := range d.Pods {
			pods[p.Name] = p.Name
			if len(p.Name) > appNameMax {
				pods[p.Name[:appNameMax]] = p.Name
			}
			if p.IP == "" {
				continue
			}
			if other, ok := pods[p.IP]; ok && other != p.Name {
				shared[p.IP] = true
			}
			pods[p.IP] = p.Name
		}
	}
	for ip := range shared {
		delete(pods, ip)
	}
	return pods
}

// Sections with health marks, in status bar order.
func (m *Model) healthList() []snapshot.Health {
	var out []snapshot.Health
	for _, sec := range sources.Sections {
		if !sources.Configured(m.opts.Config, sec) {
			continue
		}
		u, ok := m.updates[sec]
		if !ok {
			u = snapshot.Update{Source: sec}
		}
		out = append(out, m.judge(u))
	}
	return out
}

// RunningTitles lists what runs now, for the quit question.
func (m *Model) runningTitles() []string {
	var t []string
	for _, r := range m.running {
		t = append(t, r.title)
	}
	sort.Strings(t)
	return t
}

func fileExists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

func jsonInto(data []byte, v any) bool { return len(data) > 0 && json.Unmarshal(data, v) == nil }

// reportPanic sends a panic in Update or View to Sentry and panics on, so
// Bubble Tea restores the terminal; the event is delivered when the
// program has ended (see selfreport.Reporter.Flush).
func (m *Model) reportPanic() {
	if r := recover(); r != nil {
		m.opts.Reporter.Panic(r)
		panic(r)
	}
}
