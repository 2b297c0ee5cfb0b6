package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/engine"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/internal/stderrlog"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/share"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/tui"
	"github.com/flightdeckhq/flightdeck/view"
)

func operator(cfg *config.Config) string {
	if cfg.Deploy.Operator != "" {
		return cfg.Deploy.Operator
	}
	return "operator"
}

// watcherClock is how often a watcher's clock and ages move while nothing
// else changes. Each watcher's screen is a Bubble Tea program of its own in
// this process, and a frame that changes costs a few milliseconds to turn
// into cells: fifty watchers redrawing every second for ages alone would
// cost the driver's machine a fifth of a core. Real changes reach them at
// once.
const watcherClock = 5 * time.Second

// shareOptions are where the driver of the deploy whose journal is at
// journalPath listens for local observers, and the keys both sides use.
func shareOptions(journalPath string) share.Options {
	keys := filepath.Join(stateDir(), "share")
	return share.Options{
		Socket:      filepath.Join(filepath.Dir(journalPath), "driver.sock"),
		HostKey:     filepath.Join(keys, "host_ed25519"),
		ObserverKey: filepath.Join(keys, "observer_ed25519"),
	}
}

// shareAddr is where to serve teammates, from the flag or [share] listen.
func shareAddr(g globalFlags, cfg *config.Config) (string, error) {
	addr := g.share
	if addr == "" && cfg.Share != nil {
		addr = cfg.Share.Listen
	}
	if addr == "" {
		return "", nil
	}
	if g.readOnly {
		return "", fail(exitConfig, errors.New("--share is for the cockpit that drives the deploy; a read-only one has nothing of its own to share"))
	}
	if cfg.Share == nil || cfg.Share.AuthorizedKeys == "" {
		return "", fail(exitConfig, fmt.Errorf("%s: sharing needs the keys that may watch: add [share] with authorized_keys = \"~/.ssh/flightdeck_viewers\" (one teammate's public key a line, as in ~/.ssh/authorized_keys)", cfg.Path))
	}
	return addr, nil
}

func runCockpit(ctx context.Context, g globalFlags) error {
	cfg, err := loadConfig(g.config, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		return err
	}
	addr, err := shareAddr(g, cfg)
	if err != nil {
		return err
	}
	if path := os.Getenv("FLIGHTDECK_CPUPROFILE"); path != "" {
		stop, err := cpuProfile(path)
		if err != nil {
			return fail(exitFailure, err)
		}
		defer stop()
	}
	redactor := cfg.Redactor()
	log, logFile, err := openLog(redactor.Redact)
	if err != nil {
		return fail(exitFailure, fmt.Errorf("opening the log %s: %w", logPath(), err))
	}
	defer logFile.Close()
	// client-go logs through klog, to stderr by default: under the TUI that
	// would scribble over the screen.
	klog.SetSlogLogger(log)

	now := time.Now()
	day := now.In(cfg.Window.Location)
	path := journal.Path(stateDir(), cfg.Deploy.Name, day)
	lock := takeDeployLock(ctx, cfg, day, g.readOnly, log)
	if lock.yields() {
		// Someone else drives this deploy: watch it, as --read-only would.
		g.readOnly = true
	}
	if g.readOnly {
		if attached, err := attachToDriver(ctx, log, path); attached {
			return err
		}
	}

	var (
		jnl     actions.Appender
		history []journal.Record
		notices []string
		tail    *journal.Tail
		welcome string
	)
	if g.readOnly {
		// No driver on this machine: follow the journal without taking
		// it, so a driver starting later is not refused.
		tail = journal.NewTail(path)
		if history, err = tail.Next(); err != nil {
			return fail(exitJournal, err)
		}
		jnl = readOnlyJournal{path: path}
		welcome = "no cockpit drives this deploy on this machine: following its journal " + path
		if lock.yields() {
			jnl = lock.journal()
		}
	} else {
		j, replay, err := journal.Open(path, journal.Options{Redact: redactor.Redact})
		if err != nil {
			return fail(exitJournal, err)
		}
		defer j.Close()
		jnl, history = j, replay.Records
		if replay.Torn != nil {
			notices = append(notices, replay.Torn.String())
		}
	}
	rb := runbook.New(cfg)
	rb.Learn(learnedTimes(cfg, path, log))
	for _, rec := range history {
		rb.Apply(rec)
	}
	if !g.readOnly {
		for _, rec := range rb.Interrupted() {
			notices = append(notices, fmt.Sprintf("outcome unknown — verify: %s %q started %s was interrupted",
				rec.Kind, rec.Summary, rec.At.In(cfg.Window.Location).Format("15:04:05")))
		}
	}
	notices = append(notices, lock.startNotices()...)
	for _, n := range notices {
		log.Warn(n)
	}
	if rb.Began().IsZero() && !g.readOnly {
		// With a step that starts the deploy (the push), the first launch
		// only opens it: the error baseline and "new since the deploy"
		// hang on deploy.start, which that step journals.
		typ := runbook.RecDeployStart
		if rb.StartsDeploy() != nil {
			typ = runbook.RecDeployOpen
		}
		rec, err := jnl.Append(journal.Record{Type: typ, By: operator(cfg),
			Summary: cfg.Deploy.Name + " · " + cfg.Deploy.Environment})
		if err != nil {
			return fail(exitJournal, err)
		}
		rb.Apply(rec)
		history = append(history, rec)
	}
	recs, err := lock.journalTake(jnl, operator(cfg))
	if err != nil {
		return fail(exitJournal, err)
	}
	for _, rec := range recs {
		rb.Apply(rec)
		history = append(history, rec)
	}
	log.Info("cockpit start", "config", cfg.Path, "journal", path, "read_only", g.readOnly, "version", versionString())

	kube, clusters, kubeErr := kubeClients(cfg.Kubernetes)
	var reporter *selfreport.Reporter
	if cfg.Sentry != nil && cfg.Sentry.DSN.IsSet() && len(cfg.SecretErrors["sentry"]) == 0 {
		reporter, err = selfreport.New(selfreport.Options{DSN: cfg.Sentry.DSN.Value(), Redact: redactor.Redact,
			Release: versionString(), Environment: cfg.Deploy.Environment, Deploy: cfg.Deploy.Name,
			DeployRelease: cfg.TemplateVars(day)["release"], Operator: operator(cfg)})
		if err != nil {
			log.Warn("not reporting the cockpit's own errors", "err", err)
		}
	}
	// Delivered after the terminal is restored: a panic's report is sent
	// from here, not from inside the broken screen.
	defer reporter.Flush(5 * time.Second)
	eng := engine.New(engine.Options{
		Kube: kube, KubeErr: kubeErr, Clusters: clusters,
		Config: cfg, Runbook: rb, Journal: jnl, ReadOnly: g.readOnly, Operator: operator(cfg),
		Redact: redactor.Redact, Day: day, Now: now, Log: log,
		History: history, JournalPath: path, Reporter: reporter,
		AfterRollback: lock.afterRollback(),
	})
	// Every view, the driver's and each viewer's, is built the same way.
	driver := operator(cfg)
	if g.readOnly {
		driver = "" // nobody: this view follows the journal
		if lock.yields() {
			driver = lock.holder()
		}
	}
	lock.tell(eng.Notify)
	newView := func(v view.Viewer, env []string, notices []string, welcome string, clockEvery time.Duration) *tui.Model {
		return tui.New(tui.Options{
			Engine: eng, Viewer: v, Driver: driver, ClockEvery: clockEvery,
			Config: cfg, Day: day, Now: time.Now(), Log: log, Notices: notices, Welcome: welcome, Reporter: reporter,
			Theme: theme.New(true, theme.NoColorIn(env)),
		})
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	group := sources.NewGroup(ctx)
	if !g.readOnly {
		srv, err := startSharing(cfg, addr, path, log, func(v view.Viewer, env []string) share.View {
			return newView(v, env, nil, "", watcherClock)
		})
		switch {
		case err != nil && addr != "":
			group.Stop()
			return err
		case err != nil:
			// Only the local observers lose out: the deploy goes on.
			log.Warn("local observers cannot attach", "err", err)
			notices = append(notices, fmt.Sprintf("flightdeck --read-only on this machine cannot attach to this cockpit: %v", err))
		default:
			defer srv.Close(5 * time.Second)
		}
		if err == nil && addr != "" {
			host, port, _ := net.SplitHostPort(srv.Addr().String())
			welcome = fmt.Sprintf("sharing read-only views: ssh -p %s %s", port, host)
		}
	}
	if tail != nil {
		group.Go(func(ctx context.Context) { followJournal(ctx, tail, eng, log) })
	}
	lock.keep(group, eng.Runner().Journal, operator(cfg))
	model := newView(view.Viewer{Name: operator(cfg), ReadOnly: g.readOnly}, os.Environ(), notices, welcome, 0)
	// From here the screen is the cockpit's: whatever a library or a child
	// given this process's stderr writes (a kubeconfig's credential plugin
	// above all) goes to the log instead. A fatal crash's trace, which
	// would go down the same pipe with the process, is written to the log
	// file directly.
	if f, ok := logFile.(*os.File); ok {
		_ = debug.SetCrashOutput(f, debug.CrashOptions{})
	}
	restoreStderr, err := stderrlog.Capture(log)
	if err != nil {
		group.Stop()
		return fail(exitFailure, fmt.Errorf("sending standard error to the log %s: %w", logPath(), err))
	}
	defer restoreStderr()
	// The engine sends at most one batch a frame (engine.Frame). Bubble Tea
	// writes frames on a ticker, so a key's frame waits up to one tick; at
	// 120 ticks a second the driver's keys answered 3 ms sooner at the
	// median and the idle process used a core's 1 % more (BenchmarkViewers).
	prog := tea.NewProgram(model, tea.WithContext(ctx), tea.WithFPS(int(time.Second/engine.Frame)))
	group.Go(func(ctx context.Context) { model.Subscribe(ctx, prog.Send) })
	eng.Start(group)

	_, runErr := prog.Run()
	model.Close()
	eng.Shutdown(10 * time.Second)
	group.Stop()
	log.Info("cockpit stop", "err", runErr)
	if errors.Is(runErr, tea.ErrProgramPanic) {
		return fail(exitFailure, fmt.Errorf("the cockpit crashed (the log %s has the details); start it again: it resumes from the journal", logPath()))
	}
	if runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled) {
		return fail(exitFailure, runErr)
	}
	return nil
}

// startSharing serves local observers always, and teammates over SSH when
// asked to.
func startSharing(cfg *config.Config, addr, journalPath string, log *slog.Logger, newView func(view.Viewer, []string) share.View) (*share.Server, error) {
	opts := shareOptions(journalPath)
	opts.Listen, opts.Log, opts.NewView = addr, log, newView
	// A watcher's keys only move its own screen: 15 frames a second is
	// quick enough for them, and each watcher's ticker costs the driver's
	// machine wakeups.
	opts.FPS = 15
	if cfg.Share != nil {
		opts.AuthorizedKeys = cfg.Share.AuthorizedKeys
		opts.MaxViewers = cfg.Share.MaxViewers
		opts.IdleTimeout = cfg.Share.IdleTimeout.D()
	}
	srv, err := share.Start(opts)
	if err != nil {
		var ke *share.KeyError
		if errors.As(err, &ke) {
			return nil, fail(exitConfig, err)
		}
		return nil, fail(exitFailure, fmt.Errorf("sharing the cockpit: %w", err))
	}
	return srv, nil
}

// attachToDriver shows the live view of the cockpit driving this deploy on
// this machine, if one does. attached is false when none listens.
func attachToDriver(ctx context.Context, log *slog.Logger, journalPath string) (attached bool, err error) {
	opts := shareOptions(journalPath)
	att := share.AttachOptions{Socket: opts.Socket, ObserverKey: opts.ObserverKey, HostKey: opts.HostKey,
		User: currentUser(), In: os.Stdin, Out: os.Stdout, Env: passedEnv()}
	client, err := share.Dial(att)
	if errors.Is(err, share.ErrNoDriver) {
		log.Info("no driver to attach to", "socket", opts.Socket)
		return false, nil
	}
	if err != nil {
		return true, fail(exitFailure, err)
	}
	log.Info("attached to the driver", "socket", opts.Socket)
	err = share.Attach(ctx, client, att)
	if errors.Is(err, share.ErrDriverGone) {
		// Not a failure of this view: say what happened and how to go on.
		fmt.Fprintln(os.Stderr, "flightdeck: the cockpit driving this deploy stopped; run flightdeck --read-only again to follow its journal")
		return true, nil
	}
	if err != nil {
		return true, fail(exitFailure, err)
	}
	return true, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// passedEnv is what a driver needs to draw this terminal's view as it
// would draw its own.
func passedEnv() []string {
	var env []string
	for _, k := range []string{"NO_COLOR", "COLORTERM"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// followJournal feeds the engine what the journal's writer adds.
func followJournal(ctx context.Context, tail *journal.Tail, eng *engine.Engine, log *slog.Logger) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		recs, err := tail.Next()
		if err != nil && !failing {
			log.Warn("following the journal", "journal", tail.Path(), "err", err)
		}
		failing = err != nil
		eng.Follow(recs...)
	}
}

// readOnlyJournal is an observer's: it never writes.
type readOnlyJournal struct{ path string }

func (j readOnlyJournal) Append(journal.Record) (journal.Record, error) {
	return journal.Record{}, fmt.Errorf("read-only: the journal %s is written only by the cockpit that drives the deploy", j.path)
}

// kubeClients are the clients deployments are changed with: the primary
// cluster's, and with several clusters every one's by name. A cluster
// whose kubeconfig cannot be read has none; its deployments' changes then
// fail with that reason while the others' go through.
func kubeClients(k *config.Kubernetes) (primary kubernetes.Interface, byName map[string]kubernetes.Interface, primaryErr error) {
	if k == nil {
		return nil, nil, nil
	}
	client := func(c *config.Kubernetes) (kubernetes.Interface, error) {
		rc, _, err := sources.KubeRESTConfig(c)
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(rc)
	}
	if !k.Several() {
		primary, primaryErr = client(k)
		return primary, nil, primaryErr
	}
	byName = map[string]kubernetes.Interface{}
	for _, c := range k.ClusterList() {
		cs, err := client(c)
		if err == nil {
			byName[c.Name] = cs
		}
		if c == k.Primary() {
			primary, primaryErr = cs, err
		}
	}
	return primary, byName, primaryErr
}
