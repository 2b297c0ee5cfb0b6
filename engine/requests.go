package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/view"
)

// errStopping refuses what is asked while the engine shuts down.
var errStopping = errors.New("the cockpit is stopping")

// plan is an action built from a request: previewed and confirmed, or run
// at once when now is set (a step ticked off, a skip).
type plan struct {
	action  actions.Action
	summary string
	timeout time.Duration
	run     *view.RunInfo
	now     bool
	note    string // said when the request is done at once without an action
}

// Request implements view.Engine.
func (e *Engine) Request(ctx context.Context, v view.Viewer, r view.Request) (view.Proposal, error) {
	if v.ReadOnly && r.Changes() {
		return view.Proposal{}, fmt.Errorf("%s: %w", r.Op, view.ErrReadOnly)
	}
	e.mu.Lock()
	if e.ctx.Err() != nil {
		e.mu.Unlock()
		return view.Proposal{}, errStopping
	}
	p, err := e.plan(r)
	if err != nil {
		e.mu.Unlock()
		return view.Proposal{}, errors.New(e.opts.Redact(err.Error()))
	}
	if p.action == nil {
		e.mu.Unlock()
		return view.Proposal{Started: true, Note: p.note}, nil
	}
	if err := e.runner.Allowed(p.action); err != nil {
		e.mu.Unlock()
		return view.Proposal{}, err
	}
	if p.now {
		e.execute(p.action, p.summary, p.timeout, p.run, false)
		e.mu.Unlock()
		return view.Proposal{Kind: p.action.Kind(), Summary: p.summary, Started: true, Note: p.note}, nil
	}
	// The preview is I/O (a server-side dry run, a read of live sessions):
	// done without the lock, and waited for at shutdown.
	e.owned.Add(1)
	e.mu.Unlock()
	defer e.owned.Done()
	pctx, cancel := context.WithTimeout(ctx, PreviewTimeout)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()
	pv, err := p.action.Preview(pctx)
	if err != nil {
		return view.Proposal{}, errors.New(e.opts.Redact(fmt.Sprintf("%s: cannot preview: %v", p.action.Kind(), err)))
	}
	lines := pv.Lines
	if p.run != nil {
		lines = append(lines, "timeout "+p.timeout.String())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newProposalID()
	e.pending[id] = &pending{action: p.action, summary: p.summary, timeout: p.timeout, run: p.run}
	return view.Proposal{ID: id, Kind: p.action.Kind(), Step: p.action.Step(), Summary: p.summary, Title: pv.Title, Lines: lines}, nil
}

// Confirm implements view.Engine.
func (e *Engine) Confirm(ctx context.Context, v view.Viewer, id string) error {
	if v.ReadOnly {
		return view.ErrReadOnly
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pending[id]
	delete(e.pending, id)
	if p == nil {
		return errors.New("that preview is no longer open: ask again")
	}
	if e.ctx.Err() != nil {
		return errStopping
	}
	if err := e.runner.Allowed(p.action); err != nil {
		return err
	}
	e.execute(p.action, p.summary, p.timeout, p.run, false)
	// Views learn at once that it runs: one quitting right after must ask.
	e.publish(nil, e.status(), nil)
	return nil
}

// Drop implements view.Engine.
func (e *Engine) Drop(id string) {
	e.mu.Lock()
	delete(e.pending, id)
	e.mu.Unlock()
}

// plan builds what a request asks for. Called with e.mu held.
func (e *Engine) plan(r view.Request) (plan, error) {
	switch r.Op {
	case view.OpRunStep, view.OpCheckStep, view.OpSkipStep, view.OpReopenStep, view.OpCancelStep:
		return e.stepPlan(r)
	case view.OpRollback:
		return e.rollbackPlan("", nil)
	case view.OpPause, view.OpResume, view.OpRestart, view.OpScale, view.OpUndo:
		return e.kubePlan(r)
	case view.OpCancelPID, view.OpTerminate:
		return e.signalPlan(r)
	case view.OpRefreshBoard, view.OpGitFetch, view.OpMoveAll, view.OpMoveCard:
		return e.boardPlan(r)
	case view.OpWaitOrphan:
		note, err := e.waitOrphan(r.Run)
		return plan{note: note}, err
	case view.OpStopOrphan:
		o := e.orphans[r.Run]
		if o == nil {
			return plan{}, errors.New("that run is not running any more")
		}
		command := ""
		if run := e.runs[r.Run]; run != nil {
			command = run.Command
		}
		return plan{action: &actions.StopOrphan{StepID: o.step, Pgid: o.pgid, Command: command},
			summary: fmt.Sprintf("stop process group %d", o.pgid), timeout: e.timeout(o.step)}, nil
	case view.OpFinish:
		return e.finishPlan()
	case view.OpStopAll:
		for _, run := range e.running {
			run.cancel()
		}
		return plan{note: "stopping running commands before quitting…"}, nil
	}
	return plan{}, fmt.Errorf("unknown request %q", r.Op)
}

// timeout is how long an action of step may run: the step's own timeout,
// else the deploy's.
func (e *Engine) timeout(step string) time.Duration {
	if st := e.rb.Step(step); st != nil && st.Timeout.D() > 0 {
		return st.Timeout.D()
	}
	return e.cfg.Deploy.CommandTimeout.D()
}

func (e *Engine) stepPlan(r view.Request) (plan, error) {
	st := e.rb.Step(r.Step)
	if st == nil {
		return plan{}, fmt.Errorf("no step %q in the runbook", r.Step)
	}
	switch r.Op {
	case view.OpCheckStep:
		if err := e.rb.CanCheck(st.ID, e.gates[st.ID]); err != nil {
			return plan{}, err
		}
		mark := &actions.StepMark{Type: runbook.RecStepCheck, StepID: st.ID, Title: st.Title, Reason: strings.TrimSpace(r.Reason)}
		if st.State.Status == runbook.Unknown {
			mark = &actions.StepMark{Type: runbook.RecVerify, StepID: st.ID, Title: st.Title,
				RunID: st.State.RunID, OK: true, Reason: "verified done by the operator after an interrupted run"}
		} else if st.Kind == config.Gate {
			mark.Value = e.gates[st.ID].Value
		}
		return plan{action: mark, summary: "check off " + st.Title, now: true}, nil
	case view.OpSkipStep:
		if err := e.rb.CanSkip(st.ID); err != nil {
			return plan{}, err
		}
		if strings.TrimSpace(r.Reason) == "" {
			return plan{}, errors.New("a skip needs a reason: type one, or esc to go back")
		}
		return plan{action: &actions.StepMark{Type: runbook.RecStepSkip, StepID: st.ID, Title: st.Title, Reason: r.Reason},
			summary: "skip " + st.Title, now: true}, nil
	case view.OpReopenStep:
		if err := e.rb.CanReopen(st.ID); err != nil {
			return plan{}, err
		}
		return plan{action: &actions.StepMark{Type: runbook.RecStepReopen, StepID: st.ID, Title: st.Title},
			summary: "reopen " + st.Title, now: true}, nil
	case view.OpCancelStep:
		for _, run := range e.running {
			if run.action.Step() == st.ID {
				run.cancel()
				return plan{note: "cancelling " + st.Title + "…"}, nil
			}
		}
		return plan{}, fmt.Errorf("%s is not running", st.Title)
	}
	if err := e.rb.CanRun(st.ID); err != nil {
		return plan{}, err
	}
	if st.Kind == config.Action {
		return e.actionStepPlan(st, r.Tagged)
	}
	return e.commandPlan(st)
}

// commandPlan builds a command step's run: the line expanded, the deploy's
// environment, the step's timeout.
func (e *Engine) commandPlan(st *runbook.Step) (plan, error) {
	line, err := config.Expand(st.Command, e.vars, true)
	if err != nil {
		return plan{}, fmt.Errorf("%s: %v (config line %d)", st.Title, err, st.Line)
	}
	dir := st.Workdir
	if dir == "" {
		dir = e.cfg.Deploy.Workdir
	}
	cmd := &actions.Command{
		StepID: st.ID, Title: st.Title, Line: line, Shell: e.cfg.Deploy.Shell, Dir: dir,
		Redact: e.opts.Redact,
		Env: []string{
			"FLIGHTDECK_DEPLOY=" + e.cfg.Deploy.Name,
			"FLIGHTDECK_ENV=" + e.cfg.Deploy.Environment,
			"FLIGHTDECK_STEP=" + st.ID,
		},
	}
	for _, name := range slices.Sorted(maps.Keys(e.cfg.Deploy.Env)) {
		value, err := config.Expand(e.cfg.Deploy.Env[name], e.vars, false)
		if err != nil {
			return plan{}, fmt.Errorf("%s: [deploy.env] %s: %v", st.Title, name, err)
		}
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	return plan{action: cmd, summary: line, timeout: e.timeout(st.ID),
		run: &view.RunInfo{Title: st.Title, Command: line}}, nil
}

// actionStepPlan builds the action an action step names.
func (e *Engine) actionStepPlan(st *runbook.Step, tagged map[string][]int32) (plan, error) {
	wrap := func(a actions.Action, summary string, err error) (plan, error) {
		if err != nil {
			return plan{}, fmt.Errorf("%s: %v (config line %d)", st.Title, err, st.Line)
		}
		return plan{action: a, summary: summary, timeout: e.timeout(st.ID)}, nil
	}
	cfg := e.cfg
	if verb, ok := actions.KubeVerbOf(st.Action); ok {
		return wrap(e.kubeStep(st, verb))
	}
	switch st.Action {
	case actions.KindKubeRollback:
		return e.rollbackPlan(st.ID, st.Args)
	case actions.KindPostgresCancel, actions.KindPostgresTerminate:
		t, ok := e.pgTarget(st.Args["target"])
		if !ok {
			return plan{}, fmt.Errorf("%s: no [[postgres.target]] named %q (config line %d)", st.Title, st.Args["target"], st.Line)
		}
		a := &actions.PGSignal{Terminate: st.Action == actions.KindPostgresTerminate, Target: t, Vars: e.vars, StepID: st.ID}
		// The backends tagged in the view on the step's target, else its
		// root blockers as the preview finds them.
		if pids := tagged[t.Name]; len(pids) > 0 {
			a.PIDs = actions.SortedPIDs(pids)
		}
		return wrap(a, fmt.Sprintf("%s: %s on %s", st.Title, st.Action, t.Name), nil)
	case actions.KindJiraMove:
		jm, err := actions.NewJiraMove(cfg.Jira, st.Args["move"], st.ID)
		if err != nil {
			return wrap(nil, "", err)
		}
		jm.Moved = actions.JiraMovedByJournal(e.history)
		return wrap(jm, st.Title, nil)
	case actions.KindMigrationsDryRun:
		return e.dryRunPlan(st)
	case actions.KindGitFetch:
		return wrap(&actions.GitFetch{Git: cfg.Git, StepID: st.ID}, st.Title, nil)
	case actions.KindSentryDeployMarker:
		if e.sentry == nil {
			return wrap(nil, "", fmt.Errorf("Sentry is not usable: %v", e.sectionProblem("sentry")))
		}
		return wrap(e.deployMarker(st.Args["stage"], st.ID), st.Title, nil)
	case actions.KindSlackNotify:
		if cfg.Slack == nil || len(cfg.SecretErrors["slack"]) > 0 {
			return wrap(nil, "", fmt.Errorf("Slack is not usable: %v", e.sectionProblem("slack")))
		}
		text, err := config.Expand(st.Args["text"], e.vars, false)
		if err != nil {
			return wrap(nil, "", err)
		}
		return wrap(actions.NewSlackNotify(cfg.Slack, st.Args["channel"], text, st.ID), st.Title, nil)
	}
	return plan{}, fmt.Errorf("%s: the cockpit cannot run action %s yet; do it by hand, then skip this step with s and say so", st.Title, st.Action)
}

// kubeClient is the client deployments are changed with, or why there is
// none.
func (e *Engine) kubeClient(what string) error {
	if e.opts.Kube != nil {
		return nil
	}
	if e.opts.KubeErr != nil {
		return fmt.Errorf("cannot %s: %v", what, e.opts.KubeErr)
	}
	return fmt.Errorf("nothing to %s: add a [kubernetes] section to %s", what, e.cfg.Path)
}

// rollbackPlan rolls every watched deployment (or args.deployment) back to
// the last known good templates, or to args.revision.
func (e *Engine) rollbackPlan(step string, args map[string]string) (plan, error) {
	if err := e.kubeClient("roll back"); err != nil {
		return plan{}, err
	}
	if e.lkg == nil {
		return plan{}, errors.New("no rollback target yet: waiting for the first reading of the deployments")
	}
	keys := slices.SortedFunc(maps.Keys(e.lkg), func(a, b string) int {
		// By cluster, then name: the preview is read a cluster at a time.
		return cmp.Or(cmp.Compare(e.lkg[a].Cluster, e.lkg[b].Cluster), cmp.Compare(a, b))
	})
	var targets []actions.KubeTarget
	for _, k := range keys {
		l := e.lkg[k]
		if d := args["deployment"]; d != "" && d != l.Name {
			continue
		}
		t := actions.KubeTarget{Cluster: l.Cluster, Namespace: l.Namespace, Name: l.Name, ToRevision: l.Revision, ToImage: l.Image}
		if r := args["revision"]; r != "" {
			t.ToRevision, _ = strconv.ParseInt(r, 10, 64)
			t.ToImage = ""
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return plan{}, fmt.Errorf("no deployment %q is watched", args["deployment"])
	}
	return plan{action: &actions.Rollback{Client: e.opts.Kube, Clients: e.opts.Clusters, Targets: targets, StepID: step},
		summary: "roll back " + strings.Join(keys, ", "), timeout: e.timeout(step)}, nil
}

// kubePlan is a change to one deployment asked for from the rollout pane.
func (e *Engine) kubePlan(r view.Request) (plan, error) {
	if err := e.kubeClient("change deployments"); err != nil {
		return plan{}, err
	}
	t := []actions.KubeTarget{{Cluster: r.Cluster, Namespace: r.Namespace, Name: r.Name}}
	name := t[0].String()
	kube := func(v actions.KubeVerb) *actions.Kube {
		return &actions.Kube{Verb: v, Client: e.opts.Kube, Clients: e.opts.Clusters, Targets: t}
	}
	p := plan{timeout: e.cfg.Deploy.CommandTimeout.D()}
	switch r.Op {
	case view.OpPause:
		p.action, p.summary = kube(actions.KubePause), "pause "+name
	case view.OpResume:
		p.action, p.summary = kube(actions.KubeResume), "resume "+name
	case view.OpRestart:
		p.action, p.summary = kube(actions.KubeRestart), "restart "+name
	case view.OpScale:
		if r.Replicas < 0 || r.Replicas > 1000 {
			return plan{}, errors.New("replicas: a whole number from 0 to 1000")
		}
		k := kube(actions.KubeScale)
		k.Replicas = r.Replicas
		p.action = k
		p.summary = fmt.Sprintf("scale %s to %d", name, r.Replicas)
	case view.OpUndo:
		t[0].ToRevision = r.Revision
		p.action = &actions.Rollback{Client: e.opts.Kube, Clients: e.opts.Clusters, Targets: t}
		p.summary = fmt.Sprintf("roll back %s to revision %d", name, r.Revision)
	}
	return p, nil
}

// pgTarget finds a [[postgres.target]] by name; "" is the first.
func (e *Engine) pgTarget(name string) (config.PostgresTarget, bool) {
	if e.cfg.Postgres == nil {
		return config.PostgresTarget{}, false
	}
	for _, t := range e.cfg.Postgres.Targets {
		if t.Name == name || name == "" {
			return t, true
		}
	}
	return config.PostgresTarget{}, false
}

// signalPlan is a cancel or terminate of the backends a view selected.
func (e *Engine) signalPlan(r view.Request) (plan, error) {
	verb := "cancel"
	if r.Op == view.OpTerminate {
		verb = "terminate"
	}
	if len(r.PIDs) == 0 {
		return plan{}, fmt.Errorf("nothing to %s: select a backend in a list, or tag some with space", verb)
	}
	t, ok := e.pgTarget(r.Target)
	if !ok {
		return plan{}, fmt.Errorf("no [[postgres.target]] named %q", r.Target)
	}
	a := &actions.PGSignal{Terminate: r.Op == view.OpTerminate, Target: t, Vars: e.vars, PIDs: actions.SortedPIDs(r.PIDs)}
	return plan{action: a, summary: fmt.Sprintf("%s %v on %s", verb, a.PIDs, t.Name), timeout: e.cfg.Deploy.CommandTimeout.D()}, nil
}

// boardPlan is what the board pane asks: read it again, fetch, move.
func (e *Engine) boardPlan(r view.Request) (plan, error) {
	cfg := e.cfg
	p := plan{timeout: cfg.Deploy.CommandTimeout.D()}
	switch r.Op {
	case view.OpRefreshBoard:
		if e.board == nil {
			return plan{note: "no board to read: " + e.sectionProblem("jira")}, nil
		}
		e.board.Refresh()
		return plan{note: "reading the board again…"}, nil
	case view.OpGitFetch:
		if cfg.Git == nil {
			return plan{}, fmt.Errorf("nothing to fetch: add a [git] section to %s", cfg.Path)
		}
		p.action, p.summary = &actions.GitFetch{Git: cfg.Git}, "git fetch"
		return p, nil
	}
	if cfg.Jira == nil {
		return plan{}, fmt.Errorf("no [jira] section in %s", cfg.Path)
	}
	if r.Op == view.OpMoveCard {
		if r.To == "" {
			return plan{}, fmt.Errorf("%s is in %s, which no [[jira.move]] takes cards from", r.Key, r.From)
		}
		p.action, p.summary = actions.NewJiraMoveCard(cfg.Jira, r.Key, r.To), fmt.Sprintf("move %s to %s", r.Key, r.To)
		return p, nil
	}
	a, err := actions.NewJiraMove(cfg.Jira, "", "")
	if err != nil {
		return plan{}, err
	}
	a.Moved = actions.JiraMovedByJournal(e.history)
	p.action, p.summary = a, "post-deploy ticket moves"
	return p, nil
}
