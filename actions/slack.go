package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// Kinds of the Slack actions.
const (
	KindSlackNotify = "slack.notify"
	// KindSlackRollbackAlert is the alert sent after every rollback; it is
	// a notify of its own kind so the record tells the two apart.
	KindSlackRollbackAlert = "slack.rollback_alert"
)

// SlackNotify posts a message through a Slack incoming webhook.
type SlackNotify struct {
	// Webhook is the incoming-webhook URL. It is a credential: anyone
	// holding it can post, so it never appears in a preview, a result or
	// an error.
	Webhook config.Secret
	// Channel overrides the webhook's own channel, for webhooks that allow
	// it; "" posts where the webhook was set up to.
	Channel string
	// Text is the message, template variables already expanded, in
	// Slack's mrkdwn.
	Text   string
	StepID string
	HTTP   *http.Client // nil: a client with a 15 s timeout
	kind   string
}

// SlackResult is the Detail of a Slack action's Result.
type SlackResult struct {
	Channel string `json:"channel,omitempty"`
	Text    string `json:"text"`
	Status  int    `json:"status,omitempty"`
	// Answer is Slack's reply: "ok", or an error code such as
	// "channel_not_found".
	Answer string `json:"answer,omitempty"`
	Error  string `json:"error,omitempty"`
}

// NewSlackNotify is the slack.notify action of a runbook step: text already
// expanded, channel from the step or else the [slack] channel.
func NewSlackNotify(cfg *config.Slack, channel, text, step string) *SlackNotify {
	if channel == "" {
		channel = cfg.Channel
	}
	return &SlackNotify{Webhook: cfg.Webhook, Channel: channel, Text: text, StepID: step}
}

// Kind implements Action.
func (s *SlackNotify) Kind() string {
	if s.kind != "" {
		return s.kind
	}
	return KindSlackNotify
}

// Step implements Action.
func (s *SlackNotify) Step() string { return s.StepID }

// Dangerous implements Action: a message changes nothing in production,
// and the rollback alert must go out in read-only mode too.
func (s *SlackNotify) Dangerous() bool { return false }

// Outward implements Outward: it reaches another system, so read-only mode
// refuses it.
func (s *SlackNotify) Outward() bool { return true }

func (s *SlackNotify) where() string {
	if s.Channel == "" {
		return "the webhook's channel"
	}
	return s.Channel
}

// Preview implements Action.
func (s *SlackNotify) Preview(context.Context) (Preview, error) {
	p := Preview{Title: "Post to " + s.where() + " on Slack"}
	if err := s.check(); err != nil {
		return p, err
	}
	for _, l := range strings.Split(s.Text, "\n") {
		p.Lines = append(p.Lines, "│ "+l)
	}
	p.Lines = append(p.Lines, "through the incoming webhook in "+s.Webhook.Ref)
	return p, nil
}

func (s *SlackNotify) check() error {
	if strings.TrimSpace(s.Text) == "" {
		return errors.New("nothing to post: the message is empty; give the step args.text")
	}
	if s.Webhook.Value() == "" {
		return fmt.Errorf("no Slack webhook: the secret %s is not set; export it, or fix [slack] webhook", s.Webhook.Ref)
	}
	return nil
}

// Run implements Action. A message Slack did not take is an error, so the
// runner journals it as failed and the operator sees why.
func (s *SlackNotify) Run(ctx context.Context) (Result, error) {
	res := SlackResult{Channel: s.Channel, Text: s.Text}
	fail := func(err error) (Result, error) {
		res.Error = err.Error()
		detail, _ := json.Marshal(res)
		return Result{Summary: "not posted to " + s.where() + ": " + err.Error(), Detail: detail}, err
	}
	if err := s.check(); err != nil {
		return fail(err)
	}
	payload := map[string]any{"text": s.Text}
	if s.Channel != "" {
		payload["channel"] = s.Channel
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fail(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Webhook.Value(), bytes.NewReader(body))
	if err != nil || req.URL.Host == "" {
		return fail(fmt.Errorf("the Slack webhook in %s is not a URL; it should be the https:// URL Slack gave for the incoming webhook", s.Webhook.Ref))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flightdeck")
	hc := s.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error carries the webhook URL, which is the secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(fmt.Errorf("could not reach Slack (webhook in %s): %v; check the network, then post by hand if it matters now", s.Webhook.Ref, err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	res.Status = resp.StatusCode
	res.Answer = slackClip(string(answer), 200)
	if resp.StatusCode != http.StatusOK {
		return fail(slackError(resp, res.Answer, s.Webhook.Ref, s.where()))
	}
	detail, _ := json.Marshal(res)
	return Result{OK: true, Summary: "posted to " + s.where(), Detail: detail}, nil
}

// slackError words Slack's webhook error codes as what to do about them.
func slackError(resp *http.Response, answer, ref, where string) error {
	status := resp.Status
	code := answer
	if code == "" {
		code = "no answer"
	}
	var advice string
	switch code {
	case "no_service", "no_active_hooks", "invalid_token", "no_team", "team_disabled":
		advice = "the webhook is wrong, revoked or its app was removed: make a new one and update " + ref
	case "channel_not_found":
		advice = "no channel " + where + " for this webhook: check the channel name, or drop the override"
	case "channel_is_archived":
		advice = where + " is archived: unarchive it or post elsewhere"
	case "action_prohibited", "posting_to_general_channel_denied":
		advice = "a workspace admin restricted posting to " + where + ": ask them, or post elsewhere"
	case "invalid_payload", "no_text":
		advice = "Slack could not read the message; this is a fault in flightdeck, post by hand"
	default:
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			advice = "Slack is rate limiting this webhook (retry after " + resp.Header.Get("Retry-After") + " s)"
		case resp.StatusCode >= 500:
			advice = "Slack is failing on its side: post by hand if it matters now"
		default:
			advice = "check the webhook in " + ref
		}
	}
	return fmt.Errorf("Slack refused the message (%s, %s): %s", status, code, advice)
}

// RollbackNotice is what the alert after a rollback says.
type RollbackNotice struct {
	Deploy      string // the config's deploy name
	Environment string
	By          string  // the operator
	Outcome     Outcome // of the kube.rollback action
}

// RollbackAlert builds the message for the incident channel after a
// rollback, whatever its outcome: a rollback that failed is the one the
// incident channel most needs to hear about. It says what was rolled back,
// from and to which image, by whom, and how it went, from the rollback's
// own result. Without an incident channel it goes to [slack] channel.
func RollbackAlert(cfg *config.Slack, n RollbackNotice) *SlackNotify {
	ch := cfg.IncidentChannel
	if ch == "" {
		ch = cfg.Channel
	}
	// No step: the alert's result must not stand in for the rollback
	// step's own in the checklist.
	return &SlackNotify{Webhook: cfg.Webhook, Channel: ch, Text: rollbackText(n), kind: KindSlackRollbackAlert}
}

func rollbackText(n RollbackNotice) string {
	var targets []KubeTargetResult
	_ = json.Unmarshal(n.Outcome.Result.Detail, &targets)
	failed := 0
	for _, t := range targets {
		if !t.OK {
			failed++
		}
	}
	var verdict string
	switch {
	case n.Outcome.Err == nil && n.Outcome.Result.OK:
		verdict = "succeeded"
	case len(targets) > 0 && failed < len(targets):
		verdict = fmt.Sprintf("*FAILED for %d of %d deployments*", failed, len(targets))
	default:
		verdict = "*FAILED*"
	}
	what := slackEscape(n.Deploy)
	if what == "" {
		what = "the deploy"
	}
	if n.Environment != "" {
		what += " (" + slackEscape(n.Environment) + ")"
	}
	by := slackEscape(n.By)
	if by == "" {
		by = "an unknown operator"
	}
	var b strings.Builder
	fmt.Fprintf(&b, ":rotating_light: Rollback of %s by %s: %s", what, by, verdict)
	for _, t := range targets {
		b.WriteString("\n• " + slackEscape(t.Namespace+"/"+t.Name) + ": ")
		switch {
		case !t.OK:
			b.WriteString("not rolled back: " + slackEscape(slackClip(t.Error, 300)))
			if t.FromImage != "" {
				b.WriteString(" (still `" + slackEscape(t.FromImage) + "`)")
			}
		case t.Unchanged != "":
			b.WriteString(slackEscape(t.Unchanged))
			if t.ToImage != "" {
				b.WriteString(" (`" + slackEscape(t.ToImage) + "`)")
			}
		default:
			fmt.Fprintf(&b, "`%s` → `%s`", slackEscape(t.FromImage), slackEscape(t.ToImage))
			if t.FromRevision > 0 || t.ToRevision > 0 {
				fmt.Fprintf(&b, " (revision %d → %d)", t.FromRevision, t.ToRevision)
			}
		}
		if t.Resumed {
			b.WriteString(", resumed")
		}
	}
	if len(targets) == 0 {
		// Nothing per deployment: the rollback failed before touching any.
		why := n.Outcome.Result.Summary
		if n.Outcome.Err != nil {
			why = n.Outcome.Err.Error()
		}
		if why != "" {
			b.WriteString("\n" + slackEscape(slackClip(why, 300)))
		}
	}
	return b.String()
}

// slackEscape escapes the three characters Slack's mrkdwn reserves, so a
// name with < or & shows as written instead of as a broken link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slackClip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
