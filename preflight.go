package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

func newPreflightCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "preflight",
		Short: "Judge every pending migration against production before it runs",
		Long: `Reads the pending migrations ([migrations] files and command) with the
Postgres parser, judges each statement (the lock it takes and on what, whether
it rewrites or scans the table, CONCURRENTLY inside a transaction, no
lock_timeout before an ACCESS EXCLUSIVE), and asks production, read-only and
with timeouts, how the objects it touches are used: rows and size, an index's
scans since the statistics were reset, transactions holding the table now.
One block per statement: verdict (ok, warn, block, unknown), why, and the safe
rewrite. No TUI.

Exit code 0 when no statement is blocked or unknown, 2 when the configuration
is invalid, 3 when a statement is blocked, the SQL does not parse, the
migrations command fails, or production cannot be asked (unknown is never ok).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflight(cmd.Context(), cmd.OutOrStdout(), g.config)
		},
	}
}

func runPreflight(ctx context.Context, out io.Writer, flag string) error {
	cfg, err := loadConfig(flag, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		return err
	}
	if cfg.Migrations == nil {
		return fail(exitConfig, fmt.Errorf("%s has no [migrations] section: add one with files = [\"db/migrations/*.sql\"] or a command that prints the pending SQL", cfg.Path))
	}
	day := time.Now().In(cfg.Window.Location)
	ctx, cancel := context.WithTimeout(ctx, cfg.Deploy.CommandTimeout.D()+time.Minute)
	defer cancel()
	p := sources.RunPreflight(ctx, cfg, day, sources.MigrationOrigin(cfg, day))
	redact := cfg.Redactor().Redact
	printPreflight(out, p, redact)
	gate := p.Facts()["migrations.safe"]
	switch {
	case !gate.Known:
		return fail(exitUnreachable, errors.New(redact("not judged: "+gate.Detail)))
	case !gate.Bool:
		return fail(exitUnreachable, errors.New(redact("the migrations are not safe to run as written: "+gate.Detail)))
	}
	return nil
}

// printPreflight writes one block per statement: where, verdict and the
// statement, then the predicted locks, each finding with its fix, and
// production's figures.
func printPreflight(out io.Writer, p snapshot.Preflight, redact func(string) string) {
	fmt.Fprintf(out, "migrations  %s\n", redact(p.Origin))
	if p.Target != "" {
		prod := "read in " + p.Took.Round(time.Millisecond).String()
		if p.ProductionErr != "" {
			prod = "could not be read: " + snapshot.OneLine(p.ProductionErr)
		}
		fmt.Fprintf(out, "production  %s (%s)\n", p.Target, redact(prod))
	}
	fmt.Fprintln(out)
	if p.Err != "" {
		fmt.Fprintln(out, redact(p.Err))
		return
	}
	for _, s := range p.Statements {
		fmt.Fprintf(out, "%-7s %s  %s\n", strings.ToUpper(s.Verdict), s.Where, redact(snapshot.QueryLine(s.SQL, 100)))
		if s.Locks != "" {
			fmt.Fprintf(out, "        takes %s\n", s.Locks)
		}
		for _, f := range s.Findings {
			fmt.Fprintf(out, "        %s: %s\n", f.Verdict, redact(f.Reason))
			if f.Fix != "" {
				fmt.Fprintf(out, "          fix: %s\n", redact(snapshot.OneLine(f.Fix)))
			}
		}
		if s.Figures != "" {
			fmt.Fprintf(out, "        production: %s\n", redact(s.Figures))
		}
	}
	fmt.Fprintf(out, "\n%s\n", p.Summary())
}
