package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/flightdeckhq/flightdeck/engine"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/view"
)

// rehearseFlags are flightdeck rehearse's own flags.
type rehearseFlags struct {
	gateTimeout time.Duration
	drills      []string
	skips       []string // ID=REASON
}

func newRehearseCmd(g *globalFlags) *cobra.Command {
	var f rehearseFlags
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "Drive the runbook unattended (against a sandbox or staging) and journal it as a rehearsal",
		Long: `Drives the whole runbook with no one at the keys, through the same engine,
requests and journal as the cockpit: manual steps are ticked with a note
that the rehearsal ticked them; gates are waited for, up to --gate-timeout,
then ticked; command and action steps run, confirmed automatically.
Contingency phases are left alone unless named with --drill, which runs them
after the normal flow, in the order named. It stops at the first step that
fails, since later steps build on earlier ones, and prints one line per step
as it goes: outcome, actual time, id and title.

A step known to be red where the rehearsal runs (a stand-in's deliberate
fault) is skipped with a reason, as the cockpit's skip: [rehearsal] skip in
the config, or --skip ID=REASON. The journal says so.

Each rehearsal has a journal of its own, beside the deploy's real ones:
` + stateDir() + `/<deploy>/rehearsals/<date>T<time>.jsonl,
opening with rehearsal.start and closing with rehearsal.finish; its record
(.md beside it) is headed as a rehearsal. It never resumes, nor counts as,
the day's deploy. With [lock], it takes the team's deploy lock as the
cockpit does, and releases it at the end unless something was rolled back.

Steps that ran, here and in real deploys, teach the cockpit how long they
usually take: the median of the last [rehearsal] history runs is shown
beside each step's estimate and counted by the window clock.

Exit codes:
  0  every step passed, or was skipped with a reason
  1  a step failed (named, with why), or the run could not go on
  2  usage or configuration error; the deploy lock is someone else's`,
		Example: `  flightdeck rehearse --config ~/.local/state/flightdeck/sandbox/flightdeck.toml
  flightdeck rehearse --skip pre/jira-columns="the stand-in board is seeded red" --drill drill/bad-release --drill dr/rollback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRehearse(cmd.Context(), cmd.OutOrStdout(), *g, f)
		},
	}
	cmd.Flags().DurationVar(&f.gateTimeout, "gate-timeout", 0, "how long to wait for a gate to pass before its step fails (default [rehearsal] gate_timeout, else "+config.DefaultGateTimeout.String()+")")
	cmd.Flags().StringArrayVar(&f.drills, "drill", nil, "run a contingency step or phase (by step id or phase name) after the normal flow; repeatable, in order")
	cmd.Flags().StringArrayVar(&f.skips, "skip", nil, "skip step `ID=REASON`, journaled with the reason; repeatable, added to [rehearsal] skip")
	return cmd
}

// rehearsalDetail is what rehearsal.start and rehearsal.finish carry.
type rehearsalDetail struct {
	GateTimeout string            `json:"gate_timeout,omitempty"`
	Drills      []string          `json:"drills,omitempty"`
	Skips       map[string]string `json:"skips,omitempty"`
	Outcome     string            `json:"outcome,omitempty"`
	Passed      int               `json:"passed,omitempty"`
	Skipped     int               `json:"skipped,omitempty"`
	FailedStep  string            `json:"failed_step,omitempty"`
}

func runRehearse(ctx context.Context, out io.Writer, g globalFlags, f rehearseFlags) error {
	cfg, err := loadConfig(g.config, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		return err
	}
	plan, err := planRehearsal(cfg, f)
	if err != nil {
		return fail(exitConfig, err)
	}
	redactor := cfg.Redactor()
	log, logFile, err := openLog(redactor.Redact)
	if err != nil {
		return fail(exitFailure, fmt.Errorf("opening the log %s: %w", logPath(), err))
	}
	defer logFile.Close()
	// client-go logs through klog, to stderr by default: the rehearsal's
	// lines on stdout are its report, and its details go to the log.
	klog.SetSlogLogger(log)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	now := time.Now()
	day := now.In(cfg.Window.Location)
	path := rehearsalPath(cfg, now)
	lock := takeDeployLock(ctx, cfg, day, false, log)
	switch {
	case lock.yields():
		return fail(exitConfig, fmt.Errorf("%s — a rehearsal changes the world, so it drives only under the deploy lock: not started (flightdeck lock status says more)", lock.heldBy.Error()))
	case lock != nil && lock.err != nil:
		return fail(exitFailure, fmt.Errorf("the deploy lock cannot be taken, and a rehearsal changes the world only under it: %w", lock.err))
	}

	// Until the walk begins, an error lets the lock go again: nothing was
	// changed under it.
	abort := func(err error) error {
		releaseRehearsalLock(lock, false, "rehearsal not started: "+err.Error(), io.Discard, log)
		return err
	}
	j, _, err := journal.Open(path, journal.Options{Redact: redactor.Redact})
	if err != nil {
		return abort(fail(exitJournal, err))
	}
	defer j.Close()
	rb := runbook.New(cfg)
	rb.Learn(learnedTimes(cfg, path, log))
	detail := rehearsalDetail{GateTimeout: plan.gateTimeout.String(), Drills: f.drills, Skips: plan.skips}
	data, _ := json.Marshal(detail)
	first := []journal.Record{
		{Type: runbook.RecRehearsalStart, By: operator(cfg), Data: data,
			Summary: fmt.Sprintf("rehearsal of %s · %s: %d steps, %d skipped with a reason", cfg.Deploy.Name, cfg.Deploy.Environment, len(plan.steps), len(plan.skips))},
		{Type: runbook.RecDeployOpen, By: operator(cfg), Summary: cfg.Deploy.Name + " · " + cfg.Deploy.Environment},
	}
	if rb.StartsDeploy() == nil {
		first[1].Type = runbook.RecDeployStart
	}
	var history []journal.Record
	for _, rec := range first {
		if rec, err = j.Append(rec); err != nil {
			return abort(fail(exitJournal, err))
		}
		rb.Apply(rec)
		history = append(history, rec)
	}
	recs, err := lock.journalTake(j, operator(cfg))
	if err != nil {
		return abort(fail(exitJournal, err))
	}
	for _, rec := range recs {
		rb.Apply(rec)
		history = append(history, rec)
	}
	log.Info("rehearsal start", "config", cfg.Path, "journal", path, "steps", len(plan.steps), "version", versionString())

	// The engine is built as the cockpit builds it, with no view but the
	// rehearsal's own.
	kube, clusters, kubeErr := kubeClients(cfg.Kubernetes)
	var rolledBack atomic.Bool
	markLock := lock.afterRollback()
	eng := engine.New(engine.Options{
		Kube: kube, KubeErr: kubeErr, Clusters: clusters,
		Config: cfg, Runbook: rb, Journal: j, Operator: operator(cfg),
		Redact: redactor.Redact, Day: day, Now: now, Log: log,
		History: history, JournalPath: path,
		AfterRollback: func(at time.Time) {
			rolledBack.Store(true)
			if markLock != nil {
				markLock(at)
			}
		},
	})
	group := sources.NewGroup(ctx)
	w := newWalker(ctx, eng, cfg, view.Viewer{Name: operator(cfg)}, out, redactor.Redact, log)
	eng.Start(group)
	lock.keep(group, eng.Runner().Journal, operator(cfg))

	fmt.Fprintf(out, "rehearsal of %s (%s): %d steps, gates waited for up to %s\njournal %s\n\n",
		cfg.Deploy.Name, cfg.Deploy.Environment, len(plan.steps), plan.gateTimeout, path)
	began := time.Now()
	res := w.walk(plan)
	took := time.Since(began)

	detail.Outcome, detail.Passed, detail.Skipped = "passed", res.passed, res.skipped
	summary := fmt.Sprintf("rehearsal passed: %s, in %s", res.counts(), runbook.Short(took))
	if res.failed != nil {
		detail.Outcome, detail.FailedStep = "failed", res.failed.step.ID
		summary = fmt.Sprintf("rehearsal failed at %s (%s): %s; %s before it, in %s",
			res.failed.step.ID, res.failed.step.Title, res.failed.why, res.counts(), runbook.Short(took))
	}
	data, _ = json.Marshal(detail)
	w.settle(30 * time.Second)
	ok := res.failed == nil
	finish := journal.Record{Type: runbook.RecRehearsalFinish, By: operator(cfg), OK: &ok, Summary: summary, Data: data}
	if res.failed != nil {
		finish.Step, finish.Error = res.failed.step.ID, res.failed.why
	}
	if _, err := eng.Runner().Journal.Append(finish); err != nil {
		log.Warn("journaling the rehearsal's end", "err", err)
	}
	eng.Shutdown(30 * time.Second)
	group.Stop()
	w.close()
	releaseRehearsalLock(lock, rolledBack.Load(), summary, out, log)

	record := engine.ReportPath(path)
	if err := writeRecord(cfg, path, record); err != nil {
		fmt.Fprintf(out, "the rehearsal's record could not be written to %s: %v\n", record, err)
	}
	fmt.Fprintf(out, "\n%s\nrecord  %s\n", summary, record)
	if res.failed != nil {
		return fail(exitFailure, fmt.Errorf("rehearsal failed at %s: %s", res.failed.step.ID, redactor.Redact(res.failed.why)))
	}
	if ctx.Err() != nil {
		return fail(exitFailure, errors.New("rehearsal interrupted"))
	}
	return nil
}

// rehearsalPath is a new journal for this rehearsal: named for its start,
// with a suffix should another have started in the same second.
func rehearsalPath(cfg *config.Config, now time.Time) string {
	path := journal.RehearsalPath(stateDir(), cfg.Deploy.Name, now.In(cfg.Window.Location))
	base := strings.TrimSuffix(path, ".jsonl")
	for i := 2; fileExists(path); i++ {
		path = fmt.Sprintf("%s-%d.jsonl", base, i)
	}
	return path
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// releaseRehearsalLock lets the deploy lock go once the rehearsal is over,
// unless a rollback happened under it: that stays on the lock, as after a
// deploy, until someone releases it with a reason.
func releaseRehearsalLock(dl *deployLock, rolledBack bool, summary string, out io.Writer, log *slog.Logger) {
	if dl == nil || dl.lock == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	if rolledBack || !dl.took.State.RolledBackAt.IsZero() {
		if rolledBack {
			if _, err := dl.lock.MarkRolledBack(ctx, time.Now()); err != nil {
				log.Warn("marking the rollback on the deploy lock", "err", err)
			}
		}
		fmt.Fprintf(out, "the deploy lock %s stays held: a rollback happened under it (flightdeck lock release --reason lets it go)\n", dl.lock.Where())
		return
	}
	if _, err := dl.lock.Release(ctx, summary); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("releasing the deploy lock", "lease", dl.lock.Where(), "err", err)
		fmt.Fprintf(out, "the deploy lock %s could not be released: %v (it lapses by itself)\n", dl.lock.Where(), err)
	}
}

// writeRecord writes the rehearsal's record from its journal, whatever
// its outcome: the cockpit writes one only for a finished deploy, and a
// rehearsal that stopped early needs its record most.
func writeRecord(cfg *config.Config, journalPath, recordPath string) error {
	f, err := os.Create(recordPath + ".tmp")
	if err != nil {
		return err
	}
	if err := report.FromFile(f, cfg, journalPath); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(recordPath+".tmp", recordPath)
}
