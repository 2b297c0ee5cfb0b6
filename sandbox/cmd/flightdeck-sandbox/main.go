// Command flightdeck-sandbox runs the local production the cockpit is
// demonstrated and tested on: a real Kubernetes control plane, a real
// Postgres with a workload, and stand-ins for Jira, Sentry and Slack.
//
// It is a binary of its own so the flightdeck binary links none of it.
//
//	flightdeck-sandbox up|status|down|clone [--dir DIR]
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
)

// Exit codes: 1 for a failure, 3 when status finds a component down (as
// flightdeck check does for a system that does not answer).
const (
	exitFailure     = 1
	exitUnreachable = 3
)

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(os.Stderr, "flightdeck-sandbox:", err)
	os.Exit(code)
}

func newRootCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "flightdeck-sandbox",
		Short: "A local production to deploy against: Kubernetes, Postgres, Jira, Sentry",
		Long: `The sandbox runs a real Kubernetes control plane (etcd, kube-apiserver,
controller-manager and scheduler, with kwok nodes), a real Postgres with a
workload, and stand-ins for Jira, Sentry and Slack that speak their documented
APIs, all on this machine. ` + "`make demo`" + ` opens the cockpit on it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", sandbox.DefaultDir(), "sandbox state directory")

	up := &cobra.Command{
		Use:   "up",
		Short: "Start the sandbox (reusing what already runs) and write its flightdeck.toml",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Ctrl-C during up stops what this run started and cleans up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			info, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Progress: out})
			if err != nil {
				if ctx.Err() != nil {
					fmt.Fprintln(out, "interrupted: stopping what was started…")
					cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					if derr := sandbox.Down(cctx, sandbox.Options{Dir: dir, Progress: out}); derr != nil {
						return fmt.Errorf("interrupted, and cleaning up failed: %w", derr)
					}
					return fail(exitFailure, fmt.Errorf("sandbox up interrupted; everything it started was stopped"))
				}
				return fail(exitFailure, err)
			}
			fmt.Fprintf(out, `
The sandbox is up.
  cockpit     flightdeck --config %s
  kubectl     kubectl --kubeconfig %s -n production get pods
  psql        psql '%s'
  jira        curl -u %s:$(cat %s) %s/rest/agile/1.0/board/%d/configuration
  sentry      curl -H "Authorization: Bearer $(cat %s)" '%s/api/0/organizations/%s/'
  slack       curl %s/messages
  stop        flightdeck-sandbox down --dir %s
`, info.Config, info.Kubeconfig, info.PostgresApp, info.JiraEmail, info.JiraTokenFile, info.JiraURL, sandbox.JiraBoard,
				info.SentryTokenFile, info.SentryURL, sandbox.SentryOrg, slackBase(info.SlackWebhook), info.Dir)
			return nil
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop everything the sandbox started and remove its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sandbox.Down(cmd.Context(), sandbox.Options{Dir: dir, Progress: cmd.OutOrStdout()})
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Say what runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			comps, err := sandbox.Status(cmd.Context(), sandbox.Options{Dir: dir})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			down := 0
			for _, c := range comps {
				state := "running"
				if !c.Running {
					state, down = "stopped", down+1
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, state, c.Detail)
			}
			tw.Flush()
			if down > 0 {
				return fail(exitUnreachable, fmt.Errorf("%d of %d sandbox components are not running", down, len(comps)))
			}
			return nil
		},
	}
	serve := &cobra.Command{
		Use:    "serve",
		Short:  "Run the stand-in daemon (started by up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return sandbox.Serve(ctx, dir, cmd.ErrOrStderr())
		},
	}
	var cloneName string
	clone := &cobra.Command{
		Use:   "clone",
		Short: "Clone the sandbox's production database (CREATE DATABASE … TEMPLATE acme)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := sandbox.Load(dir)
			if err != nil {
				return err
			}
			if cloneName == "" {
				cloneName = pg.CloneName(sandbox.Database, time.Now())
			}
			if err := pg.CreateClone(cmd.Context(), info.PostgresAdmin, sandbox.Database, cloneName); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database %s is a clone of %s\n", cloneName, sandbox.Database)
			return nil
		},
	}
	clone.Flags().StringVar(&cloneName, "name", "", "clone name (default acme-clone-<today>)")
	cmd.AddCommand(up, down, status, serve, clone)
	return cmd
}

func slackBase(webhook string) string {
	for i := len("http://"); i < len(webhook); i++ {
		if webhook[i] == '/' {
			return webhook[:i]
		}
	}
	return webhook
}
