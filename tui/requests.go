package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/flightdeckhq/flightdeck/panes"
	"github.com/flightdeckhq/flightdeck/view"
)

// answerMsg is the engine's answer to a request.
type answerMsg struct {
	req      view.Request
	proposal view.Proposal
	err      error
}

// ask sends a request to the engine. A read-only view is refused at once,
// with the reason, without asking; otherwise the engine previews (I/O, so
// in a command) and the answer comes back as a message.
func (m *Model) ask(r view.Request) tea.Cmd {
	if m.opts.Viewer.ReadOnly && r.Changes() {
		m.setFlash(fmt.Sprintf("%s: %v", r.Op, view.ErrReadOnly), true)
		return nil
	}
	if r.Changes() && r.Op != view.OpStopAll && r.Op != view.OpCancelStep {
		m.setFlash(string(r.Op)+": preparing the preview…", false)
		m.preparing = m.flash
	}
	eng, ctx, v := m.eng, m.ctx, m.opts.Viewer
	return func() tea.Msg {
		p, err := eng.Request(ctx, v, r)
		return answerMsg{req: r, proposal: p, err: err}
	}
}

// answered shows the engine's answer: an error, what started, or the
// preview to confirm.
func (m *Model) answered(a answerMsg) tea.Cmd {
	switch {
	case a.err != nil:
		m.setFlash(a.err.Error(), true)
	case a.proposal.Started:
		if a.proposal.Note != "" {
			m.setFlash(a.proposal.Note, false)
		} else if m.flash == m.preparing {
			m.flash = nil
		}
	case m.mode != modeNormal:
		m.eng.Drop(a.proposal.ID)
		m.setFlash("preview ready but another question is open; ask again", true)
	default:
		m.flash = nil
		p := a.proposal
		m.pending = &p
		m.mode = modeConfirm
	}
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
		m.eng.Drop(p.ID)
		m.setFlash("cancelled: nothing ran", false)
		return nil
	}
	eng, ctx, v, id := m.eng, m.ctx, m.opts.Viewer, p.ID
	m.confirming++
	return func() tea.Msg { return confirmedMsg{err: eng.Confirm(ctx, v, id)} }
}

// confirmedMsg is the engine's answer to a confirmation.
type confirmedMsg struct{ err error }

// confirmed takes the answer to a confirmation. Until a status published
// after it arrives, the action counts as running for the quit question.
func (m *Model) confirmed(c confirmedMsg) {
	m.confirming--
	if c.err != nil {
		m.setFlash(c.err.Error(), true)
		return
	}
	m.awaitStatus = true
}

// busy reports whether anything runs, or may have just been started.
func (m *Model) busy() bool {
	return len(m.status.Running) > 0 || m.confirming > 0 || m.awaitStatus
}

func (m *Model) stepRequest(req panes.StepRequest) tea.Cmd {
	st := m.rb.Step(req.Step)
	if st == nil {
		return nil
	}
	switch req.Op {
	case panes.OpCheck:
		return m.ask(view.Request{Op: view.OpCheckStep, Step: st.ID})
	case panes.OpSkip:
		if m.opts.Viewer.ReadOnly {
			return m.ask(view.Request{Op: view.OpSkipStep, Step: st.ID})
		}
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
		return m.ask(view.Request{Op: view.OpReopenStep, Step: st.ID})
	case panes.OpCancel:
		return m.ask(view.Request{Op: view.OpCancelStep, Step: st.ID})
	case panes.OpRun:
		return m.ask(view.Request{Op: view.OpRunStep, Step: st.ID, Tagged: m.tagged()})
	}
	return nil
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
			return m.ask(view.Request{Op: view.OpUndo, Cluster: req.Cluster, Namespace: req.Namespace, Name: req.Name, Revision: n})
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
			return m.ask(view.Request{Op: view.OpScale, Cluster: req.Cluster, Namespace: req.Namespace, Name: req.Name, Replicas: int32(n)})
		}
		reason := m.input.Value()
		if len(reason) == 0 {
			m.setFlash("a skip needs a reason: type one, or esc to go back", true)
			return nil
		}
		m.mode = modeNormal
		m.input.Blur()
		return m.ask(view.Request{Op: view.OpSkipStep, Step: m.inputFor, Reason: reason})
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

// kubeRequest turns a key in the rollout pane into its request; scale and
// undo first ask for a number.
func (m *Model) kubeRequest(req panes.KubeRequest) tea.Cmd {
	r := view.Request{Cluster: req.Cluster, Namespace: req.Namespace, Name: req.Name}
	name := req.Namespace + "/" + req.Name
	if req.Cluster != "" {
		name += "@" + req.Cluster
	}
	switch req.Op {
	case panes.OpPauseResume:
		r.Op = view.OpPause
		if req.Paused {
			r.Op = view.OpResume
		}
	case panes.OpRestart:
		r.Op = view.OpRestart
	case panes.OpScale, panes.OpUndo:
		if m.opts.Viewer.ReadOnly {
			return m.ask(view.Request{Op: view.OpScale})
		}
		if req.Op == panes.OpUndo && len(req.History) == 0 {
			m.setFlash(fmt.Sprintf("%s has no other revision to go back to", name), true)
			return nil
		}
		a := req
		m.askFor = &a
		m.mode = modeInput
		m.input.Reset()
		m.input.Placeholder = fmt.Sprintf("replicas (now %d)", req.Replicas)
		if req.Op == panes.OpUndo {
			m.input.Placeholder = fmt.Sprintf("roll %s back to revision (%s; now %d)", name, revisionList(req.History), req.Revision)
		}
		return m.input.Focus()
	default:
		return nil
	}
	return m.ask(r)
}

func revisionList(revs []int64) string {
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = strconv.FormatInt(r, 10)
	}
	return strings.Join(s, ", ")
}

// locksRequest turns c or K in the locks pane into a previewed signal.
func (m *Model) locksRequest(req panes.LocksRequest) tea.Cmd {
	op := view.OpCancelPID
	if req.Op == panes.OpTerminateBackend {
		op = view.OpTerminate
	}
	return m.ask(view.Request{Op: op, Target: req.Target, PIDs: req.PIDs})
}

// jiraRequest turns a key in the board pane into its request.
func (m *Model) jiraRequest(req panes.JiraRequest) tea.Cmd {
	switch req.Op {
	case panes.JiraRefresh:
		return m.ask(view.Request{Op: view.OpRefreshBoard})
	case panes.JiraFetch:
		return m.ask(view.Request{Op: view.OpGitFetch})
	case panes.JiraMoveAll:
		return m.ask(view.Request{Op: view.OpMoveAll})
	case panes.JiraMoveCard:
		return m.ask(view.Request{Op: view.OpMoveCard, Key: req.Key, From: req.From, To: req.To})
	}
	return nil
}

// outputRequest follows, or stops, a command the previous cockpit left.
func (m *Model) outputRequest(req panes.OutputRequest) tea.Cmd {
	op := view.OpWaitOrphan
	if req.Op == panes.OpStopOrphan {
		op = view.OpStopOrphan
	}
	return m.ask(view.Request{Op: op, Run: req.Run})
}

// tagged are the backends tagged in the locks pane, by target.
func (m *Model) tagged() map[string][]int32 {
	out := map[string][]int32{}
	if pg := m.opts.Config.Postgres; pg != nil {
		for _, t := range pg.Targets {
			if pids := m.locks.TaggedOn(t.Name); len(pids) > 0 {
				out[t.Name] = pids
			}
		}
	}
	return out
}
