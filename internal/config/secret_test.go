package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// secretDoc is a config with every kind of secret, written to dir so that
// relative file: paths resolve against it.
func secretDoc(t *testing.T, dir, jiraToken, slackWebhook string) string {
	t.Helper()
	doc := minimal + fmt.Sprintf(`
[jira]
url = "https://acme.atlassian.net"
email = "deployer@acme.com"
token = %q # JIRA
board = 12
project = "VET"

[slack]
webhook = %q # SLACK
channel = "#general"
`, jiraToken, slackWebhook)
	path := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecretEnv(t *testing.T) {
	path := secretDoc(t, t.TempDir(), "env:JIRA_TOKEN", "env:SLACK_WEBHOOK")
	c, err := Load(path, LoadOptions{Getenv: envMap(map[string]string{
		"JIRA_TOKEN":    "jira-token-value",
		"SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/xyz",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Jira.Token.Value(); got != "jira-token-value" {
		t.Errorf("jira token = %q", got)
	}
	if got := c.Slack.Webhook.Value(); got != "https://hooks.slack.com/services/T0/B0/xyz" {
		t.Errorf("webhook = %q", got)
	}
	if !c.Jira.Token.IsSet() || !c.Jira.Token.Resolved() {
		t.Error("token not set/resolved")
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jira.token"), []byte("from-relative-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "webhook"), []byte("https://hooks.example/abc\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := secretDoc(t, dir, "file:jira.token", "file:~/webhook")
	// Load from another directory: relative paths follow the config file.
	t.Chdir(t.TempDir())
	c, err := Load(path, LoadOptions{Getenv: envMap(map[string]string{"HOME": home})})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Jira.Token.Value(); got != "from-relative-file" {
		t.Errorf("file secret = %q", got)
	}
	if got := c.Slack.Webhook.Value(); got != "https://hooks.example/abc" {
		t.Errorf("~ file secret = %q", got)
	}
}

func TestSecretFileMissing(t *testing.T) {
	dir := t.TempDir()
	path := secretDoc(t, dir, "file:nope.token", "env:SLACK_WEBHOOK")
	_, err := Load(path, LoadOptions{Getenv: envMap(map[string]string{"SLACK_WEBHOOK": "https://x/y"})})
	if err == nil || !strings.Contains(err.Error(), "cannot read secret file "+filepath.Join(dir, "nope.token")) {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretCmd(t *testing.T) {
	path := secretDoc(t, t.TempDir(), "cmd:printf '  from-command\\n'", "cmd:echo https://hooks.example/cmd")
	c, err := Load(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Jira.Token.Value(); got != "from-command" {
		t.Errorf("cmd secret = %q", got)
	}
	if got := c.Slack.Webhook.Value(); got != "https://hooks.example/cmd" {
		t.Errorf("cmd secret = %q", got)
	}
}

func TestSecretCmdFails(t *testing.T) {
	path := secretDoc(t, t.TempDir(), "cmd:echo 'vault is sealed' >&2; exit 3", "cmd:true")
	_, err := Load(path, LoadOptions{})
	var errs Errors
	if err == nil || !asErrors(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	doc, _ := os.ReadFile(path)
	e := findKey(t, errs, "jira.token")
	if e.Line != lineOf(t, string(doc), "# JIRA") {
		t.Errorf("line %d", e.Line)
	}
	for _, want := range []string{"secret command failed: exit status 3", "vault is sealed"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q does not contain %q", e.Error(), want)
		}
	}
	e = findKey(t, errs, "slack.webhook")
	if !strings.Contains(e.Msg, "printed nothing") {
		t.Errorf("empty output: %v", e)
	}
}

func TestSecretCmdTimeout(t *testing.T) {
	old := secretTimeout
	secretTimeout = 200 * time.Millisecond
	t.Cleanup(func() { secretTimeout = old })
	path := secretDoc(t, t.TempDir(), "cmd:sleep 5", "cmd:echo ok-webhook")
	start := time.Now()
	_, err := Load(path, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "secret command timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s: the timeout did not stop the command", d)
	}
}

func TestSecretRefForms(t *testing.T) {
	for ref, want := range map[string]string{
		"env:":              "empty env: reference",
		"env:NOT-A-NAME":    "is not an environment variable name",
		"cmd:  ":            "empty cmd: reference",
		"file:":             "empty file: reference",
		"hunter2":           "secrets are references",
		"https://hooks.x/y": "secrets are references",
	} {
		err := checkRef(ref)
		if err == nil || !strings.Contains(err.msg, want) {
			t.Errorf("checkRef(%q) = %v, want %q", ref, err, want)
		}
	}
	for _, ref := range []string{"env:JIRA_TOKEN", "file:~/x", "cmd:op read op://a/b"} {
		if err := checkRef(ref); err != nil {
			t.Errorf("checkRef(%q) = %v", ref, err)
		}
	}
}

func TestSecretNeverPrintsValue(t *testing.T) {
	s := ResolvedSecret("env:JIRA_TOKEN", "super-secret-value")
	type holder struct{ Token Secret }
	h := holder{s}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", s, "holder", h)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprintf("%v", &h), buf.String(),
	} {
		if strings.Contains(out, "super-secret-value") {
			t.Errorf("value leaked: %s", out)
		}
		if !strings.Contains(out, "env:JIRA_TOKEN") {
			t.Errorf("reference missing: %s", out)
		}
	}
	if s.Value() != "super-secret-value" {
		t.Error("Value")
	}
}

func TestRedactor(t *testing.T) {
	path := secretDoc(t, t.TempDir(), "env:JIRA_TOKEN", "env:SLACK_WEBHOOK")
	c, err := Load(path, LoadOptions{Getenv: envMap(map[string]string{
		"JIRA_TOKEN":    "jira+token/value",
		"SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/xyz",
	})})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redactor()
	if r.Secrets() != 2 {
		t.Errorf("Secrets() = %d, want 2", r.Secrets())
	}
	basic := base64.StdEncoding.EncodeToString([]byte("deployer@acme.com:jira+token/value"))
	in := "token=jira+token/value url=https://hooks.slack.com/services/T0/B0/xyz " +
		"Authorization: Basic " + basic + " query=jira%2Btoken%2Fvalue"
	got := r.Redact(in)
	want := "token=[redacted:env:JIRA_TOKEN] url=[redacted:env:SLACK_WEBHOOK] " +
		"Authorization: Basic [redacted:env:JIRA_TOKEN] query=[redacted:env:JIRA_TOKEN]"
	if got != want {
		t.Errorf("Redact:\n got %q\nwant %q", got, want)
	}
	if s := r.Redact("nothing secret here"); s != "nothing secret here" {
		t.Errorf("Redact changed clean text: %q", s)
	}

	var nilR *Redactor
	if nilR.Redact("x") != "x" || nilR.Secrets() != 0 {
		t.Error("nil Redactor")
	}
}

func TestRedactorSkipsShortAndUnresolved(t *testing.T) {
	c := &Config{
		Jira:  &Jira{Token: ResolvedSecret("env:T", "abc")},
		Slack: &Slack{Webhook: Secret{Ref: "env:W"}},
	}
	r := c.Redactor()
	if r.Secrets() != 0 || r.Redact("abc def") != "abc def" {
		t.Errorf("short or unresolved secrets redacted: %d", r.Secrets())
	}
}

func asErrors(err error, target *Errors) bool {
	es, ok := err.(Errors)
	*target = es
	return ok
}

func findKey(t *testing.T, errs Errors, key string) *Error {
	t.Helper()
	for _, e := range errs {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("no error for %s in:\n%v", key, errs)
	return nil
}
