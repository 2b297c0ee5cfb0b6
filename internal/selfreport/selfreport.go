// Package selfreport sends the cockpit's own failures to Sentry when the
// config opts in with [sentry] dsn: its panics, and the actions that failed,
// with the actions taken before as breadcrumbs and the deploy as context.
//
// Every event passes through the config's redactor on its way out, field by
// field, so a secret the cockpit knows can never leave in a report, whatever
// message or panic value carried it.
package selfreport

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/getsentry/sentry-go"
)

// Reporter reports to one Sentry project. The zero of *Reporter (nil) is
// valid and reports nothing, so callers need not check whether reporting
// is on.
type Reporter struct {
	hub *sentry.Hub
}

// Options set up a Reporter.
type Options struct {
	DSN           string
	Redact        func(string) string
	Release       string // the cockpit's version
	Environment   string // the deploy's environment
	Deploy        string
	DeployRelease string // the release being deployed
	Operator      string
	// Transport replaces the HTTP transport, for tests; nil is the default.
	Transport sentry.Transport
}

// New returns a Reporter, or nil when o.DSN is empty.
func New(o Options) (*Reporter, error) {
	if o.DSN == "" {
		return nil, nil
	}
	redact := o.Redact
	if redact == nil {
		redact = func(s string) string { return s }
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              o.DSN,
		Release:          "flightdeck@" + o.Release,
		Environment:      o.Environment,
		AttachStacktrace: true,
		SendDefaultPII:   false,
		MaxBreadcrumbs:   100,
		Transport:        o.Transport,
		BeforeSend: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			scrubEvent(e, redact)
			return e
		},
		BeforeBreadcrumb: func(b *sentry.Breadcrumb, _ *sentry.BreadcrumbHint) *sentry.Breadcrumb {
			scrubBreadcrumb(b, redact)
			return b
		},
	})
	if err != nil {
		return nil, fmt.Errorf("[sentry] dsn: %w", err)
	}
	scope := sentry.NewScope()
	scope.SetTag("deploy", o.Deploy)
	scope.SetTag("deploy_release", o.DeployRelease)
	scope.SetUser(sentry.User{Username: o.Operator})
	return &Reporter{hub: sentry.NewHub(client, scope)}, nil
}

// Breadcrumb records an action taken, for the next report's context.
func (r *Reporter) Breadcrumb(category, message string, failed bool) {
	if r == nil {
		return
	}
	level := sentry.LevelInfo
	if failed {
		level = sentry.LevelError
	}
	r.hub.AddBreadcrumb(&sentry.Breadcrumb{Type: "default", Category: category, Message: message, Level: level, Timestamp: time.Now()}, nil)
}

// ActionFailed reports an action that failed or could not run.
func (r *Reporter) ActionFailed(kind, summary string, err error) {
	if r == nil {
		return
	}
	// A hub of its own per report: reports come from several goroutines,
	// and one scope stack shared between them would mix their settings.
	h := r.hub.Clone()
	h.ConfigureScope(func(s *sentry.Scope) {
		s.SetTag("action", kind)
		s.SetLevel(sentry.LevelWarning)
	})
	msg := fmt.Sprintf("action %s failed: %s", kind, summary)
	if err != nil {
		msg += ": " + err.Error()
	}
	h.CaptureMessage(msg)
}

// Panic reports a recovered panic with the stack where it happened. It only
// queues the event: the caller re-panics so the terminal is restored, and
// Flush later waits for delivery.
func (r *Reporter) Panic(value any) {
	if r == nil {
		return
	}
	h := r.hub.Clone()
	h.ConfigureScope(func(s *sentry.Scope) {
		s.SetLevel(sentry.LevelFatal)
		s.SetContext("panic", sentry.Context{"stack": string(debug.Stack())})
	})
	h.Recover(value)
}

// Flush waits up to timeout for queued events to be delivered.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	return r.hub.Flush(timeout)
}

func scrubBreadcrumb(b *sentry.Breadcrumb, redact func(string) string) {
	b.Message = redact(b.Message)
	for k, v := range b.Data {
		b.Data[k] = scrubAny(v, redact)
	}
}

// scrubEvent passes every free-text field of an event through redact.
func scrubEvent(e *sentry.Event, redact func(string) string) {
	e.Message = redact(e.Message)
	for i := range e.Exception {
		e.Exception[i].Value = redact(e.Exception[i].Value)
		e.Exception[i].Type = redact(e.Exception[i].Type)
	}
	for _, b := range e.Breadcrumbs {
		scrubBreadcrumb(b, redact)
	}
	for k, v := range e.Tags {
		e.Tags[k] = redact(v)
	}
	for name, c := range e.Contexts {
		for k, v := range c {
			c[k] = scrubAny(v, redact)
		}
		e.Contexts[name] = c
	}
	e.User.Username = redact(e.User.Username)
	// The cockpit makes no HTTP request worth reporting; a request's
	// headers are where credentials live.
	e.Request = nil
}

func scrubAny(v any, redact func(string) string) any {
	switch x := v.(type) {
	case string:
		return redact(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = redact(s)
		}
		return out
	case map[string]any:
		for k, vv := range x {
			x[k] = scrubAny(vv, redact)
		}
		return x
	case []any:
		for i, vv := range x {
			x[i] = scrubAny(vv, redact)
		}
		return x
	case fmt.Stringer:
		return redact(x.String())
	case error:
		return redact(x.Error())
	}
	return v
}
