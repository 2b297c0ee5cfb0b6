package teamlock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/teamlock"
)

func TestLeaseName(t *testing.T) {
	for _, c := range []struct{ deploy, env, want string }{
		{"Acme sandbox deploy", "production", "flightdeck-acme-sandbox-deploy-production"},
		{"Vetspire production deploy", "production", "flightdeck-vetspire-production-deploy-production"},
		{"  API & Worker — v2!", "eu_west.1", "flightdeck-api-worker-v2-eu-west-1"},
	} {
		if got := teamlock.LeaseName(c.deploy, c.env); got != c.want {
			t.Errorf("LeaseName(%q, %q) = %q, want %q", c.deploy, c.env, got, c.want)
		}
	}
	long := strings.Repeat("very long deploy name ", 5)
	a, b := teamlock.LeaseName(long+"one", "production"), teamlock.LeaseName(long+"two", "production")
	c := teamlock.LeaseName("日本語", "本番")
	for _, n := range []string{a, b, c} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Errorf("%q is not a DNS-1123 label: %v", n, errs)
		}
	}
	if a == b || !strings.HasPrefix(a, "flightdeck-very-long-deploy-name") {
		t.Errorf("long names cut without telling them apart: %q, %q", a, b)
	}
	if c == teamlock.LeaseName("中文", "本番") {
		t.Errorf("names with no ASCII share the lock %q", c)
	}
}

// sandboxLeases is the sandbox's API server and a namespace of the test's
// own, removed at cleanup.
func sandboxLeases(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	info := sandboxtest.Start(t)
	rc, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	var b [3]byte
	rand.Read(b[:])
	ns := "fd-lock-" + hex.EncodeToString(b[:])
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return cs, ns
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// age moves the lease's renewal into the past, as a holder that vanished
// would leave it, without the test waiting for it.
func age(t *testing.T, cs kubernetes.Interface, ns, name string, by time.Duration) {
	t.Helper()
	ctx := ctxFor(t)
	for range 10 {
		lease, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		past := metav1.NewMicroTime(time.Now().Add(-by))
		lease.Spec.RenewTime = &past
		_, err = cs.CoordinationV1().Leases(ns).Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue // a holder renewed meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("the lease changed under every attempt to age it")
}

func TestTakeRenewStatus(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "flightdeck-acme-production", "ana@laptop", time.Minute)

	st, err := ana.Status(ctx)
	if err != nil || !st.Free() || st.Live() {
		t.Fatalf("a lock whose Lease does not exist: %+v, %v; want free", st, err)
	}
	took, err := ana.Take(ctx, "Acme deploy · release-1")
	if err != nil || took.How != teamlock.Took || !took.Previous.Free() {
		t.Fatalf("Take on a free lock: %+v, %v", took, err)
	}
	st, err = ana.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Holder != "ana@laptop" || st.Reason != "Acme deploy · release-1" || !st.Live() || st.Duration != time.Minute ||
		time.Since(st.Since) > time.Minute || st.Transitions != 1 {
		t.Fatalf("after Take: %+v", st)
	}
	lease, err := cs.CoordinationV1().Leases(ns).Get(ctx, "flightdeck-acme-production", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := lease.Spec; *s.HolderIdentity != "ana@laptop" || *s.LeaseDurationSeconds != 60 || s.AcquireTime == nil || s.RenewTime == nil {
		t.Fatalf("the Lease's spec: %+v", s)
	}
	if lease.Annotations[teamlock.AnnReason] != "Acme deploy · release-1" || lease.Labels[teamlock.LabelManagedBy] != "flightdeck" {
		t.Fatalf("the Lease's metadata: %+v", lease.ObjectMeta)
	}

	// MicroTime keeps microseconds: a renewal a little later is later.
	time.Sleep(5 * time.Millisecond)
	again, err := ana.Take(ctx, "")
	if err != nil || again.How != teamlock.Renewed {
		t.Fatalf("Take on our own lock: %+v, %v; want Renewed", again, err)
	}
	if !again.State.Since.Equal(st.Since) || !again.State.Renewed.After(st.Renewed) || again.State.Reason != st.Reason {
		t.Fatalf("a renewal keeps the start and the reason and moves the renewal: before %+v, after %+v", st, again.State)
	}
	renewed, err := ana.Renew(ctx)
	if err != nil || !renewed.Renewed.After(again.State.Renewed) || renewed.Holder != "ana@laptop" {
		t.Fatalf("Renew: %+v, %v", renewed, err)
	}
}

func TestHeldByAnother(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "deploy", "ana@laptop", time.Minute)
	bob := teamlock.New(cs, ns, "deploy", "bob@desk", time.Minute)
	took, err := ana.Take(ctx, "the 10:00 release")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("locked by ana@laptop since %s: the 10:00 release", took.State.Since.In(time.Local).Format("15:04"))
	_, err = bob.Take(ctx, "mine")
	var held *teamlock.HeldError
	if !errors.As(err, &held) || err.Error() != want || held.State.Holder != "ana@laptop" || held.State.Expired {
		t.Fatalf("Take of a live lock held by another: %v, want %q", err, want)
	}
	for what, call := range map[string]func() error{
		"Renew":          func() error { _, err := bob.Renew(ctx); return err },
		"MarkRolledBack": func() error { _, err := bob.MarkRolledBack(ctx, time.Now()); return err },
		"Release":        func() error { _, err := bob.Release(ctx, "because"); return err },
	} {
		if err := call(); !errors.As(err, &held) {
			t.Errorf("%s by another holder: %v, want a HeldError", what, err)
		}
	}
	// Nothing of bob's reached the Lease.
	st, err := ana.Status(ctx)
	if err != nil || st.Holder != "ana@laptop" || st.Reason != "the 10:00 release" || !st.RolledBackAt.IsZero() {
		t.Fatalf("after refusals: %+v, %v", st, err)
	}
}

func TestExpiredLeaseIsTakenOverAndTheOldHolderLosesIt(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "deploy", "ana@laptop", time.Minute)
	bob := teamlock.New(cs, ns, "deploy", "bob@desk", time.Minute)
	if _, err := ana.Take(ctx, "release-1"); err != nil {
		t.Fatal(err)
	}
	age(t, cs, ns, "deploy", 2*time.Minute)
	st, err := bob.Status(ctx)
	if err != nil || !st.Expired || st.Live() {
		t.Fatalf("a lease not renewed for twice its duration: %+v, %v; want expired", st, err)
	}
	took, err := bob.Take(ctx, "release-2")
	if err != nil || took.How != teamlock.TookOver || took.Previous.Holder != "ana@laptop" || took.Previous.Reason != "release-1" {
		t.Fatalf("Take of an expired lock: %+v, %v; want TookOver from ana", took, err)
	}
	if took.State.Holder != "bob@desk" || took.State.Reason != "release-2" || !took.State.Live() || took.State.Transitions != 2 {
		t.Fatalf("after the takeover: %+v", took.State)
	}
	// ana's cockpit finds out at its next renewal.
	_, err = ana.Renew(ctx)
	var held *teamlock.HeldError
	if !errors.As(err, &held) || held.State.Holder != "bob@desk" {
		t.Fatalf("Renew after being taken over: %v", err)
	}

	// Our own lapsed lease is a new hold, with a new start.
	age(t, cs, ns, "deploy", 2*time.Minute)
	again, err := bob.Take(ctx, "")
	if err != nil || again.How != teamlock.Took || !again.State.Since.After(took.State.Since) {
		t.Fatalf("Take of our own expired lock: %+v, %v; want a new Took", again, err)
	}
}

// TestRaceExactlyOneWins: several holders take the same lock at the same
// moment, on a Lease that does not exist yet (create races) and on an
// expired one (update races): exactly one holds it, every other is told
// who does.
func TestRaceExactlyOneWins(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	const takers = 4
	race := func(round string) {
		t.Helper()
		locks := make([]*teamlock.Lock, takers)
		for i := range locks {
			locks[i] = teamlock.New(cs, ns, "deploy", fmt.Sprintf("op%d@host", i), time.Minute)
		}
		errs := make([]error, takers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, l := range locks {
			wg.Go(func() {
				<-start
				_, errs[i] = l.Take(ctx, round)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			var held *teamlock.HeldError
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: both op%d and op%d took the lock", round, winner, i)
			case err == nil:
				winner = i
			case !errors.As(err, &held):
				t.Fatalf("%s: op%d: %v, want a HeldError", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: nobody took the lock: %v", round, errs)
		}
		st, err := locks[0].Status(ctx)
		if err != nil || st.Holder != fmt.Sprintf("op%d@host", winner) {
			t.Fatalf("%s: the Lease says %+v (%v), the winner was op%d", round, st, err, winner)
		}
		for i, err := range errs {
			if i != winner && !strings.Contains(err.Error(), st.Holder) {
				t.Errorf("%s: op%d was told %q, not who holds it", round, i, err)
			}
		}
	}
	race("create")
	for i := range 3 {
		age(t, cs, ns, "deploy", 2*time.Minute)
		race(fmt.Sprintf("takeover %d", i))
	}
}

func TestRolledBackLockNeedsAReasonToGo(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "deploy", "ana@laptop", time.Minute)
	if _, err := ana.Take(ctx, "release-1"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 10, 41, 0, 0, time.UTC)
	st, err := ana.MarkRolledBack(ctx, at)
	if err != nil || !st.RolledBackAt.Equal(at) {
		t.Fatalf("MarkRolledBack: %+v, %v", st, err)
	}
	// A restarted cockpit renews it; the mark stays.
	if took, err := ana.Take(ctx, "release-1"); err != nil || !took.State.RolledBackAt.Equal(at) {
		t.Fatalf("Take after the rollback: %+v, %v", took, err)
	}
	// So does a takeover: the next holder inherits the rolled-back deploy.
	age(t, cs, ns, "deploy", 2*time.Minute)
	bob := teamlock.New(cs, ns, "deploy", "bob@desk", time.Minute)
	took, err := bob.Take(ctx, "fix forward")
	if err != nil || !took.State.RolledBackAt.Equal(at) || !took.Previous.RolledBackAt.Equal(at) {
		t.Fatalf("takeover of a rolled-back lock: %+v, %v", took, err)
	}
	if _, err := bob.Release(ctx, "  "); !errors.Is(err, teamlock.ErrReasonRequired) {
		t.Fatalf("Release without a reason after a rollback: %v, want ErrReasonRequired", err)
	}
	if st, _ := bob.Status(ctx); st.Holder != "bob@desk" {
		t.Fatalf("a refused release let the lock go: %+v", st)
	}
	st, err = bob.Release(ctx, "root cause fixed in release-3")
	if err != nil || !st.Free() {
		t.Fatalf("Release with a reason: %+v, %v", st, err)
	}
	st, err = ana.Status(ctx)
	if err != nil || !st.Free() || !st.RolledBackAt.IsZero() || st.Reason != "" ||
		st.Released.By != "bob@desk" || st.Released.Reason != "root cause fixed in release-3" || time.Since(st.Released.At) > time.Minute {
		t.Fatalf("after the release: %+v, %v", st, err)
	}
	// Free again: the next deploy takes it clean.
	took, err = ana.Take(ctx, "release-3")
	if err != nil || took.How != teamlock.Took || !took.State.RolledBackAt.IsZero() || took.State.Released != (teamlock.Release{}) {
		t.Fatalf("Take after the release: %+v, %v", took, err)
	}
}

func TestReleaseWithoutRollbackNeedsNoReason(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "deploy", "ana@laptop", time.Minute)
	if _, err := ana.Release(ctx, ""); !errors.Is(err, teamlock.ErrNotHeld) {
		t.Fatalf("Release of a lock never taken: %v, want ErrNotHeld", err)
	}
	if _, err := ana.Take(ctx, "release-1"); err != nil {
		t.Fatal(err)
	}
	if st, err := ana.Release(ctx, ""); err != nil || !st.Free() {
		t.Fatalf("Release: %+v, %v", st, err)
	}
	if _, err := ana.Release(ctx, ""); !errors.Is(err, teamlock.ErrNotHeld) {
		t.Fatalf("Release of a free lock: %v, want ErrNotHeld", err)
	}
	if _, err := ana.Renew(ctx); !errors.Is(err, teamlock.ErrNotHeld) {
		t.Fatalf("Renew of a free lock: %v, want ErrNotHeld", err)
	}
}

// TestRunRenewsUntilLost: Run keeps the lease fresh, and when another
// holder takes it over, says so once and stops.
func TestRunRenewsUntilLost(t *testing.T) {
	cs, ns := sandboxLeases(t)
	ctx := ctxFor(t)
	ana := teamlock.New(cs, ns, "deploy", "ana@laptop", 10*time.Second)
	took, err := ana.Take(ctx, "release-1")
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan teamlock.State, 2)
	done := make(chan error, 1)
	go func() { done <- ana.Run(ctx, func(st teamlock.State) { lost <- st }) }()

	// Renewals come every 3⅓s; allow a loaded machine many of them.
	deadline := time.Now().Add(40 * time.Second)
	for {
		st, err := ana.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Renewed.After(took.State.Renewed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run never renewed the lease: %+v", st)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// ana's Run may renew between the ageing and bob's take: then age
	// it again.
	bob := teamlock.New(cs, ns, "deploy", "bob@desk", 10*time.Second)
	for i := 0; ; i++ {
		age(t, cs, ns, "deploy", time.Minute)
		_, err := bob.Take(ctx, "release-2")
		var held *teamlock.HeldError
		if err == nil {
			break
		}
		if !errors.As(err, &held) || i == 5 {
			t.Fatalf("bob's takeover: %v", err)
		}
	}
	select {
	case st := <-lost:
		if st.Holder != "bob@desk" {
			t.Fatalf("onLost was given %+v, want bob's lock", st)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("Run never noticed the takeover")
	}
	select {
	case err := <-done:
		var held *teamlock.HeldError
		if !errors.As(err, &held) {
			t.Fatalf("Run returned %v, want the HeldError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run went on after the lock was lost")
	}
	if st, _ := bob.Status(ctx); st.Holder != "bob@desk" {
		t.Fatalf("the old holder's Run fought back: %+v", st)
	}
}
