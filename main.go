// Command flightdeck is a terminal cockpit for the production deploy window.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/adrg/xdg"
	"github.com/spf13/cobra"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/report"
	"github.com/flightdeckhq/flightdeck/sources"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// Exit codes, documented in --help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitConfig      = 2
	exitUnreachable = 3
	exitJournal     = 4
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

func stateDir() string { return filepath.Join(xdg.StateHome, "flightdeck") }

func logPath() string { return filepath.Join(stateDir(), "flightdeck.log") }

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
	fmt.Fprintln(os.Stderr, "flightdeck:", err)
	os.Exit(code)
}

type globalFlags struct {
	config   string
	readOnly bool
	share    string
}

func newRootCmd() *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "flightdeck",
		Short: "A terminal cockpit for the production deploy window",
		Long: `Flightdeck walks the team's deploy runbook step by step, with the deploy
window's clock, live state from Kubernetes, Postgres, Jira and Sentry, and the
dangerous moves (run a command, roll back) one key away with a preview, a
confirmation and a journal entry.

Run without a subcommand to open the cockpit.`,
		Example: `  flightdeck --config config.example.toml
  flightdeck check --config config.example.toml
  flightdeck preflight --config config.example.toml
  flightdeck rehearse --config sandbox.toml
  flightdeck lock release --reason "fixed forward in release-3"
  flightdeck --config config.example.toml --share :2222
  flightdeck --read-only`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCockpit(cmd.Context(), g)
		},
	}
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "",
		"config file (default ./flightdeck.toml, then "+filepath.Join(xdg.ConfigHome, "flightdeck", "config.toml")+")")
	root.Flags().BoolVar(&g.readOnly, "read-only", false, "watch only: attaches to the cockpit that drives this deploy on this machine, else follows its journal; every key that would change the world is disabled")
	root.Flags().StringVar(&g.share, "share", "", "serve live read-only views to teammates over SSH on `ADDR` (host:port; :2222 is localhost only); keys from [share] authorized_keys")
	root.SetHelpTemplate(root.HelpTemplate() + `
Files:
  log file         ` + logPath() + `
  state directory  ` + stateDir() + `
  journal          ` + filepath.Join(stateDir(), "<deploy>", "<YYYY-MM-DD>.jsonl") + `
                   (one per deploy and day; restarting resumes from it)
  driver socket    ` + filepath.Join(stateDir(), "<deploy>", "driver.sock") + `
                   (--read-only on this machine attaches here)
  share keys       ` + filepath.Join(stateDir(), "share") + `
                   (the SSH host key viewers see; the local observers' key)

Environment:
  FLIGHTDECK_CPUPROFILE=FILE  write a CPU profile of the cockpit to FILE (go tool pprof)

Exit codes:
  0  success
  1  unexpected failure (terminal, file system); rehearse: a step failed
  2  usage or configuration error; the message names file, line, column and key;
     rehearse: the deploy lock is someone else's
  3  check: the configuration is valid but a configured system did not answer
     or falls short of what the deploy needs (a missing grant, say);
     preflight: a migration is blocked, does not parse, or cannot be judged;
     lock: the deploy lock is someone else's
  4  the journal cannot be opened: another flightdeck has it, or it is not writable
`)
	root.AddCommand(newCheckCmd(&g), newPreflightCmd(&g), newReportCmd(&g), newLockCmd(&g), newRehearseCmd(&g), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "flightdeck", versionString())
		},
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// findConfig applies the documented search order.
func findConfig(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	candidates := []string{"flightdeck.toml", filepath.Join(xdg.ConfigHome, "flightdeck", "config.toml")}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fail(exitConfig, fmt.Errorf("no config file: looked for %s; pass --config PATH (config.example.toml is a complete example)",
		candidates[0]+" and "+candidates[1]))
}

func loadConfig(flag string, opts config.LoadOptions) (*config.Config, error) {
	path, err := findConfig(flag)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path, opts)
	if err != nil {
		return nil, fail(exitConfig, fmt.Errorf("invalid configuration:\n%w", err))
	}
	return cfg, nil
}

func newCheckCmd(g *globalFlags) *cobra.Command {
	var sendTest bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and prove every configured system can serve the deploy",
		Long: `Validates the configuration (schema, runbook, gates, templates, secret
references), then proves each configured system can serve the deploy, one
line per system (each Postgres target its own) with ✓ or ✕ and, for ✕, the
fix: Kubernetes answers, the namespaces exist and every verb the cockpit uses
is allowed; each Postgres target's role can read other sessions and signal
them; the Slack webhook is well formed and its host answers. No TUI.

Exit code 0 when all is well, 2 when the configuration is invalid, 3 when it
is valid but something falls short.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), cmd.OutOrStdout(), g.config, checkOptions{sendTest: sendTest})
		},
	}
	cmd.Flags().BoolVar(&sendTest, "send-test", false, "also post one test message through the Slack webhook")
	return cmd
}

func newReportCmd(g *globalFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report [journal]",
		Short: "Write the deploy record (Markdown) for the change review",
		Long: `Writes the record of a deploy from its journal: the timeline; each step with
its estimate, actual time and who; commands with their exit codes; gates with
the values they passed on; actions with their results; rollbacks; the peaks of
error rate and lock waits observed. Without a journal argument it reads
today's journal of the configured deploy. The cockpit also writes it, beside
the journal, once every step is closed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g.config, config.LoadOptions{DeferSecretErrors: true})
			if err != nil {
				return err
			}
			path := journal.Path(stateDir(), cfg.Deploy.Name, time.Now().In(cfg.Window.Location))
			if len(args) == 1 {
				path = args[0]
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fail(exitFailure, err)
				}
				defer f.Close()
				w = f
			}
			if err := report.FromFile(w, cfg, path); err != nil {
				return fail(exitFailure, fmt.Errorf("report from %s: %w", path, err))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "file to write; - is standard output")
	return cmd
}

func runCheck(ctx context.Context, out io.Writer, flag string, opts checkOptions) error {
	cfg, err := loadConfig(flag, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		return err
	}
	day := time.Now().In(cfg.Window.Location)
	steps := 0
	for _, p := range cfg.Phases {
		steps += len(p.Steps)
	}
	fmt.Fprintf(out, "config %s: valid\n", cfg.Path)
	fmt.Fprintf(out, "  deploy      %s (%s)\n", cfg.Deploy.Name, cfg.Deploy.Environment)
	fmt.Fprintf(out, "  window      %s–%s %s\n", cfg.Window.Start, cfg.Window.End, cfg.Window.Timezone)
	fmt.Fprintf(out, "  runbook     %d phases, %d steps, %s estimated (contingency phases excluded)\n",
		len(cfg.Phases), steps, runbook.Short(cfg.PlannedEstimate()))
	if est, win := cfg.PlannedEstimate(), cfg.Window.Length(day); est > win {
		fmt.Fprintf(out, "  warning     the estimates (%s) exceed the window (%s)\n", runbook.Short(est), runbook.Short(win))
	}
	fmt.Fprintf(out, "  journal     %s\n\n", journal.Path(stateDir(), cfg.Deploy.Name, day))

	results := sources.CheckReach(ctx, cfg, day)
	if len(results) == 0 {
		fmt.Fprintln(out, "no sources configured")
		return nil
	}
	if opts.sendTest {
		results = append(results, sendSlackTest(ctx, cfg, results))
	}
	down := printChecks(out, results, cfg.Redactor().Redact)
	if down > 0 {
		return fail(exitUnreachable, fmt.Errorf("%d of %d checks fell short (✕ above, each with its fix): fix them before the deploy window; the cockpit still opens, but without what they would give it", down, len(results)))
	}
	return nil
}

// openLog opens the log file; nothing may write to the terminal while the
// cockpit runs, so every diagnostic goes here, with secrets redacted.
func openLog(redact func(string) string) (*slog.Logger, io.Closer, error) {
	if err := os.MkdirAll(stateDir(), 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Value.Kind() {
			case slog.KindString:
				return slog.String(a.Key, redact(a.Value.String()))
			case slog.KindAny:
				if err, ok := a.Value.Any().(error); ok && err != nil {
					return slog.String(a.Key, redact(err.Error()))
				}
			}
			return a
		},
	})
	return slog.New(h), f, nil
}

// cpuProfile writes a CPU profile of the cockpit to path until stop, for
// finding where its time goes (FLIGHTDECK_CPUPROFILE, named in --help).
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("FLIGHTDECK_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("FLIGHTDECK_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
