package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/teamlock"
	"github.com/flightdeckhq/flightdeck/view"
)

// The journal's records of the deploy lock.
const (
	recLockTake     = "lock.take"
	recLockTakeover = "lock.takeover"
	recLockLost     = "lock.lost"
)

// lockStartTimeout bounds the take at start: the screen waits for it.
const lockStartTimeout = 15 * time.Second

// deployLock is a driving cockpit's hold on the team's deploy lock
// ([lock]): taken at start, renewed while the cockpit runs, marked after a
// rollback. Quitting leaves it held, since the deploy may be resumed; it
// lapses after [lock] duration, and flightdeck lock release lets it go.
// A nil *deployLock (no [lock], or a cockpit that only watches) does
// nothing.
type deployLock struct {
	lock   *teamlock.Lock
	log    *slog.Logger
	reason string
	// took is what the take at start did. heldBy, set instead, is the
	// live holder this cockpit yields to by only watching; err, set
	// instead, why the lock could not be asked, retried while the cockpit
	// runs.
	took   teamlock.Takeover
	heldBy *teamlock.HeldError
	err    error

	rollbacks chan time.Time
	// notify tells every view; nil until the engine is built.
	notify func(view.Notice)
}

// takeDeployLock takes the lock for a cockpit about to drive.
func takeDeployLock(ctx context.Context, cfg *config.Config, day time.Time, readOnly bool, log *slog.Logger) *deployLock {
	if cfg.Lock == nil || readOnly {
		return nil
	}
	dl := &deployLock{log: log, reason: lockReason(cfg, day), rollbacks: make(chan time.Time, 1)}
	dl.lock, dl.err = openTeamLock(cfg)
	if dl.err != nil {
		log.Warn("the deploy lock cannot be asked", "err", dl.err)
		return dl
	}
	dl.lock.Log = log
	ctx, cancel := context.WithTimeout(ctx, lockStartTimeout)
	defer cancel()
	dl.took, dl.err = dl.lock.Take(ctx, dl.reason)
	if errors.As(dl.err, &dl.heldBy) {
		dl.err = nil
		log.Warn("the deploy lock is someone else's: this cockpit only watches", "lease", dl.lock.Where(), "held", dl.heldBy.Error())
		return dl
	}
	if dl.err != nil {
		log.Warn("taking the deploy lock", "lease", dl.lock.Where(), "err", dl.err)
		return dl
	}
	log.Info("deploy lock", "lease", dl.lock.Where(), "holder", dl.lock.Holder(), "how", dl.took.How)
	return dl
}

// yields reports whether another holder's live lease makes this cockpit
// only watch, as --read-only would.
func (dl *deployLock) yields() bool { return dl != nil && dl.heldBy != nil }

// holder is who drives while this cockpit yields.
func (dl *deployLock) holder() string { return dl.heldBy.State.Holder }

// startNotices are what the operator must hear at once about the lock.
// They stay on screen until dismissed: opening read-only when asked to
// drive is a surprise that must be read.
func (dl *deployLock) startNotices() []string {
	switch {
	case dl == nil:
		return nil
	case dl.heldBy != nil:
		return []string{dl.heldBy.Error() + " — this cockpit only watches (flightdeck lock status says more)"}
	case dl.err != nil:
		return []string{fmt.Sprintf("the deploy lock is not held, so a teammate could drive too: %v (retrying while the cockpit runs)", dl.err)}
	case !dl.took.State.RolledBackAt.IsZero():
		st := dl.took.State
		return []string{fmt.Sprintf("the deploy was rolled back at %s under the deploy lock: flightdeck lock release --reason lets it go", st.Clock(st.RolledBackAt))}
	}
	return nil
}

// journalTake writes how this cockpit came to hold the lock: taken, or
// taken over from whom. A renewal of its own (a restart) writes nothing.
func (dl *deployLock) journalTake(jnl actions.Appender, by string) ([]journal.Record, error) {
	if dl == nil || dl.heldBy != nil || dl.err != nil {
		return nil, nil
	}
	rec, ok := dl.takeRecord(by)
	if !ok {
		return nil, nil
	}
	rec, err := jnl.Append(rec)
	if err != nil {
		return nil, err
	}
	return []journal.Record{rec}, nil
}

func (dl *deployLock) takeRecord(by string) (journal.Record, bool) {
	st := dl.took.State
	switch dl.took.How {
	case teamlock.Took:
		return journal.Record{Type: recLockTake, By: by, Reason: st.Reason,
			Summary: fmt.Sprintf("took the deploy lock %s as %s", dl.lock.Where(), st.Holder)}, true
	case teamlock.TookOver:
		p := dl.took.Previous
		return journal.Record{Type: recLockTakeover, By: by, Reason: st.Reason,
			Summary: fmt.Sprintf("took over the deploy lock %s from %s, whose lease expired at %s (held since %s: %s)",
				dl.lock.Where(), p.Holder, p.Clock(p.Expires()), p.Clock(p.Since), p.Reason)}, true
	}
	return journal.Record{}, false
}

// afterRollback is the engine's AfterRollback: it only hands the time on,
// since the engine's loop must not wait for the API server.
func (dl *deployLock) afterRollback() func(time.Time) {
	if dl == nil || dl.lock == nil {
		return nil
	}
	return func(at time.Time) {
		select {
		case dl.rollbacks <- at:
		default: // a mark already waits; the first rollback's time stands
		}
	}
}

// journal is what a yielding cockpit's engine writes to: nothing. The
// journal is the driver's, on the driver's machine; what the engine
// derives for its own screen (the rollback target, peaks) is kept in
// memory, where a read-only journal would refuse it with an error on the
// screen.
func (dl *deployLock) journal() actions.Appender { return &watchJournal{} }

type watchJournal struct {
	mu  sync.Mutex
	seq uint64
}

func (j *watchJournal) Append(r journal.Record) (journal.Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	r.Seq = j.seq
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	return r, nil
}

// tell makes the engine the lock's voice: its news reaches every view.
func (dl *deployLock) tell(notify func(view.Notice)) {
	if dl != nil {
		dl.notify = notify
	}
}

// keep holds the lock while the cockpit runs, in g: a take that failed at
// start is retried, the lease renewed, rollbacks marked on it, and its
// loss journaled and told to every view. jnl is the engine's, so views see
// the records too.
func (dl *deployLock) keep(g *sources.Group, jnl actions.Appender, by string) {
	if dl == nil || dl.lock == nil {
		return
	}
	if dl.heldBy != nil {
		g.Go(dl.watchHolder)
		return
	}
	g.Go(func(ctx context.Context) {
		if dl.err != nil && !dl.retake(ctx, jnl, by) {
			return
		}
		_ = dl.lock.Run(ctx, func(st teamlock.State) { dl.lost(st, jnl, by) })
	})
	g.Go(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-dl.rollbacks:
				mctx, cancel := context.WithTimeout(ctx, lockStartTimeout)
				st, err := dl.lock.MarkRolledBack(mctx, at)
				cancel()
				if err != nil {
					dl.log.Warn("marking the rollback on the deploy lock", "lease", dl.lock.Where(), "err", err)
					dl.say(fmt.Sprintf("the deploy lock does not say the deploy was rolled back: %v", err), true)
					continue
				}
				dl.log.Info("deploy lock marked rolled back", "lease", dl.lock.Where(), "at", st.RolledBackAt)
			}
		}
	})
}

// watchHolder is a yielding cockpit's eye on the lock: when the holder
// lets it go, or stops renewing it, or someone else takes it, every view
// hears so. It does not take the lock: a cockpit that starts driving on
// its own, mid-deploy, would be the surprise the lock exists to prevent.
func (dl *deployLock) watchHolder(ctx context.Context) {
	t := time.NewTicker(max(dl.lock.Duration()/3, time.Second))
	defer t.Stop()
	last := dl.heldBy.State
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, lockStartTimeout)
		st, err := dl.lock.Status(sctx)
		cancel()
		if err != nil {
			continue
		}
		if text, changed := holderNews(last, st); changed {
			dl.log.Info("the deploy lock changed", "lease", dl.lock.Where(), "holder", st.Holder, "live", st.Live())
			dl.say(text, false)
		}
		last = st
	}
}

// holderNews is what a watching cockpit says when the lock it yields to
// changes: free, lapsed, or someone else's.
func holderNews(was, now teamlock.State) (string, bool) {
	const drive = ": quit and start the cockpit again to drive"
	switch {
	case now.Free() && !was.Free():
		return fmt.Sprintf("the deploy lock is free (released by %s)%s", now.Released.By, drive), true
	case now.Live() != was.Live() && !now.Free() && !now.Live():
		return fmt.Sprintf("%s's lease on the deploy lock lapsed at %s%s", now.Holder, now.Clock(now.Expires()), drive), true
	case now.Live() && now.Holder != was.Holder:
		return (&teamlock.HeldError{State: now}).Error() + " — this cockpit still only watches", true
	}
	return "", false
}

// retake tries the take that failed at start until it succeeds, finds the
// lock someone else's, or the cockpit ends. It reports whether the lock is
// now held.
func (dl *deployLock) retake(ctx context.Context, jnl actions.Appender, by string) bool {
	t := time.NewTicker(dl.lock.Duration() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		tctx, cancel := context.WithTimeout(ctx, lockStartTimeout)
		took, err := dl.lock.Take(tctx, dl.reason)
		cancel()
		var held *teamlock.HeldError
		switch {
		case errors.As(err, &held):
			dl.log.Warn("the deploy lock is someone else's", "lease", dl.lock.Where(), "held", held.Error())
			dl.say(held.Error()+" — two cockpits drive this deploy: agree who drives, and the other quits", true)
			return false
		case err != nil:
			dl.log.Warn("taking the deploy lock", "lease", dl.lock.Where(), "err", err)
			continue
		}
		dl.took, dl.err = took, nil
		if rec, ok := dl.takeRecord(by); ok {
			if _, err := jnl.Append(rec); err != nil {
				dl.log.Warn("journaling the deploy lock", "err", err)
			}
		}
		dl.say("took the deploy lock "+dl.lock.Where(), false)
		return true
	}
}

// lost journals and tells everyone that the lock went while this cockpit
// still drives: taken over after renewals failed for too long, or released
// by hand.
func (dl *deployLock) lost(st teamlock.State, jnl actions.Appender, by string) {
	var text string
	if st.Free() {
		text = fmt.Sprintf("the deploy lock was released by %s while this cockpit drives: flightdeck lock take takes it again", st.Released.By)
	} else {
		text = fmt.Sprintf("the deploy lock was lost: %s — two cockpits may drive this deploy: agree who drives, and the other quits", (&teamlock.HeldError{State: st}).Error())
	}
	dl.log.Warn("deploy lock lost", "lease", dl.lock.Where(), "now", st.Holder)
	if _, err := jnl.Append(journal.Record{Type: recLockLost, By: by, Summary: text}); err != nil {
		dl.log.Warn("journaling the deploy lock", "err", err)
	}
	dl.say(text, true)
}

func (dl *deployLock) say(text string, isErr bool) {
	if dl.notify != nil {
		dl.notify(view.Notice{Text: text, Err: isErr})
	}
}
