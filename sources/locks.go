package sources

import (
	"slices"
	"sort"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// HeavyModes are the lock modes that block ordinary writes (and, for ACCESS
// EXCLUSIVE, reads): the ones a migration must not hold for long.
var HeavyModes = []string{"AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock"}

// lockRow is one pg_locks entry the probe keeps: a wait, or a heavy lock held.
type lockRow struct {
	PID       int32
	LockType  string
	Mode      string
	Granted   bool
	Relation  string
	WaitStart time.Time
}

// buildTarget derives waits, held locks and the tree from the raw rows.
func buildTarget(t *snapshot.TargetLocks, locks []lockRow) {
	byPID := make(map[int32]int, len(t.Backend))
	for i, b := range t.Backend {
		byPID[b.PID] = i
	}
	t.Index()
	// The ungranted lock says what a waiter asked for; pg_blocking_pids
	// (already on the backend) says who is in the way.
	asked := map[int32]lockRow{}
	for _, l := range locks {
		if !l.Granted {
			asked[l.PID] = l
		}
	}
	waiters := map[int32]int{}
	for _, b := range t.Backend {
		if len(b.BlockedBy) == 0 {
			continue
		}
		w := snapshot.Wait{PID: b.PID, BlockedBy: b.BlockedBy}
		if l, ok := asked[b.PID]; ok {
			w.LockType, w.Mode, w.Relation, w.Since = l.LockType, l.Mode, l.Relation, l.WaitStart
		}
		if w.Since.IsZero() {
			// Before Postgres 14 there is no waitstart; the statement's
			// start is the closest bound.
			w.Since = b.QueryStart
		}
		w.For = age(w.Since, t.At)
		t.Waits = append(t.Waits, w)
		for _, p := range b.BlockedBy {
			waiters[p]++
		}
	}
	sort.SliceStable(t.Waits, func(i, j int) bool {
		if t.Waits[i].For != t.Waits[j].For {
			return t.Waits[i].For > t.Waits[j].For
		}
		return t.Waits[i].PID < t.Waits[j].PID
	})
	for p, n := range waiters {
		if i, ok := byPID[p]; ok {
			t.Backend[i].Blocks = n
		}
	}
	for _, l := range locks {
		if !l.Granted || !slices.Contains(HeavyModes, l.Mode) {
			continue
		}
		h := snapshot.HeldLock{PID: l.PID, Mode: l.Mode, Relation: l.Relation, Waiters: waiters[l.PID]}
		if i, ok := byPID[l.PID]; ok {
			h.For = t.Backend[i].XactAge(t.At)
		}
		t.Held = append(t.Held, h)
	}
	sort.SliceStable(t.Held, func(i, j int) bool {
		if t.Held[i].For != t.Held[j].For {
			return t.Held[i].For > t.Held[j].For
		}
		return t.Held[i].PID < t.Held[j].PID
	})
	t.Tree = blockingTree(t.Backend)
}

// age is how long ago t was at now; 0 when t is unknown or after now.
func age(t, now time.Time) time.Duration {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return now.Sub(t)
}

// blockingTree orders the blockers as a forest: each root blocker (blocks
// someone, waits for nobody) with the backends behind it. Roots come oldest
// transaction first, so the one to cancel is on top. A deadlock cycle has no
// root until Postgres breaks it; its members are listed as roots so they are
// still seen.
func blockingTree(backends []snapshot.Backend) []snapshot.TreeRow {
	children := map[int32][]int32{}
	byPID := map[int32]snapshot.Backend{}
	for _, b := range backends {
		byPID[b.PID] = b
		for _, p := range b.BlockedBy {
			children[p] = append(children[p], b.PID)
		}
	}
	if len(children) == 0 {
		return nil
	}
	var roots []int32
	for p := range children {
		if len(byPID[p].BlockedBy) == 0 {
			roots = append(roots, p)
		}
	}
	older := func(a, b int32) int {
		ba, bb := byPID[a], byPID[b]
		switch {
		case !ba.XactStart.Equal(bb.XactStart) && !ba.XactStart.IsZero() && !bb.XactStart.IsZero():
			return ba.XactStart.Compare(bb.XactStart)
		case ba.XactStart.IsZero() != bb.XactStart.IsZero():
			if ba.XactStart.IsZero() {
				return 1
			}
			return -1
		}
		return int(a) - int(b)
	}
	slices.SortFunc(roots, older)
	for p := range children {
		slices.SortFunc(children[p], older)
	}
	var rows []snapshot.TreeRow
	shown := map[int32]bool{}
	var walk func(p int32, depth int)
	walk = func(p int32, depth int) {
		if shown[p] {
			rows = append(rows, snapshot.TreeRow{PID: p, Depth: depth, Repeat: true})
			return
		}
		shown[p] = true
		rows = append(rows, snapshot.TreeRow{PID: p, Depth: depth})
		for _, c := range children[p] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// Whatever is left blocks in a cycle.
	var rest []int32
	for p := range children {
		if !shown[p] {
			rest = append(rest, p)
		}
	}
	slices.SortFunc(rest, older)
	for _, p := range rest {
		if !shown[p] {
			walk(p, 0)
		}
	}
	return rows
}
