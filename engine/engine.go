// Package engine is the deploy as a running thing: it owns the sources and
// their supervisor, the runbook and its gates, the journal and the actions.
// Views subscribe to what it publishes and send it requests; it never
// imports a terminal library and never waits on a view.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/view"
)

// Options wires the engine to the world.
type Options struct {
	Config   *config.Config
	Runbook  *runbook.Runbook // already replayed from the journal
	Journal  actions.Appender
	ReadOnly bool // nothing may change the world, whoever asks
	Operator string
	Redact   func(string) string
	// Day is the deploy's calendar day: template variables and the window
	// are computed for it.
	Day time.Time
	// Now is the clock before the first clock snapshot arrives.
	Now time.Time
	Log *slog.Logger
	// StaleAfter: a source whose last good data is older is marked stale.
	StaleAfter time.Duration
	// Kube is the client rollouts are changed with; nil without [kubernetes].
	Kube    kubernetes.Interface
	KubeErr error // why Kube is nil although [kubernetes] is configured
	// Clusters are the clients of the configured clusters by name, when
	// there are several; Kube is then the primary's.
	Clusters map[string]kubernetes.Interface
	// Reporter sends failed actions to Sentry; nil reports nothing.
	Reporter *selfreport.Reporter
	// History is the journal as replayed at start.
	History []journal.Record
	// JournalPath names the journal; the deploy record is written beside
	// it when every step is closed. Empty: no record is written.
	JournalPath string
	// AfterRollback hears of every rollback's end, whatever its outcome
	// (the team's deploy lock records it); it must not block.
	AfterRollback func(at time.Time)
}

// RecLastKnownGood is the journal record of the rollback targets.
const RecLastKnownGood = "kube.last_known_good"

// PreviewTimeout bounds how long a preview (a server-side dry run, a read
// of live sessions) may take.
const PreviewTimeout = 15 * time.Second

// Engine runs one deploy. Its exported methods are safe to call from any
// goroutine.
type Engine struct {
	opts   Options
	cfg    *config.Config
	runner *actions.Runner
	in     *intake
	ctx    context.Context
	cancel context.CancelFunc
	// owned counts every goroutine the engine started and must wait for:
	// actions, previews, the access review, views' deliveries.
	owned sync.WaitGroup

	mu       sync.Mutex // guards everything below
	rb       *runbook.Runbook
	vars     map[string]string
	now      time.Time
	updates  map[string]snapshot.Update
	facts    gates.Facts
	factFrom map[string]string // the source each fact came from
	gates    map[string]gates.Result
	lkg      map[string]snapshot.LastKnownGood
	history  []journal.Record
	running  map[string]*running
	pending  map[string]*pending
	nextID   int
	subs     []*subscriber
	runs     map[string]*run
	runOrder []string
	orphans  map[string]*orphan
	waiting  map[string]bool
	denied   []sources.KubeDenial
	pods     map[string]string // podsByClient of the rollout reading podsSeq
	podsSeq  uint64

	lockPeakMS int64
	errorPeak  int
	// reportedLen is how many records the deploy record on disk was
	// written from; reporting says a write is under way, reportAgain
	// that records came during it.
	reportedLen int
	reporting   bool
	reportAgain bool
	// finishing: deploy.finish is journaled or on its way;
	// rollbackDueNoted: the rollback deadline's passing is.
	finishing        bool
	rollbackDueNoted bool
	// advisory is the rollback recommendation raised, nil when none;
	// advisoryKeys which signals it was last journaled with.
	advisory     *view.Advisory
	advisoryKeys []string

	board      *sources.BoardSource
	sentry     *sources.Sentry
	migrations *sources.Migrations
	smoke      *sources.Smoke
	// preflightKey is the last verdicts journaled.
	preflightKey string
}

// running is an action in flight.
type running struct {
	action   actions.Action
	cancel   context.CancelFunc
	title    string
	followUp bool // sent after a rollback: its notice adds to the rollback's
}

// pending is a previewed action waiting for a confirmation.
type pending struct {
	action  actions.Action
	summary string
	timeout time.Duration
	run     *view.RunInfo
}

// New builds the engine; Start sets it going.
func New(opts Options) *Engine {
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
	e := &Engine{
		opts:     opts,
		cfg:      opts.Config,
		in:       newIntake(),
		ctx:      ctx,
		cancel:   cancel,
		rb:       opts.Runbook,
		vars:     opts.Config.TemplateVars(opts.Day),
		now:      opts.Now,
		updates:  map[string]snapshot.Update{},
		facts:    gates.Facts{},
		factFrom: map[string]string{},
		running:  map[string]*running{},
		pending:  map[string]*pending{},
		runs:     map[string]*run{},
		orphans:  map[string]*orphan{},
		waiting:  map[string]bool{},
		history:  append([]journal.Record(nil), opts.History...),
	}
	e.runner = &actions.Runner{
		Journal:  teeJournal{j: opts.Journal, in: e.in},
		ReadOnly: opts.ReadOnly,
		By:       opts.Operator,
		Timeout:  opts.Config.Deploy.CommandTimeout.D(),
	}
	e.replayPeaks()
	e.restoreRuns()
	if fileExists(ReportPath(opts.JournalPath)) {
		e.reportedLen = len(e.history)
	}
	e.replayLifecycle()
	e.replayAdvisory()
	e.restoreLKG()
	e.buildSources()
	e.replayPreflight()
	e.refreshGates()
	return e
}

// History is every journal record the engine has followed, replayed and
// new.
func (e *Engine) History() []journal.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]journal.Record(nil), e.history...)
}

// Runner is the engine's action runner (for tests and wiring).
func (e *Engine) Runner() *actions.Runner { return e.runner }

// Start runs the engine's loop, the window clock and one source per
// configured system in g, and the access review; it returns at once.
func (e *Engine) Start(g *sources.Group) {
	e.Serve(g)
	e.startSources(g)
	e.reviewAccess()
}

// Serve runs only the engine's loop in g: requests, actions and views are
// served, and no system is read.
func (e *Engine) Serve(g *sources.Group) {
	g.Go(func(ctx context.Context) {
		ctx, cancel := e.bound(ctx)
		defer cancel()
		e.in.run(ctx, e.handle)
	})
}

// bound is ctx, ended early when the engine shuts down.
func (e *Engine) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Shutdown cancels every running action and waits (up to grace) for each to
// journal its result, so a command stopped by a signal is recorded as
// cancelled rather than left as "outcome unknown".
func (e *Engine) Shutdown(grace time.Duration) {
	// Under the lock: whatever adds to owned checks e.ctx under it first,
	// so nothing is added once the wait below may have begun.
	e.mu.Lock()
	e.cancel()
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.owned.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		e.opts.Log.Warn("actions still running at exit; their outcome will show as unknown", "grace", grace)
	}
}

// goOwned runs f as a goroutine the engine waits for at Shutdown; once
// shutting down it starts nothing. Called with e.mu held.
func (e *Engine) goOwned(f func()) {
	if e.ctx.Err() != nil {
		return
	}
	e.owned.Add(1)
	go func() {
		defer e.owned.Done()
		f()
	}()
}

// reviewAccess asks the API server, once, what of the cockpit's work it
// would refuse this user.
func (e *Engine) reviewAccess() {
	if e.opts.Kube == nil || e.cfg.Kubernetes == nil {
		return
	}
	kube, nss := e.opts.Kube, e.cfg.Kubernetes.Primary().Namespaces
	e.mu.Lock()
	defer e.mu.Unlock()
	e.goOwned(func() {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		denied, err := sources.KubeAccess(ctx, kube, nss, sources.CockpitRights)
		if err != nil {
			e.opts.Log.Warn("access review", "err", err)
		}
		e.mu.Lock()
		e.denied = denied
		e.publish(nil, e.status(), nil)
		e.mu.Unlock()
	})
}

// handle is one round of the engine: what the sources and actions sent
// since the last one, applied in order, then published to every view.
func (e *Engine) handle(updates []snapshot.Update, items []item) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var events []view.Event
	for _, u := range updates {
		events = append(events, e.applyUpdate(u)...)
	}
	for _, it := range items {
		events = append(events, e.applyItem(it)...)
	}
	e.noteRollbackDue()
	e.refreshGates()
	e.judgeAdvisory()
	e.publish(updates, e.status(), events)
}

func (e *Engine) applyItem(it item) []view.Event {
	switch {
	case it.lines != nil:
		if r := e.runs[it.run]; r != nil {
			r.add(it.lines...)
		}
		return []view.Event{{Run: it.run, Lines: it.lines}}
	case it.started != nil:
		e.addRun(*it.started)
		return []view.Event{{Started: it.started}}
	case it.rec != nil:
		return e.applyRecord(*it.rec)
	case it.done != nil:
		return e.actionDone(*it.done)
	case it.orphanEnded != nil:
		return e.orphanEnded(*it.orphanEnded)
	}
	return nil
}

// applyRecord follows the journal: the runbook and the history take every
// record just written.
func (e *Engine) applyRecord(rec journal.Record) []view.Event {
	e.rb.Apply(rec)
	e.history = append(e.history, rec)
	e.followLifecycle(rec)
	e.smokeFollows(rec)
	e.refreshGates()
	e.judgeAdvisory()
	out := []view.Event{{Record: &rec}}
	return append(out, e.maybeReport()...)
}

// status is the engine's judgement now, for the views.
func (e *Engine) status() *view.Status {
	st := &view.Status{
		Now:        e.now,
		Health:     map[string]snapshot.Health{},
		Gates:      e.gates,
		LKG:        e.lkg,
		Orphans:    e.orphanSteps(),
		KubeDenied: sources.DescribeDenials(e.denied),
		Watchers:   e.watchers(),
		Advisory:   e.advisory,
	}
	for _, sec := range snapshot.Sections {
		if u, ok := e.updates[sec]; ok {
			st.Health[sec] = e.judge(u)
		} else if sources.Configured(e.cfg, sec) {
			st.Health[sec] = e.judge(snapshot.Update{Source: sec})
		}
	}
	// Only the locks pane names pods, and only from a database's view.
	if u, ok := e.updates["kubernetes"]; ok && e.cfg.Postgres != nil {
		if rs, ok := u.Data.(snapshot.Rollout); ok {
			// Built again only for a new reading: views compare it.
			if e.podsSeq != u.Seq || e.pods == nil {
				e.pods, e.podsSeq = podsByClient(rs), u.Seq
			}
			st.PodsByClient = e.pods
		}
	}
	for id, r := range e.running {
		_, isCmd := r.action.(*actions.Command)
		st.Running = append(st.Running, view.Running{ID: id, Step: r.action.Step(), Title: r.title, Command: isCmd})
	}
	sort.Slice(st.Running, func(i, j int) bool { return st.Running[i].ID < st.Running[j].ID })
	return st
}

// whole is the entire state, for a view that starts or starts over. Called
// with e.mu held.
func (e *Engine) whole() view.Batch {
	b := view.Batch{Initial: true, History: append([]journal.Record(nil), e.history...), Status: e.status(), Learned: e.rb.Learned()}
	for _, u := range e.updates {
		b.Updates = append(b.Updates, u)
	}
	for _, id := range e.runOrder {
		b.Runs = append(b.Runs, e.runs[id].info())
	}
	return b
}

func (e *Engine) newProposalID() string {
	e.nextID++
	return fmt.Sprintf("p%d", e.nextID)
}
