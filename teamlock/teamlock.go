// Package teamlock is the team's deploy lock: one Kubernetes Lease
// (coordination.k8s.io/v1) per deploy and environment, on the cluster the
// deploy goes to, so two people cannot drive the same deploy from two
// machines and the team runs no lock server of its own. The Lease's spec
// says who holds it and whether the holder is still there; its annotations
// keep why, whether the deploy was rolled back under it, and how it was
// last released.
//
// Every write carries the resourceVersion it was decided on: when two
// people act at once, the API server lets one write through and answers the
// other with a conflict, and the loser reads the Lease again and decides
// anew, so exactly one of them holds the lock.
package teamlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Lock is one deploy's lock as one holder sees it.
type Lock struct {
	client                  kubernetes.Interface
	namespace, name, holder string
	duration                time.Duration

	// Location is the zone times are said in (the deploy window's);
	// default Local.
	Location *time.Location
	// Log hears of renewals that failed while Run goes on; default
	// nowhere.
	Log *slog.Logger
}

// New is the lock named name in namespace, for holder (operator@host),
// whose lease lasts duration past each renewal.
func New(client kubernetes.Interface, namespace, name, holder string, duration time.Duration) *Lock {
	return &Lock{client: client, namespace: namespace, name: name, holder: holder, duration: duration}
}

// Holder is who this Lock takes the lease as.
func (l *Lock) Holder() string { return l.holder }

// Duration is how long the lease lasts past each renewal.
func (l *Lock) Duration() time.Duration { return l.duration }

// Where names the Lease: "production/flightdeck-acme-deploy-production".
func (l *Lock) Where() string { return l.namespace + "/" + l.name }

func (l *Lock) location() *time.Location {
	if l.Location == nil {
		return time.Local
	}
	return l.Location
}

func (l *Lock) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// races bounds how often a write is decided again after losing a race:
// more conflicts in a row than this means something writes the Lease in a
// loop, and saying so beats spinning.
const races = 8

// Status reads the lock. A Lease that does not exist is a free lock.
func (l *Lock) Status(ctx context.Context) (State, error) {
	lease, err := l.get(ctx)
	if err != nil {
		return State{}, err
	}
	return l.stateOf(lease, time.Now()), nil
}

// How says what Take did.
type How int

const (
	// Took a free lock.
	Took How = iota + 1
	// Renewed: the lock was already this holder's, and live (a
	// restarted cockpit).
	Renewed
	// TookOver: another holder's lease had expired; Takeover.Previous
	// says whose it was, for the journal.
	TookOver
)

// Takeover is what Take did, and the lock before and after.
type Takeover struct {
	How      How
	Previous State
	State    State
}

// Take takes the lock for reason: a free lock is taken, our live one
// renewed (with reason, if given), another holder's that expired taken
// over. Another holder's live lease is refused with a *HeldError.
func (l *Lock) Take(ctx context.Context, reason string) (Takeover, error) {
	for range races {
		lease, err := l.get(ctx)
		if err != nil {
			return Takeover{}, err
		}
		now := time.Now()
		was := l.stateOf(lease, now)
		var how How
		switch {
		case was.Free():
			how = Took
		case was.Holder == l.holder && !was.Expired:
			how = Renewed
		case was.Holder == l.holder:
			// Lapsed: anyone could have taken it meanwhile, so this is a
			// new hold with a new start, not a renewal.
			how = Took
		case !was.Expired:
			return Takeover{Previous: was}, &HeldError{State: was}
		default:
			how = TookOver
		}
		next := l.claim(lease, how, reason, now)
		var got *coordinationv1.Lease
		if lease == nil {
			got, err = l.client.CoordinationV1().Leases(l.namespace).Create(ctx, next, metav1.CreateOptions{})
		} else {
			got, err = l.client.CoordinationV1().Leases(l.namespace).Update(ctx, next, metav1.UpdateOptions{})
		}
		if raced(err) {
			continue
		}
		if err != nil {
			return Takeover{Previous: was}, l.wrap("taking", err)
		}
		return Takeover{How: how, Previous: was, State: l.stateOf(got, now)}, nil
	}
	return Takeover{}, l.tooManyRaces()
}

// claim is lease (nil: none yet) held by us from now.
func (l *Lock) claim(lease *coordinationv1.Lease, how How, reason string, now time.Time) *coordinationv1.Lease {
	if lease == nil {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
			Name: l.name, Namespace: l.namespace, Labels: map[string]string{LabelManagedBy: "flightdeck"},
		}}
	} else {
		lease = lease.DeepCopy()
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	at := metav1.NewMicroTime(now)
	holder, secs := l.holder, int32(l.duration/time.Second)
	spec := &lease.Spec
	spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime = &holder, &secs, &at
	if how != Renewed {
		spec.AcquireTime = &at
		n := int32(1)
		if spec.LeaseTransitions != nil {
			n = *spec.LeaseTransitions + 1
		}
		spec.LeaseTransitions = &n
		delete(lease.Annotations, AnnReleasedBy)
		delete(lease.Annotations, AnnReleasedAt)
		delete(lease.Annotations, AnnReleasedReason)
		lease.Annotations[AnnReason] = reason
	} else if reason != "" {
		lease.Annotations[AnnReason] = reason
	}
	// A rollback mark is left alone, even when taking over: it is about
	// the deploy, not its holder, and goes only with a reasoned release.
	return lease
}

// Renew extends our lease by its duration from now. Another holder's
// lock, even expired, is refused with a *HeldError, and a free one with
// ErrNotHeld: either way the lock was lost.
func (l *Lock) Renew(ctx context.Context) (State, error) {
	return l.change(ctx, "renewing", func(lease *coordinationv1.Lease, st State, now time.Time) error {
		at := metav1.NewMicroTime(now)
		secs := int32(l.duration / time.Second)
		lease.Spec.RenewTime, lease.Spec.LeaseDurationSeconds = &at, &secs
		return nil
	})
}

// MarkRolledBack records that the deploy was rolled back at at: the lock
// then stays held until it is released with a reason.
func (l *Lock) MarkRolledBack(ctx context.Context, at time.Time) (State, error) {
	return l.change(ctx, "marking the rollback on", func(lease *coordinationv1.Lease, st State, now time.Time) error {
		lease.Annotations[AnnRolledBackAt] = formatTime(at)
		return nil
	})
}

// Release gives the lock up. Only its holder may; after a rollback only
// with a reason (ErrReasonRequired). The Lease stays, free, saying who
// released it, when and why.
func (l *Lock) Release(ctx context.Context, reason string) (State, error) {
	reason = strings.TrimSpace(reason)
	return l.change(ctx, "releasing", func(lease *coordinationv1.Lease, st State, now time.Time) error {
		if !st.RolledBackAt.IsZero() && reason == "" {
			return fmt.Errorf("the deploy was rolled back at %s under this lock: %w", st.Clock(st.RolledBackAt), ErrReasonRequired)
		}
		lease.Spec.HolderIdentity, lease.Spec.AcquireTime, lease.Spec.RenewTime = nil, nil, nil
		delete(lease.Annotations, AnnReason)
		delete(lease.Annotations, AnnRolledBackAt)
		lease.Annotations[AnnReleasedBy] = l.holder
		lease.Annotations[AnnReleasedAt] = formatTime(now)
		lease.Annotations[AnnReleasedReason] = reason
		return nil
	})
}

// change applies edit to our own lease and writes it, deciding again
// after a lost race. It refuses a free lock (ErrNotHeld) or another
// holder's (*HeldError) before edit is called.
func (l *Lock) change(ctx context.Context, doing string, edit func(*coordinationv1.Lease, State, time.Time) error) (State, error) {
	for range races {
		lease, err := l.get(ctx)
		if err != nil {
			return State{}, err
		}
		now := time.Now()
		st := l.stateOf(lease, now)
		switch {
		case st.Free():
			return st, ErrNotHeld
		case st.Holder != l.holder:
			return st, &HeldError{State: st}
		}
		next := lease.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		if err := edit(next, st, now); err != nil {
			return st, err
		}
		got, err := l.client.CoordinationV1().Leases(l.namespace).Update(ctx, next, metav1.UpdateOptions{})
		if raced(err) {
			continue
		}
		if err != nil {
			return st, l.wrap(doing, err)
		}
		return l.stateOf(got, now), nil
	}
	return State{}, l.tooManyRaces()
}

// Run renews the lease every third of its duration until ctx ends, so two
// renewals can fail before it expires. When the lock turns out lost (taken
// over after renewals failed for too long, or released by hand) it calls
// onLost with the lock as it is now and returns the reason; renewals that
// merely fail are logged and tried again.
func (l *Lock) Run(ctx context.Context, onLost func(State)) error {
	t := time.NewTicker(l.duration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		st, err := l.Renew(ctx)
		var held *HeldError
		switch {
		case errors.As(err, &held):
			onLost(held.State)
			return err
		case errors.Is(err, ErrNotHeld):
			onLost(st)
			return err
		case err != nil && ctx.Err() == nil:
			l.log().Warn("renewing the deploy lock", "lease", l.Where(), "err", err)
		}
	}
}

// get reads the Lease; nil, nil when it does not exist.
func (l *Lock) get(ctx context.Context) (*coordinationv1.Lease, error) {
	lease, err := l.client.CoordinationV1().Leases(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, l.wrap("reading", err)
	}
	return lease, nil
}

// raced: someone wrote the Lease between our read and our write.
func raced(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }

func (l *Lock) wrap(doing string, err error) error {
	return fmt.Errorf("%s the deploy lock (Lease %s): %w", doing, l.Where(), err)
}

func (l *Lock) tooManyRaces() error {
	return fmt.Errorf("the deploy lock (Lease %s) changed under every one of %d attempts: something rewrites it in a loop (kubectl get lease -n %s %s -w shows who)",
		l.Where(), races, l.namespace, l.name)
}
