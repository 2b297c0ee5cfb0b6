package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sources"
	"github.com/flightdeckhq/flightdeck/teamlock"
)

// exitLocked is exit code 3 for the lock commands: the lock is someone
// else's.
const exitLocked = exitUnreachable

// lockTimeout bounds each lock command: the API server answers a Lease
// read or write in milliseconds, or it is not answering.
const lockTimeout = 20 * time.Second

// lockHolder is who holds the deploy lock: the operator the journal names,
// at the machine the cockpit runs on, so the team can tell two of one
// person's terminals apart.
func lockHolder(cfg *config.Config) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return operator(cfg) + "@" + host
}

// lockReason is why a cockpit holds the lock: the deploy and its release.
func lockReason(cfg *config.Config, day time.Time) string {
	reason := cfg.Deploy.Name
	if rel := cfg.TemplateVars(day)["release"]; rel != "" {
		reason += " · " + rel
	}
	return reason
}

// openTeamLock is the deploy's lock on its cluster, as this operator at
// this machine holds it.
func openTeamLock(cfg *config.Config) (*teamlock.Lock, error) {
	rc, _, err := sources.KubeRESTConfig(cfg.Kubernetes.Primary())
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("a Kubernetes client for %s: %w", rc.Host, err)
	}
	l := teamlock.New(cs, cfg.Lock.Namespace, teamlock.LeaseName(cfg.Deploy.Name, cfg.Deploy.Environment),
		lockHolder(cfg), cfg.Lock.Duration.D())
	l.Location = cfg.Window.Location
	return l, nil
}

func newLockCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Show, take or release the team's deploy lock (a Kubernetes Lease)",
		Long: `The deploy lock keeps two people from driving the same deploy from two
machines. It is a Lease (coordination.k8s.io/v1) on the deploy's own cluster,
one per deploy and environment, in [lock] namespace; its holder is
operator@host. The cockpit takes it at start, renews it every third of
[lock] duration while it runs, and opens read-only when someone else's lease
is live. A holder that vanished loses it after [lock] duration: the next one
takes it over, and the journal says from whom.

After a rollback the lock says "rolled back at 10:41", through expiry and
takeovers, until its holder releases it with a reason. Quitting the cockpit
does not release it (the deploy may be resumed): it stays held until its
lease expires, and whoever takes it over then is journaled. Release it here
when the deploy is over.

Exit codes:
  0  done (status: whatever the lock's state; release: also when it was free)
  1  the API server failed or did not answer
  2  usage or configuration error: no [lock] section; a release after a
     rollback without --reason
  3  the lock is someone else's: take while their lease is live; release of
     a lock only its holder may release`,
		Args: cobra.NoArgs,
	}
	var reason string
	status := &cobra.Command{
		Use:   "status",
		Short: "Who holds the deploy lock, since when, why, until when, and any rollback under it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLock(cmd.Context(), cmd.OutOrStdout(), g.config, "status", "")
		},
	}
	take := &cobra.Command{
		Use:   "take",
		Short: "Take the deploy lock, renew yours, or take over one that expired",
		Long: `Takes the deploy lock for [lock] duration: free, it is taken; yours, it is
renewed; someone else's that expired, it is taken over. Someone else's live
lease is refused (exit 3) with who holds it, since when and why. Nothing
renews it afterwards but a running cockpit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLock(cmd.Context(), cmd.OutOrStdout(), g.config, "take", reason)
		},
	}
	take.Flags().StringVar(&reason, "reason", "", "why you hold it (default: the deploy and its release, as the cockpit says)")
	release := &cobra.Command{
		Use:   "release",
		Short: "Release the deploy lock you hold (after a rollback, with --reason)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLock(cmd.Context(), cmd.OutOrStdout(), g.config, "release", reason)
		},
	}
	release.Flags().StringVar(&reason, "reason", "", "why the lock may go; required after a rollback")
	cmd.AddCommand(status, take, release)
	return cmd
}

func runLock(ctx context.Context, out io.Writer, flag, verb, reason string) error {
	cfg, err := loadConfig(flag, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		return err
	}
	if cfg.Lock == nil {
		return fail(exitConfig, fmt.Errorf("%s has no [lock] section: add [lock] (it needs [kubernetes]; namespace defaults to the first watched one)", cfg.Path))
	}
	l, err := openTeamLock(cfg)
	if err != nil {
		return fail(exitFailure, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	var held *teamlock.HeldError
	switch verb {
	case "take":
		if reason == "" {
			reason = lockReason(cfg, time.Now().In(cfg.Window.Location))
		}
		took, err := l.Take(ctx, reason)
		switch {
		case errors.As(err, &held):
			return fail(exitLocked, fmt.Errorf("%s: not taken: %w%s", l.Where(), err, yieldHint(held.State)))
		case err != nil:
			return fail(exitFailure, err)
		}
		st := took.State
		switch took.How {
		case teamlock.Renewed:
			fmt.Fprintf(out, "renewed the deploy lock %s: yours (%s) since %s\n", l.Where(), st.Holder, st.Clock(st.Since))
		case teamlock.TookOver:
			p := took.Previous
			fmt.Fprintf(out, "took over the deploy lock %s from %s, whose lease expired at %s (held since %s: %s)\n",
				l.Where(), p.Holder, p.Clock(p.Expires()), p.Clock(p.Since), p.Reason)
		default:
			fmt.Fprintf(out, "took the deploy lock %s as %s: %s\n", l.Where(), st.Holder, st.Reason)
		}
		fmt.Fprintf(out, "it expires in %s unless renewed: a running cockpit renews it\n", shortAgo(time.Until(st.Expires())))
		if !st.RolledBackAt.IsZero() {
			fmt.Fprintf(out, "the deploy was rolled back at %s under it: release it with --reason when the team moves on\n", st.Clock(st.RolledBackAt))
		}
	case "release":
		st, err := l.Release(ctx, reason)
		switch {
		case errors.Is(err, teamlock.ErrNotHeld):
			fmt.Fprintf(out, "the deploy lock %s is already free\n", l.Where())
		case errors.Is(err, teamlock.ErrReasonRequired):
			return fail(exitConfig, fmt.Errorf("%s: not released: %w: flightdeck lock release --reason \"why the team moves on\"", l.Where(), err))
		case errors.As(err, &held):
			return fail(exitLocked, fmt.Errorf("%s: not released: %w; only its holder may release it (flightdeck lock release on %s's machine)%s",
				l.Where(), err, held.State.Holder, takeOverHint(held.State)))
		case err != nil:
			return fail(exitFailure, err)
		default:
			fmt.Fprintf(out, "released the deploy lock %s: %s\n", l.Where(), nonEmpty(st.Released.Reason, "no reason given"))
		}
	default:
		st, err := l.Status(ctx)
		if err != nil {
			return fail(exitFailure, err)
		}
		printLockStatus(out, l, st)
	}
	return nil
}

// printLockStatus says who holds the lock and what follows for the reader.
func printLockStatus(out io.Writer, l *teamlock.Lock, st teamlock.State) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "lease\t%s\n", l.Where())
	if st.Free() {
		fmt.Fprintf(tw, "holder\tnone: the lock is free\n")
		if r := st.Released; r.By != "" {
			fmt.Fprintf(tw, "released\tby %s at %s: %s\n", r.By, st.Clock(r.At), nonEmpty(r.Reason, "no reason given"))
		}
		return
	}
	who := st.Holder
	if who == l.Holder() {
		who += " (you)"
	}
	fmt.Fprintf(tw, "holder\t%s\n", who)
	fmt.Fprintf(tw, "since\t%s\n", st.Clock(st.Since))
	fmt.Fprintf(tw, "reason\t%s\n", nonEmpty(st.Reason, "none given"))
	if st.Expired {
		fmt.Fprintf(tw, "expired\t%s ago: flightdeck lock take takes it over\n", shortAgo(time.Since(st.Expires())))
	} else {
		fmt.Fprintf(tw, "expires in\t%s unless renewed (renewed at %s)\n", shortAgo(time.Until(st.Expires())), st.Clock(st.Renewed))
	}
	if !st.RolledBackAt.IsZero() {
		fmt.Fprintf(tw, "rolled back at\t%s: it stays until released with flightdeck lock release --reason\n", st.Clock(st.RolledBackAt))
	}
}

// yieldHint says what to do about a live lock that is someone else's.
func yieldHint(st teamlock.State) string {
	return fmt.Sprintf(" (it expires in %s unless %s's cockpit renews it: ask them, or watch with flightdeck --read-only)", shortAgo(time.Until(st.Expires())), st.Holder)
}

func takeOverHint(st teamlock.State) string {
	if st.Expired {
		return "; it has expired: flightdeck lock take takes it over, then release it"
	}
	return ""
}

func shortAgo(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = -d
	}
	return d.String()
}

func nonEmpty(s, otherwise string) string {
	if strings.TrimSpace(s) == "" {
		return otherwise
	}
	return s
}
