package sources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// ProbeTimeout bounds each reachability check: a check that hangs is as good
// as down during a deploy.
const ProbeTimeout = 5 * time.Second

// Configured reports whether cfg has the section.
func Configured(cfg *config.Config, section string) bool {
	for _, sc := range cfg.Sources() {
		if sc.Section == section {
			return sc.Configured
		}
	}
	return false
}

// ProbeSection probes one section's system; Postgres answers once per
// target. Each probe is bounded by ProbeTimeout.
func ProbeSection(ctx context.Context, cfg *config.Config, section string, day time.Time) []snapshot.Reach {
	if errs := cfg.SecretErrors[section]; len(errs) > 0 {
		// Without its credentials the system cannot be asked anything; say
		// which secret is missing and where it is configured.
		return []snapshot.Reach{{Section: section, Target: "credentials", Err: errs}}
	}
	var runs []func(ctx context.Context) snapshot.Reach
	switch section {
	case "kubernetes":
		primary := cfg.Kubernetes.Primary()
		for _, c := range cfg.Kubernetes.ClusterList() {
			lock := cfg.Lock
			if c != primary {
				lock = nil // the lease lives in the primary only
			}
			runs = append(runs, func(ctx context.Context) snapshot.Reach {
				r := ProbeKubernetes(ctx, c, lock)
				if c.Name != "" {
					r.Target = "cluster " + c.Name + " " + r.Target
				}
				return r
			})
		}
	case "postgres":
		vars := cfg.TemplateVars(day)
		for _, t := range cfg.Postgres.Targets {
			runs = append(runs, func(ctx context.Context) snapshot.Reach { return ProbePostgres(ctx, t, vars) })
		}
	case "jira":
		runs = append(runs, func(ctx context.Context) snapshot.Reach { return ProbeJira(ctx, cfg.Jira) })
	case "git":
		runs = append(runs, func(ctx context.Context) snapshot.Reach { return ProbeGit(ctx, cfg.Git) })
	case "sentry":
		runs = append(runs, func(ctx context.Context) snapshot.Reach { return ProbeSentry(ctx, cfg.Sentry) })
	case "slack":
		runs = append(runs, func(ctx context.Context) snapshot.Reach { return ProbeSlack(ctx, cfg.Slack) })
	}
	out := make([]snapshot.Reach, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
			defer cancel()
			start := time.Now()
			r := run(pctx)
			r.Section = section
			r.Took = time.Since(start)
			if r.Err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
				r.Err = fmt.Errorf("no answer within %s: %w", ProbeTimeout, r.Err)
			}
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}

// CheckReach probes every configured section concurrently and returns the
// answers in display order. day selects the template variables (a clone
// database named after the date, say).
func CheckReach(ctx context.Context, cfg *config.Config, day time.Time) []snapshot.Reach {
	results := make([][]snapshot.Reach, len(snapshot.Sections))
	var wg sync.WaitGroup
	for i, sec := range snapshot.Sections {
		if !Configured(cfg, sec) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = ProbeSection(ctx, cfg, sec, day)
		}()
	}
	wg.Wait()
	var out []snapshot.Reach
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

// Reachability is a polling source that keeps probing one section, so the
// status bar shows a system that goes down while the rest keeps working.
type Reachability struct {
	Config   *config.Config
	Section  string
	Interval time.Duration
	Day      time.Time
}

// Name implements Source.
func (r Reachability) Name() string { return r.Section }

// Run implements Source.
func (r Reachability) Run(ctx context.Context, emit func(Snapshot[[]snapshot.Reach])) error {
	return Poll(ctx, r.Interval, func(ctx context.Context) ([]snapshot.Reach, error) {
		res := ProbeSection(ctx, r.Config, r.Section, r.Day)
		var errs []error
		for _, x := range res {
			if x.Err != nil {
				if len(res) > 1 {
					errs = append(errs, fmt.Errorf("%s: %w", x.Target, x.Err))
				} else {
					errs = append(errs, x.Err)
				}
			}
		}
		return res, errors.Join(errs...)
	}, emit)
}

// ProbeSlack checks that the webhook is well formed and that its host
// accepts connections. It never posts: a reachability check must not send a
// message to the channel (flightdeck check --send-test does, on request).
func ProbeSlack(ctx context.Context, s *config.Slack) snapshot.Reach {
	u, err := url.Parse(s.Webhook.Value())
	if err != nil || u.Host == "" {
		return snapshot.Reach{Target: "webhook", Err: errors.New("webhook is not a URL: check the value behind " + s.Webhook.Ref)}
	}
	r := snapshot.Reach{Target: u.Scheme + "://" + u.Host}
	if problem := webhookProblem(u); problem != "" {
		// Never the URL itself: its path is the credential.
		r.Err = fmt.Errorf("the webhook behind %s %s", s.Webhook.Ref, problem)
		r.Fix = "copy the webhook URL again from the Slack app's Incoming Webhooks page into " + s.Webhook.Ref
		return r
	}
	host := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		r.Err = err
		return r
	}
	conn.Close()
	r.Detail = "webhook well formed, host accepts connections (nothing posted; check --send-test posts one)"
	return r
}

// webhookProblem says how a webhook URL is malformed, or "". Slack's own
// are https://hooks.slack.com/services/T…/B…/… (workflow triggers
// /triggers/…); a relay of one's own may be anything over https, or plain
// http to this machine (the sandbox's receiver is one).
func webhookProblem(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https" && (u.Scheme != "http" || !loopback(host)):
		return fmt.Sprintf("is %s://, not https:// (plain http only to this machine)", u.Scheme)
	case u.User != nil:
		return "carries a user name: Slack's webhooks never do"
	case host == "slack.com" || strings.HasSuffix(host, ".slack.com") || strings.HasSuffix(host, ".slack-gov.com"):
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if !strings.HasPrefix(host, "hooks.") || len(parts) != 4 || (parts[0] != "services" && parts[0] != "triggers") || slices.Contains(parts, "") {
			return "is not an incoming webhook: Slack's look like https://hooks.slack.com/services/T…/B…/…"
		}
	case strings.Trim(u.Path, "/") == "":
		return "has no path: an incoming webhook's path is its credential"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
