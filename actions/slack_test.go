package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

// slackSink is an incoming webhook: it answers as Slack does and keeps
// what it was sent.
type slackSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	paths  []string
	status int
	answer string
}

func newSlackSink(t *testing.T) *slackSink {
	t.Helper()
	s := &slackSink{status: http.StatusOK, answer: "ok"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &m) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, m)
		s.paths = append(s.paths, r.URL.Path)
		status, answer := s.status, s.answer
		s.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackSink) got() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

const hookPath = "/services/T0FLIGHT/B0DECK/s3cr3tHookToken"

func slackCfg(s *slackSink) (*config.Config, *config.Slack) {
	sl := &config.Slack{Webhook: config.ResolvedSecret("env:SLACK_WEBHOOK_URL", s.URL+hookPath), Channel: "#general", IncidentChannel: "#dev-ops"}
	return &config.Config{Slack: sl}, sl
}

func TestSlackNotifyDelivers(t *testing.T) {
	sink := newSlackSink(t)
	_, sl := slackCfg(sink)
	a := actions.NewSlackNotify(sl, "", "Deployment of *2026.11.23* to production successful :rocket:", "post/announce")
	p, err := a.Preview(context.Background())
	if err != nil || p.Title != "Post to #general on Slack" || strings.Contains(strings.Join(p.Lines, " "), "s3cr3t") {
		t.Fatalf("preview %+v, %v", p, err)
	}
	res, err := a.Run(context.Background())
	if err != nil || !res.OK || res.Summary != "posted to #general" {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	got := sink.got()
	want := map[string]any{"text": "Deployment of *2026.11.23* to production successful :rocket:", "channel": "#general"}
	if len(got) != 1 || len(got[0]) != 2 || got[0]["text"] != want["text"] || got[0]["channel"] != want["channel"] || sink.paths[0] != hookPath {
		t.Fatalf("delivered %v to %v, want %v", got, sink.paths, want)
	}

	// A step's channel overrides the default.
	if _, err := actions.NewSlackNotify(sl, "#releases", "hi", "").Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); got[1]["channel"] != "#releases" {
		t.Errorf("channel %v", got[1]["channel"])
	}
}

// TestSlackFailureIsJournaled: Slack refusing the message is an error the
// runner records, and neither the error nor the record holds the webhook.
func TestSlackFailureIsJournaled(t *testing.T) {
	sink := newSlackSink(t)
	cfg, sl := slackCfg(sink)
	sink.status, sink.answer = http.StatusNotFound, "channel_not_found"
	j := openNotifyJournal(t, cfg.Redactor().Redact)
	r := &actions.Runner{Journal: j, By: "maria"}
	out := r.Execute(context.Background(), "a1", actions.NewSlackNotify(sl, "#nowhere", "hello", "post/announce"), "post to #nowhere", 5*time.Second)
	if out.Err == nil || out.Result.OK || !strings.Contains(out.Err.Error(), "no channel #nowhere") || !strings.Contains(out.Err.Error(), "404") {
		t.Fatalf("outcome %+v", out)
	}
	recs := readNotifyJournal(t, j)
	last := recs[len(recs)-1]
	if last.Type != runbook.RecResult || last.Kind != actions.KindSlackNotify || last.OK == nil || *last.OK || !strings.Contains(last.Error, "channel_not_found") {
		t.Fatalf("journaled %+v", last)
	}
	var d actions.SlackResult
	if err := json.Unmarshal(last.Data, &d); err != nil || d.Status != 404 || d.Answer != "channel_not_found" || d.Text != "hello" {
		t.Errorf("detail %s (%v)", last.Data, err)
	}

	// Unreachable: the error names the secret's reference, never its value.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	sl.Webhook = config.ResolvedSecret("env:SLACK_WEBHOOK_URL", dead.URL+hookPath)
	cfg.Slack = sl
	j = openNotifyJournal(t, nil)
	r.Journal = j
	out = r.Execute(context.Background(), "a2", actions.NewSlackNotify(sl, "", "hello", ""), "post", 5*time.Second)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "could not reach Slack (webhook in env:SLACK_WEBHOOK_URL)") {
		t.Fatalf("unreachable: %v", out.Err)
	}
	for _, rec := range readNotifyJournal(t, j) {
		b, _ := json.Marshal(rec)
		if strings.Contains(string(b), "s3cr3t") {
			t.Errorf("the webhook reached the journal: %s", b)
		}
	}

	for _, c := range []struct {
		status int
		answer string
		want   string
	}{
		{http.StatusForbidden, "invalid_token", "make a new one and update env:SLACK_WEBHOOK_URL"},
		{http.StatusGone, "channel_is_archived", "#general is archived"},
		{http.StatusInternalServerError, "", "failing on its side"},
	} {
		sink := newSlackSink(t)
		sink.status, sink.answer = c.status, c.answer
		_, sl := slackCfg(sink)
		_, err := actions.NewSlackNotify(sl, "", "x", "").Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%d %s: %v, want %q", c.status, c.answer, err, c.want)
		}
	}
	if _, err := actions.NewSlackNotify(sl, "", "  ", "").Run(context.Background()); err == nil {
		t.Error("an empty message was posted")
	}
}

func rollbackOutcome(t *testing.T, ok bool, err error, targets ...actions.KubeTargetResult) actions.Outcome {
	t.Helper()
	d, jerr := json.Marshal(targets)
	if jerr != nil {
		t.Fatal(jerr)
	}
	return actions.Outcome{ID: "rb1", Kind: actions.KindKubeRollback, Step: "dr/rollback", Err: err,
		Result: actions.Result{OK: ok, Summary: "rolled back", Detail: d}}
}

func TestRollbackAlert(t *testing.T) {
	sink := newSlackSink(t)
	_, sl := slackCfg(sink)
	n := actions.RollbackNotice{Deploy: "Vetspire production deploy", Environment: "production", By: "maria"}

	n.Outcome = rollbackOutcome(t, true, nil,
		actions.KubeTargetResult{Namespace: "production", Name: "api", FromImage: "vetspire/app:v2-bad", ToImage: "vetspire/app:v1", FromRevision: 3, ToRevision: 2, OK: true},
		actions.KubeTargetResult{Namespace: "production", Name: "worker", ToImage: "vetspire/app:v1", Unchanged: "already at revision 2", OK: true})
	a := actions.RollbackAlert(sl, n)
	if a.Kind() != actions.KindSlackRollbackAlert || a.Channel != "#dev-ops" || a.Dangerous() || a.Step() != "" {
		t.Fatalf("alert %+v", a)
	}
	if _, err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := ":rotating_light: Rollback of Vetspire production deploy (production) by maria: succeeded\n" +
		"• production/api: `vetspire/app:v2-bad` → `vetspire/app:v1` (revision 3 → 2)\n" +
		"• production/worker: already at revision 2 (`vetspire/app:v1`)"
	got := sink.got()
	if len(got) != 1 || got[0]["text"] != want || got[0]["channel"] != "#dev-ops" {
		t.Fatalf("delivered %q\nwant      %q", got, want)
	}

	// A partial failure is alerted too, and says what still runs.
	n.Outcome = rollbackOutcome(t, false, errors.New("could not roll back 1 of 2 deployments"),
		actions.KubeTargetResult{Namespace: "production", Name: "api", FromImage: "app:v2-bad", ToImage: "app:v1", FromRevision: 3, ToRevision: 2, OK: true, Resumed: true},
		actions.KubeTargetResult{Namespace: "production", Name: "worker", FromImage: "app:v2-bad", OK: false, Error: "forbidden: deployer cannot patch deployments in production"})
	text := actions.RollbackAlert(sl, n).Text
	for _, w := range []string{"*FAILED for 1 of 2 deployments*", "`app:v2-bad` → `app:v1` (revision 3 → 2), resumed",
		"• production/worker: not rolled back: forbidden: deployer cannot patch deployments in production (still `app:v2-bad`)"} {
		if !strings.Contains(text, w) {
			t.Errorf("partial failure alert lacks %q:\n%s", w, text)
		}
	}

	// Failed before touching anything: the reason is the message.
	n.Outcome = actions.Outcome{Kind: actions.KindKubeRollback, Err: errors.New("no Kubernetes client: check [kubernetes] in the config")}
	text = actions.RollbackAlert(sl, n).Text
	if !strings.Contains(text, "by maria: *FAILED*\nno Kubernetes client") {
		t.Errorf("total failure alert:\n%s", text)
	}

	// Without an incident channel it goes to the default one; names are
	// escaped for mrkdwn.
	sl.IncidentChannel = ""
	n.Deploy = "Q&A <staging>"
	a = actions.RollbackAlert(sl, n)
	if a.Channel != "#general" || !strings.Contains(a.Text, "Q&amp;A &lt;staging&gt;") {
		t.Errorf("channel %s, text %s", a.Channel, a.Text)
	}
}
