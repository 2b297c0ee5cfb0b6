package tui

import (
	"context"
	"log/slog"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/engine"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/selfreport"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/view"
)

// testOptions are an engine's options and its view's, as main wires them.
type testOptions struct {
	Config      *config.Config
	Runbook     *runbook.Runbook
	Journal     actions.Appender
	ReadOnly    bool
	Operator    string
	Driver      string // who a read-only view's banner names
	Redact      func(string) string
	Day, Now    time.Time
	Theme       theme.Theme
	Log         *slog.Logger
	Notices     []string
	StaleAfter  time.Duration
	Kube        kubernetes.Interface
	KubeErr     error
	Reporter    *selfreport.Reporter
	History     []journal.Record
	JournalPath string
}

// newTestModel builds an engine and one view on it. Nothing runs until
// serve or start.
func newTestModel(o testOptions) *Model {
	if o.Runbook == nil {
		o.Runbook = runbook.New(o.Config)
	}
	eng := engine.New(engine.Options{
		Config: o.Config, Runbook: o.Runbook, Journal: o.Journal, ReadOnly: o.ReadOnly, Operator: o.Operator,
		Redact: o.Redact, Day: o.Day, Now: o.Now, Log: o.Log, StaleAfter: o.StaleAfter, Kube: o.Kube, KubeErr: o.KubeErr,
		Reporter: o.Reporter, History: o.History, JournalPath: o.JournalPath,
	})
	return New(Options{Engine: eng, Viewer: view.Viewer{Name: o.Operator, ReadOnly: o.ReadOnly}, Driver: o.Driver, Config: o.Config,
		Day: o.Day, Now: o.Now, Theme: o.Theme, Log: o.Log, Notices: o.Notices, Reporter: o.Reporter})
}

// engineOf is the engine behind a test's view.
func engineOf(m *Model) *engine.Engine { return m.eng.(*engine.Engine) }

// serve runs the engine's loop, without reading any system, and feeds the
// view through send until the test ends.
func serve(t testing.TB, m *Model, send func(tea.Msg)) {
	run(t, m, send, false)
}

// start is serve with the sources running, as in the cockpit.
func start(t testing.TB, m *Model, send func(tea.Msg)) {
	run(t, m, send, true)
}

func run(t testing.TB, m *Model, send func(tea.Msg), withSources bool) {
	ctx, cancel := context.WithCancel(context.Background())
	g := sources.NewGroup(ctx)
	eng := engineOf(m)
	if withSources {
		eng.Start(g)
	} else {
		eng.Serve(g)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range eng.Subscribe(ctx, m.opts.Viewer) {
			send(batchMsg(b))
		}
	}()
	t.Cleanup(func() {
		cancel()
		eng.Shutdown(10 * time.Second)
		g.Stop()
		<-done
	})
}
