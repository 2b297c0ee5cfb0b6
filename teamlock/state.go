package teamlock

import (
	"errors"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// The Lease's spec says who holds it and until when; what a person needs
// besides lives in these annotations, so kubectl shows it too.
const (
	AnnReason         = "flightdeck/reason"
	AnnRolledBackAt   = "flightdeck/rolled-back-at"
	AnnReleasedBy     = "flightdeck/released-by"
	AnnReleasedAt     = "flightdeck/released-at"
	AnnReleasedReason = "flightdeck/released-reason"
	// LabelManagedBy marks the Leases this package writes:
	// kubectl get leases -l app.kubernetes.io/managed-by=flightdeck.
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// State is the lock as the Lease says it is.
type State struct {
	Namespace, Name string
	// Holder is operator@host; empty when the lock is free (the Lease may
	// not even exist).
	Holder string
	Reason string
	// Since is when the holder took it (acquireTime); Renewed its last
	// renewal (renewTime).
	Since, Renewed time.Time
	// Duration is how long the lease lasts past Renewed.
	Duration time.Duration
	// Expired: held, but not renewed within Duration. Anyone may take it
	// over. Judged by this machine's clock against the holder's renewTime,
	// so clocks apart by seconds move it by as much: against a lease of a
	// minute, that is tolerable.
	Expired bool
	// RolledBackAt is when the deploy was rolled back under this lock;
	// zero if it was not. It stays until the lock is released with a
	// reason, whoever holds it by then.
	RolledBackAt time.Time
	// Released is the last release, while the lock is free.
	Released Release
	// Transitions counts the times the lock changed hands.
	Transitions int32

	loc     *time.Location
	version string // resourceVersion read
}

// Release is how the lock was last given up.
type Release struct {
	By, Reason string
	At         time.Time
}

// Free reports whether nobody holds the lock.
func (s State) Free() bool { return s.Holder == "" }

// Expires is when the holder's lease runs out unless renewed.
func (s State) Expires() time.Time { return s.Renewed.Add(s.Duration) }

// Live reports whether someone holds the lock and has renewed it in time.
func (s State) Live() bool { return !s.Free() && !s.Expired }

// Clock says t in the lock's zone as people on the call do: "09:12" today,
// "2 Dec 09:12" another day.
func (s State) Clock(t time.Time) string {
	loc := s.loc
	if loc == nil {
		loc = time.Local
	}
	t = t.In(loc)
	y, m, d := t.Date()
	ny, nm, nd := time.Now().In(loc).Date()
	if y == ny && m == nm && d == nd {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

// Who says who holds the lock and why: "ana@laptop since 09:12: reason",
// with the rollback it is held under.
func (s State) Who() string {
	var b strings.Builder
	b.WriteString(s.Holder + " since " + s.Clock(s.Since))
	if s.Reason != "" {
		b.WriteString(": " + s.Reason)
	}
	if !s.RolledBackAt.IsZero() {
		b.WriteString(" (rolled back at " + s.Clock(s.RolledBackAt) + ")")
	}
	return b.String()
}

// HeldError refuses what only the holder may do, or a take while another
// holder's lease is live.
type HeldError struct {
	State State
}

func (e *HeldError) Error() string {
	msg := "locked by " + e.State.Who()
	if e.State.Expired {
		msg += fmt.Sprintf("; expired at %s", e.State.Clock(e.State.Expires()))
	}
	return msg
}

// ErrNotHeld: the lock is free, so there is nothing of ours to renew,
// mark or release.
var ErrNotHeld = errors.New("the deploy lock is free: nobody holds it")

// ErrReasonRequired refuses a release without a reason after a rollback:
// the next deploy should know why the team moved on.
var ErrReasonRequired = errors.New("a release after a rollback needs a reason")

// stateOf reads lease (nil: it does not exist) as of now.
func (l *Lock) stateOf(lease *coordinationv1.Lease, now time.Time) State {
	s := State{Namespace: l.namespace, Name: l.name, loc: l.location()}
	if lease == nil {
		return s
	}
	s.version = lease.ResourceVersion
	spec := lease.Spec
	if spec.HolderIdentity != nil {
		s.Holder = *spec.HolderIdentity
	}
	if spec.AcquireTime != nil {
		s.Since = spec.AcquireTime.Time
	}
	s.Renewed = s.Since
	if spec.RenewTime != nil {
		s.Renewed = spec.RenewTime.Time
	}
	s.Duration = l.duration
	if spec.LeaseDurationSeconds != nil {
		s.Duration = time.Duration(*spec.LeaseDurationSeconds) * time.Second
	}
	if spec.LeaseTransitions != nil {
		s.Transitions = *spec.LeaseTransitions
	}
	a := lease.Annotations
	s.Reason = a[AnnReason]
	s.RolledBackAt = parseTime(a[AnnRolledBackAt])
	if s.Holder == "" {
		s.Released = Release{By: a[AnnReleasedBy], Reason: a[AnnReleasedReason], At: parseTime(a[AnnReleasedAt])}
	}
	s.Expired = s.Holder != "" && !now.Before(s.Expires())
	return s
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
