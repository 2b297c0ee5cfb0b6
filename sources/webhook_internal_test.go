package sources

import (
	"net/url"
	"testing"
)

// Slack's own shapes, a relay of one's own over https, and a loopback
// receiver over plain http (the sandbox's) are well formed.
func TestWebhookWellFormedShapes(t *testing.T) {
	for _, raw := range []string{
		"https://hooks.slack.com/services/T0/B0/s3cr3t",
		"https://hooks.slack.com/triggers/T0/123/s3cr3t",
		"https://hooks.slack-gov.com/services/T0/B0/s3cr3t",
		"https://relay.acme.test/slack/deploys",
		"http://127.0.0.1:40563/services/sandbox/webhook",
		"http://localhost:8080/hook",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if p := webhookProblem(u); p != "" {
			t.Errorf("%s: %s", raw, p)
		}
	}
}
