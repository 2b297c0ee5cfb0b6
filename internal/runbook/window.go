package runbook

import (
	"fmt"
	"time"
)

// WindowPhase is where the deploy stands against its window.
type WindowPhase int

const (
	BeforeWindow WindowPhase = iota // the window has not opened yet
	InWindow                        // on track
	AtRisk                          // the remaining estimates exceed the time left
	RollBack                        // past the deadline with work left: the runbook says roll back
	Finished                        // every step of the normal flow is closed
)

func (p WindowPhase) String() string {
	return [...]string{"before window", "in window", "at risk", "ROLL BACK", "finished"}[p]
}

// WindowState is the deploy-window clock at one instant.
type WindowState struct {
	Phase      WindowPhase
	Start, End time.Time
	Now        time.Time
	Left       time.Duration // until End (negative past it)
	Remaining  time.Duration // estimated work left
}

// Window judges the clock. The deadline is what matters: work that cannot
// finish by End puts the deploy at risk even before the window opens.
func Window(now, start, end time.Time, remaining time.Duration, finished bool) WindowState {
	w := WindowState{Start: start, End: end, Now: now, Left: end.Sub(now), Remaining: remaining}
	switch {
	case finished:
		w.Phase = Finished
	case !now.Before(end):
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
		return fmt.Sprintf("ROLL BACK: %s past the %s deadline", Short(-w.Left), w.End.Format("15:04"))
	case AtRisk:
		return fmt.Sprintf("AT RISK: %s of steps, %s left", Short(w.Remaining), Short(w.Left))
	case BeforeWindow:
		return fmt.Sprintf("opens in %s, %s of steps", Short(w.Start.Sub(w.Now)), Short(w.Remaining))
	}
	return fmt.Sprintf("%s left, %s of steps", Short(w.Left), Short(w.Remaining))
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
