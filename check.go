package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

type checkOptions struct {
	// sendTest posts one message through the Slack webhook.
	sendTest bool
}

// printChecks writes one line per result: ✓ or ✕, the section, what was
// tried, and what answered or what falls short with its fix. Continuation
// lines of a long error are indented under it. It returns how many fell
// short.
func printChecks(out io.Writer, results []snapshot.Reach, redact func(string) string) int {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	down := 0
	for _, r := range results {
		mark, text := "✓", r.Detail
		if r.Err != nil {
			mark, text = "✕", r.Err.Error()
			if r.Fix != "" {
				text += " — fix: " + r.Fix
			}
			down++
		}
		lines := strings.Split(redact(text), "\n")
		fmt.Fprintf(tw, "%s %s\t%s\t%s\n", mark, r.Section, redact(r.Target), lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t%s\n", l)
		}
	}
	tw.Flush()
	return down
}

// sendSlackTest posts one message through the webhook, unless its check
// already failed: a malformed or unreachable webhook would only fail again.
func sendSlackTest(ctx context.Context, cfg *config.Config, results []snapshot.Reach) snapshot.Reach {
	r := snapshot.Reach{Section: "slack", Target: "test message"}
	if cfg.Slack == nil {
		r.Err = fmt.Errorf("--send-test: there is no [slack] section in %s", cfg.Path)
		r.Fix = `add [slack] with webhook = "env:SLACK_WEBHOOK_URL", or leave out --send-test`
		return r
	}
	for _, x := range results {
		if x.Section == "slack" && x.Err != nil {
			r.Err = fmt.Errorf("not sent: the webhook check above failed")
			r.Fix = "fix the webhook first"
			return r
		}
	}
	text := fmt.Sprintf("Test message from `flightdeck check` for %s (%s): the cockpit can post here.", cfg.Deploy.Name, cfg.Deploy.Environment)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := actions.NewSlackNotify(cfg.Slack, "", text, "").Run(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	r.Detail = res.Summary
	return r
}
