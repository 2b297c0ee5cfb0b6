package sources_test

import (
	"strings"
	"testing"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sources"
)

// TestProbeSlackMalformedWebhook: a webhook that cannot be Slack's is
// refused before anything is dialled, and the error never shows the URL,
// whose path is the credential.
func TestProbeSlackMalformedWebhook(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://hooks.slack.com/services/T0/B0/s3cr3t", "not https://"},
		{"https://hooks.slack.com/services/T0/s3cr3t", "not an incoming webhook"},
		{"https://acme.slack.com/services/T0/B0/s3cr3t", "not an incoming webhook"},
		{"https://hooks.slack.com/messages/T0/B0/s3cr3t", "not an incoming webhook"},
		{"https://relay.acme.test", "has no path"},
		{"https://user:s3cr3t@relay.acme.test/hook", "user name"},
		{"http://relay.acme.test/hook/s3cr3t", "not https://"},
	} {
		s := &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK", c.url)}
		r := sources.ProbeSlack(probeCtx(t), s)
		if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) || !strings.Contains(r.Err.Error(), "env:SLACK_WEBHOOK") {
			t.Errorf("%s: error %v, want one saying %q about env:SLACK_WEBHOOK", c.url, r.Err, c.want)
			continue
		}
		if strings.Contains(r.Err.Error()+r.Fix+r.Target, "s3cr3t") {
			t.Errorf("%s: the check shows the secret: %+v", c.url, r)
		}
		if r.Fix == "" {
			t.Errorf("%s: no fix", c.url)
		}
	}
}
