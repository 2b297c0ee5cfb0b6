package runbook

import (
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// WindowPhase is where the deploy stands against its window.
type WindowPhase int

const (
	BeforeWindow WindowPhase = iota // the window has not opened yet
	InWindow                        // on track
	AtRisk                          // the remaining estimates exceed the time left
	RollBack                        // past the rollback deadline with work left: the runbook says roll back
	Finished                        // every step of the normal flow is closed
)

func (p WindowPhase) String() string {
	return [...]string{"before window", "in window", "at risk", "ROLL BACK", "finished"}[p]
}

// WindowState is the deploy-window clock at one instant.
type WindowState struct {
	Phase      WindowPhase
	Start, End time.Time
	// RollbackBy is the last moment a rollback still fits in the window;
	// End when it is not known.
	RollbackBy time.Time
	Now        time.Time
	Left       time.Duration // until End (negative past it)
	Remaining  time.Duration // estimated work left
}

// Window judges the clock. The deadline is what matters: work that cannot
// finish by End puts the deploy at risk even before the window opens, and
// past rollbackBy a rollback no longer fits in the window, so the runbook's
// "roll back if it cannot finish in the window" must be acted on then, not
// at End. A zero rollbackBy is End.
func Window(now, start, end, rollbackBy time.Time, remaining time.Duration, finished bool) WindowState {
	if rollbackBy.IsZero() || rollbackBy.After(end) {
		rollbackBy = end
	}
	w := WindowState{Start: start, End: end, RollbackBy: rollbackBy, Now: now, Left: end.Sub(now), Remaining: remaining}
	switch {
	case finished:
		w.Phase = Finished
	case !now.Before(rollbackBy):
		w.Phase = RollBack
	case now.Add(remaining).After(end):
		w.Phase = AtRisk
	case now.Before(start):
		w.Phase = BeforeWindow
	default:
		w.Phase = InWindow
	}
	return w
}

// Summary is the status bar's words for the clock.
func (w WindowState) Summary() string {
	switch w.Phase {
	case Finished:
		return "all steps closed"
	case RollBack:
		if w.RollbackBy.Before(w.End) && w.Now.Before(w.End) {
			return fmt.Sprintf("ROLL BACK: past %s, the last time a rollback fits before %s", w.RollbackBy.Format("15:04"), w.End.Format("15:04"))
		}
		return fmt.Sprintf("ROLL BACK: %s past the %s deadline", Short(-w.Left), w.End.Format("15:04"))
	case AtRisk:
		return fmt.Sprintf("AT RISK: %s of steps, %s left · roll back by %s", Short(w.Remaining), Short(w.Left), w.RollbackBy.Format("15:04"))
	case BeforeWindow:
		return fmt.Sprintf("opens in %s, %s of steps", Short(w.Start.Sub(w.Now)), Short(w.Remaining))
	}
	s := fmt.Sprintf("%s left, %s of steps", Short(w.Left), Short(w.Remaining))
	if w.RollbackBy.Before(w.End) {
		s += " · roll back by " + w.RollbackBy.Format("15:04")
	}
	return s
}

// RollbackBy is the last moment on day's window a rollback still fits:
// [window] rollback_by, or the end less the estimates of the rollback
// steps (the contingency phase that rolls back) and the margin; never
// before the window opens.
func RollbackBy(cfg *config.Config, day time.Time) time.Time {
	w := cfg.Window
	start, end := w.On(day)
	if w.RollbackMinute >= 0 && w.RollbackBy != "" {
		y, m, d := start.Date()
		return time.Date(y, m, d, w.RollbackMinute/60, w.RollbackMinute%60, 0, 0, start.Location())
	}
	by := end.Add(-rollbackEstimate(cfg) - w.RollbackMargin.D())
	if by.Before(start) {
		return start
	}
	return by
}

// rollbackEstimate is how long rolling back takes by the runbook: the
// estimates of the contingency phase that holds a rollback step, else of
// the first contingency phase.
func rollbackEstimate(cfg *config.Config) time.Duration {
	var first *config.Phase
	for i := range cfg.Phases {
		ph := &cfg.Phases[i]
		if !ph.Contingency {
			continue
		}
		if first == nil {
			first = ph
		}
		for _, s := range ph.Steps {
			if s.Action == "kube.rollback" {
				return phaseEstimate(ph)
			}
		}
	}
	if first == nil {
		return 0
	}
	return phaseEstimate(first)
}

func phaseEstimate(ph *config.Phase) time.Duration {
	var d time.Duration
	for _, s := range ph.Steps {
		d += s.Estimate.D()
	}
	return d
}

// Short formats a duration the way people say it on a call: 2h05m, 14m, 40s.
func Short(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m >= 10:
		return fmt.Sprintf("%dm", m)
	case m > 0 && s == 0:
		return fmt.Sprintf("%dm", m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
