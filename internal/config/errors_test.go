package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// minimal is the smallest valid config. Tests append to it.
const minimal = `[deploy]
name = "Test deploy"
environment = "staging"

[window]
start = "09:00"
end = "12:30"
timezone = "Europe/London"

[[phase]]
name = "Main"

[[phase.step]]
title = "Do it"
estimate = "5m"
`

// lineOf returns the 1-based line of the first line of doc containing mark.
func lineOf(t *testing.T, doc, mark string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, mark) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in document", mark)
	return 0
}

func noEnv(string) string { return "" }

// parseErrs parses doc, which must fail, and returns its errors.
func parseErrs(t *testing.T, doc string, opts LoadOptions) Errors {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	c, err := Parse("test.toml", []byte(doc), opts)
	if err == nil {
		t.Fatalf("Parse succeeded, want errors; config: %+v", c)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	return errs
}

func mustParse(t *testing.T, doc string, opts LoadOptions) *Config {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	c, err := Parse("test.toml", []byte(doc), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// wantErr finds the error for key and checks its line and that its text
// contains every fragment.
func wantErr(t *testing.T, errs Errors, key string, line int, fragments ...string) *Error {
	t.Helper()
	for _, e := range errs {
		if e.Key != key {
			continue
		}
		if e.Line != line {
			t.Errorf("%s: error at line %d, want %d: %v", key, e.Line, line, e)
		}
		if e.File != "test.toml" || e.Col < 1 {
			t.Errorf("%s: bad file or column: %v", key, e)
		}
		for _, f := range fragments {
			if !strings.Contains(e.Error(), f) {
				t.Errorf("%s: error %q does not contain %q", key, e.Error(), f)
			}
		}
		return e
	}
	t.Fatalf("no error for key %s; got:\n%v", key, errs)
	return nil
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "config.example.toml", Line: 42, Col: 1, Key: "phase[1].step[3].estimat", Msg: "unknown key", Hint: `did you mean "estimate"?`}
	want := `config.example.toml:42:1: phase[1].step[3].estimat: unknown key (did you mean "estimate"?)`
	if got := e.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	errs := Errors{e, {File: "f", Line: 1, Col: 2, Key: "k", Msg: "m"}}
	if got := errs.Error(); got != want+"\nf:1:2: k: m" {
		t.Fatalf("Errors.Error() = %q", got)
	}
	var target *Error
	if !errors.As(error(errs), &target) {
		t.Fatal("errors.As cannot reach an *Error inside Errors")
	}
}

func TestUnknownKey(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Second"
estimat = "5m" # HERE
`
	errs := parseErrs(t, doc, LoadOptions{})
	e := wantErr(t, errs, "phase[0].step[1].estimat", lineOf(t, doc, "# HERE"), "unknown key", `did you mean "estimate"?`)
	if e.Col != 1 {
		t.Errorf("column %d, want 1 (the key)", e.Col)
	}
	// The typo explains the missing estimate; one error is enough.
	if len(errs) != 1 {
		t.Errorf("want only the unknown-key error, got:\n%v", errs)
	}
}

func TestUnknownSection(t *testing.T) {
	doc := minimal + `
[kubernets] # HERE
namespaces = ["production"]
`
	errs := parseErrs(t, doc, LoadOptions{})
	e := wantErr(t, errs, "kubernets", lineOf(t, doc, "# HERE"), "unknown section", `did you mean "kubernetes"?`)
	if e.Col != 1 {
		t.Errorf("column %d, want 1", e.Col)
	}
}

func TestUnknownTopLevelKeyListsAllowed(t *testing.T) {
	doc := "zzz = 1 # HERE\n" + minimal
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "zzz", 1, "unknown key", "allowed at the top level: deploy, window")
}

func TestWrongType(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = 5 # HERE
estimate = "1m"

[jira]
url = "https://acme.atlassian.net"
email = "a@acme.com"
token = "env:JIRA_TOKEN"
board = "12" # BOARD
project = "VET"
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	e := wantErr(t, errs, "phase[0].step[1].title", lineOf(t, doc, "# HERE"), "expected a string, found an integer", `quote it: title = "5"`)
	if e.Col != 9 {
		t.Errorf("column %d, want 9 (the value)", e.Col)
	}
	// Decoding carried on past the first type error.
	wantErr(t, errs, "jira.board", lineOf(t, doc, "# BOARD"), "expected a whole number, found a string", "remove the quotes: board = 12")
	// The malformed title is not reported a second time as missing.
	if len(errs) != 2 {
		t.Errorf("want 2 errors, got:\n%v", errs)
	}
}

func TestWrongTypeList(t *testing.T) {
	doc := minimal + `
[kubernetes]
namespaces = "production" # HERE
selector = "app=api"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "kubernetes.namespaces", lineOf(t, doc, "# HERE"), "expected a list of strings", `write a list: namespaces = ["production"]`)
}

func TestBadDuration(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Words"
estimate = "5 minutes" # WORDS

[[phase.step]]
title = "Bare number"
estimate = 5 # BARE

[[phase.step]]
title = "Zero"
estimate = "0s" # ZERO
`
	errs := parseErrs(t, doc, LoadOptions{})
	e := wantErr(t, errs, "phase[0].step[1].estimate", lineOf(t, doc, "# WORDS"), `bad duration "5 minutes"`, `use e.g. "5m"`)
	if e.Col != 12 {
		t.Errorf("column %d, want 12", e.Col)
	}
	wantErr(t, errs, "phase[0].step[2].estimate", lineOf(t, doc, "# BARE"), "duration 5 has no unit", `quote it with a unit, e.g. estimate = "5m"`)
	wantErr(t, errs, "phase[0].step[3].estimate", lineOf(t, doc, "# ZERO"), "estimate must be more than 0")
	if len(errs) != 3 {
		t.Errorf("want 3 errors, got:\n%v", errs)
	}
}

func TestDurationHint(t *testing.T) {
	for in, want := range map[string]string{
		"5 minutes":  `use e.g. "5m"`,
		"90 secs":    `use e.g. "90s"`,
		"1 hour":     `use e.g. "1h"`,
		"2 days":     `use hours, e.g. "48h"`,
		"30":         `add a unit, e.g. "30s" or "30m"`,
		"fortnight":  `use e.g. "90s", "5m" or "1h30m"`,
		"1.5 hrs":    `use e.g. "1.5h"`,
		"10 Minutes": `use e.g. "10m"`,
	} {
		if got := durationHint(in); got != want {
			t.Errorf("durationHint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadTimeZone(t *testing.T) {
	doc := strings.Replace(minimal, `timezone = "Europe/London"`, `timezone = "Europe/Londn" # HERE`, 1)
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.timezone", lineOf(t, doc, "# HERE"), `unknown time zone "Europe/Londn"`, `did you mean "Europe/London"?`)

	doc = strings.Replace(minimal, `timezone = "Europe/London"`, `timezone = "GMT" # HERE`, 1)
	errs = parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.timezone", lineOf(t, doc, "# HERE"), "ignores daylight saving", `"Europe/London"`)
}

func TestBadHHMM(t *testing.T) {
	doc := strings.Replace(minimal, `start = "09:00"`, `start = "9.00" # HERE`, 1)
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.start", lineOf(t, doc, "# HERE"), `bad time "9.00"`, `HH:MM`)

	doc = strings.Replace(minimal, `end = "12:30"`, `end = "25:00" # HERE`, 1)
	errs = parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.end", lineOf(t, doc, "# HERE"), `bad time "25:00"`)

	doc = strings.Replace(minimal, `end = "12:30"`, `end = "01:00" # HERE`, 1)
	errs = parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.end", lineOf(t, doc, "# HERE"), "not after it starts", "may not cross midnight")

	// An unquoted time is a TOML local time, not a string.
	doc = strings.Replace(minimal, `start = "09:00"`, `start = 09:00 # HERE`, 1)
	errs = parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "window.start", lineOf(t, doc, "# HERE"), "expected a string, found a date or time", `quote it: start = "09:00"`)
}

func TestMissingRequiredKey(t *testing.T) {
	doc := minimal + `
[[phase.step]] # STEP
title = "No estimate"

[sentry] # SENTRY
projects = ["api"]
token = "env:SENTRY_TOKEN"
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	e := wantErr(t, errs, "phase[0].step[1].estimate", lineOf(t, doc, "# STEP"), `missing required key "estimate"`, `add estimate = "5m"`)
	if e.Col != 1 {
		t.Errorf("column %d, want 1 (the header)", e.Col)
	}
	wantErr(t, errs, "sentry.org", lineOf(t, doc, "# SENTRY"), `missing required key "org"`)
}

func TestMissingSections(t *testing.T) {
	errs := parseErrs(t, "[[phase]]\nname = \"x\"\n[[phase.step]]\ntitle = \"t\"\nestimate = \"1m\"\n", LoadOptions{})
	wantErr(t, errs, "deploy", 1, "missing [deploy] section")
	wantErr(t, errs, "window", 1, "missing [window] section")

	errs = parseErrs(t, strings.Split(minimal, "[[phase]]")[0], LoadOptions{})
	wantErr(t, errs, "phase", 1, "no phases")
}

func TestOptionalSectionsMayBeAbsent(t *testing.T) {
	c := mustParse(t, minimal, LoadOptions{})
	for _, s := range c.Sources() {
		if s.Configured || s.Line != 0 {
			t.Errorf("%s configured in a config without it", s.Section)
		}
	}
}

func TestGateErrors(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Typo"
estimate = "1m"
gate = "rollout.compete" # TYPO

[[phase.step]]
title = "No unit"
estimate = "1m"
gate = "locks.max_wait < 30" # UNIT

[[phase.step]]
title = "Bool compared"
estimate = "1m"
gate = "jira.columns_clean == 1" # BOOL
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].gate", lineOf(t, doc, "# TYPO"), `unknown gate "rollout.compete" (did you mean "rollout.complete"?)`)
	wantErr(t, errs, "phase[0].step[2].gate", lineOf(t, doc, "# UNIT"), `bad duration "30" in gate "locks.max_wait < 30": add a unit, e.g. 30s`)
	wantErr(t, errs, "phase[0].step[3].gate", lineOf(t, doc, "# BOOL"), `takes no comparison`)
}

func TestGateNeedsItsSource(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Locks"
estimate = "1m"
gate = "locks.max_hold < 30s" # HERE
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].gate", lineOf(t, doc, "# HERE"), "reads from postgres, but there is no [postgres] section")
}

const slackSection = `
[slack]
webhook = "env:SLACK_WEBHOOK"
channel = "#general"
`

func TestActionErrors(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Typo"
estimate = "1m"
action = "slack.notfy" # ACTION

[[phase.step]]
title = "Bad arg"
estimate = "1m"
action = "slack.notify"
args = { txt = "hello" } # ARG

[[phase.step]]
title = "Needs kubernetes"
estimate = "1m"
action = "kube.rollback" # NEEDS

[[phase.step]]
title = "Args without action"
estimate = "1m"
args = { a = "b" } # NOACTION
` + slackSection
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "phase[0].step[1].action", lineOf(t, doc, "# ACTION"), `unknown action "slack.notfy"`, `did you mean "slack.notify"?`)
	e := wantErr(t, errs, "phase[0].step[2].args.txt", lineOf(t, doc, "# ARG"), `unknown arg "txt" for action slack.notify`, `did you mean "text"?`)
	if e.Col != 10 {
		t.Errorf("column %d, want 10 (the arg's key)", e.Col)
	}
	wantErr(t, errs, "phase[0].step[2].args.text", lineOf(t, doc, "# ARG"), "action slack.notify needs args.text")
	wantErr(t, errs, "phase[0].step[3].action", lineOf(t, doc, "# NEEDS"), "action kube.rollback needs a [kubernetes] section")
	wantErr(t, errs, "phase[0].step[4].args", lineOf(t, doc, "# NOACTION"), "args only apply to action steps")
}

func TestOneKindPerStep(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Both"
estimate = "1m"
command = "true"
gate = "rollout.complete" # HERE
timeout = "1m"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].gate", lineOf(t, doc, "# HERE"), "has both command and gate", "split it into two steps")
}

func TestUnknownTemplateVariable(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Clone"
estimate = "1m"
command = "gcloud sql instances clone prod prod-clone-{{dat}}" # HERE

[[phase.step]]
title = "Quoted"
estimate = "1m"
command = "git commit -m 'deploy {{release}}'" # QUOTED

[[phase.step]]
title = "Unclosed"
estimate = "1m"
notes = "see {{date" # UNCLOSED
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].command", lineOf(t, doc, "# HERE"), "unknown template variable {{dat}}", "did you mean {{date}}?")
	wantErr(t, errs, "phase[0].step[2].command", lineOf(t, doc, "# QUOTED"), "{{release}} is inside quotes")
	wantErr(t, errs, "phase[0].step[3].notes", lineOf(t, doc, "# UNCLOSED"), "never closed")
}

func TestTemplateVariablesInOtherPlaces(t *testing.T) {
	doc := strings.Replace(minimal, `environment = "staging"`, `environment = "staging"
release = "{{release}}-1" # RELEASE`, 1) + `
[vars]
date = "x" # SHADOW
clone = "db-{{date}}"
bad = "{{clone}}" # NESTED
` + slackSection + `
[[postgres.target]]
name = "p"
dsn = "host=db-{{clone}} dbname={{databse}}" # DSN
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "deploy.release", lineOf(t, doc, "# RELEASE"), "unknown template variable {{release}}", "not available here")
	wantErr(t, errs, "vars.date", lineOf(t, doc, "# SHADOW"), "{{date}} is built in")
	wantErr(t, errs, "vars.bad", lineOf(t, doc, "# NESTED"), "unknown template variable {{clone}}")
	wantErr(t, errs, "postgres.target[0].dsn", lineOf(t, doc, "# DSN"), "unknown template variable {{databse}}")
}

func TestDuplicateStepID(t *testing.T) {
	doc := minimal + `
[[phase.step]] # FIRST
id = "main/clone"
title = "Clone"
estimate = "1m"

[[phase]]
name = "Other"

[[phase.step]]
id = "main/clone" # SECOND
title = "Clone again"
estimate = "1m"
`
	errs := parseErrs(t, doc, LoadOptions{})
	e := wantErr(t, errs, "phase[1].step[0].id", lineOf(t, doc, "# SECOND"), `duplicate step id "main/clone"`)
	if first := lineOf(t, doc, "# FIRST"); !strings.Contains(e.Msg, "line "+strconv.Itoa(first)) {
		t.Errorf("error %q does not name line %d of the other step", e.Msg, first)
	}
}

func TestDuplicateDefaultStepID(t *testing.T) {
	doc := minimal + `
[[phase.step]] # HERE
title = "Do it"
estimate = "1m"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].id", lineOf(t, doc, "# HERE"), `duplicate step id "main/do-it"`, "same title")
}

const jiraSection = `
[jira]
url = "https://acme.atlassian.net"
email = "deployer@acme.com"
token = "env:JIRA_TOKEN" # TOKEN
board = 12
project = "VET"
`

func TestMissingSecretEnvVar(t *testing.T) {
	doc := minimal + jiraSection
	errs := parseErrs(t, doc, LoadOptions{Getenv: noEnv})
	e := wantErr(t, errs, "jira.token", lineOf(t, doc, "# TOKEN"), "environment variable JIRA_TOKEN is not set", "export JIRA_TOKEN=...")
	if e.Col != 9 {
		t.Errorf("column %d, want 9", e.Col)
	}
	// SkipSecrets loads the same file without the variable.
	mustParse(t, doc, LoadOptions{Getenv: noEnv, SkipSecrets: true})
}

// TestDeferredSecretErrors: the cockpit loads with DeferSecretErrors so a
// missing token takes down only its own system, with the same positioned
// error, while the rest of the cockpit opens.
func TestDeferredSecretErrors(t *testing.T) {
	doc := minimal + jiraSection
	cfg := mustParse(t, doc, LoadOptions{Getenv: noEnv, DeferSecretErrors: true})
	errs := cfg.SecretErrors["jira"]
	if len(errs) != 1 {
		t.Fatalf("jira secret errors = %v, want one", errs)
	}
	e := errs[0]
	if e.Key != "jira.token" || e.Line != lineOf(t, doc, "# TOKEN") || !strings.Contains(e.Error(), "JIRA_TOKEN is not set") {
		t.Fatalf("deferred error = %v", e)
	}
	if cfg.Jira.Token.Resolved() {
		t.Fatal("an unresolved token must not look resolved")
	}
	if len(cfg.SecretErrors) != 1 {
		t.Fatalf("other sections affected: %v", cfg.SecretErrors)
	}
}

func TestLiteralSecret(t *testing.T) {
	const literal = "ATATT3xFfGF0-literal-token"
	doc := minimal + strings.Replace(jiraSection, "env:JIRA_TOKEN", literal, 1)
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "jira.token", lineOf(t, doc, "# TOKEN"), "secrets are references: write env:NAME, file:PATH or cmd:COMMAND")
	if strings.Contains(errs.Error(), literal) {
		t.Fatalf("the error repeats the secret: %v", errs)
	}
}

func TestPasswordInDSN(t *testing.T) {
	doc := minimal + `
[[postgres.target]]
name = "production"
dsn = "postgres://deploy:hunter2@db.internal/app" # HERE
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "postgres.target[0].dsn", lineOf(t, doc, "# HERE"), "contains a password", `password = "env:PGPASSWORD_PRODUCTION"`)
	if strings.Contains(errs.Error(), "hunter2") {
		t.Fatalf("the error repeats the password: %v", errs)
	}
}

func TestJiraSprintField(t *testing.T) {
	doc := minimal + jiraSection + "sprint_field = \"10021\" # FIELD\n"
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "jira.sprint_field", lineOf(t, doc, "# FIELD"), `"10021" is not a custom field id`, `sprint_field = "customfield_10021"`)

	cfg := mustParse(t, minimal+jiraSection+"sprint_field = \"customfield_10021\"\n", LoadOptions{SkipSecrets: true})
	if cfg.Jira.SprintField != "customfield_10021" {
		t.Errorf("sprint_field = %q", cfg.Jira.SprintField)
	}
}

func TestJiraColumnsAndMoves(t *testing.T) {
	doc := minimal + jiraSection + `
[[jira.column]]
name = "Staging"
merged_to = "stagng" # BRANCH

[[jira.column]]
name = "Production"

[[jira.move]]
from = ["Stagin"] # FROM
to = "Production"

[git]
repo = "."
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	wantErr(t, errs, "jira.column[0].merged_to", lineOf(t, doc, "# BRANCH"), `branch "stagng" is not in [git] branches`, `did you mean "staging"?`)
	wantErr(t, errs, "jira.move[0].from[0]", lineOf(t, doc, "# FROM"), `unknown column "Stagin"`, `did you mean "Staging"?`)
}

func TestSentryIgnoreRegexp(t *testing.T) {
	doc := minimal + `
[sentry]
org = "acme"
projects = ["api"]
token = "env:SENTRY_TOKEN"
ignore = [
  '^DBConnection',
  '^Timeout(', # HERE
]
`
	errs := parseErrs(t, doc, LoadOptions{SkipSecrets: true})
	e := wantErr(t, errs, "sentry.ignore[1]", lineOf(t, doc, "# HERE"), "bad regular expression")
	if e.Col != 3 {
		t.Errorf("column %d, want 3", e.Col)
	}
}

func TestSyntaxError(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = Unquoted title # HERE
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].title", lineOf(t, doc, "# HERE"), "TOML syntax error", "strings need quotes")
}

func TestSingleBracketList(t *testing.T) {
	doc := minimal + `
[phase.step] # HERE
title = "Second"
estimate = "1m"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step", lineOf(t, doc, "# HERE"), "[phase.step] is a list of sections", "write [[phase.step]]")
	if len(errs) != 1 {
		t.Errorf("want one error, got:\n%v", errs)
	}
}

func TestDuplicateKey(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "One"
title = "Two" # HERE
estimate = "1m"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].title", lineOf(t, doc, "# HERE"), "already set above")
}

// TestAllProblemsAtOnce checks that one load reports problems of every
// stage: decoding, unknown keys, validation and secrets, sorted by line.
func TestAllProblemsAtOnce(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "A"
estimate = 3 # A

[[phase.step]]
title = 7 # B
estimate = "1m"
gate = "rollout.complete"

[[phase.step]]
titel = "C" # C
estimate = "1m"
` + jiraSection
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].estimate", lineOf(t, doc, "# A"))
	wantErr(t, errs, "phase[0].step[2].title", lineOf(t, doc, "# B"))
	wantErr(t, errs, "phase[0].step[2].gate", lineOf(t, doc, "# B")+2, "no [kubernetes] section")
	wantErr(t, errs, "phase[0].step[3].titel", lineOf(t, doc, "# C"), `did you mean "title"?`)
	wantErr(t, errs, "jira.token", lineOf(t, doc, "# TOKEN"))
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Fatalf("errors not sorted by line:\n%v", errs)
		}
	}
	if len(errs) != 5 {
		t.Errorf("want 5 errors, got %d:\n%v", len(errs), errs)
	}
}

func TestPostgresPollHasAFloor(t *testing.T) {
	doc := minimal + `
[postgres]
poll = "10ms" # FAST
[[postgres.target]]
name = "production"
dsn = "host=db dbname=app"
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "postgres.poll", lineOf(t, doc, "# FAST"), "poll must be at least 250ms")
}

// TestDeployEnvErrors: [deploy.env] takes variable names and templates, and
// refuses a password put there instead of in the tool's own file.
func TestDeployEnvErrors(t *testing.T) {
	doc := strings.Replace(minimal, "[window]", `[deploy.env]
PGPASSFILE = "{{nope}}/pgpass"
PGPASSWORD = "hunter2"
"BAD-NAME" = "x"

[window]`, 1)
	errs := parseErrs(t, doc, LoadOptions{})
	want := map[string]string{
		"deploy.env.PGPASSFILE": "unknown template variable {{nope}}",
		"deploy.env.PGPASSWORD": "would put a secret in the config",
		"deploy.env.BAD-NAME":   "is not an environment variable name",
	}
	for key, msg := range want {
		found := false
		for _, e := range errs {
			if e.Key == key && strings.Contains(e.Msg, msg) {
				found = true
				if e.Line != lineOf(t, doc, strings.TrimPrefix(strings.Trim(key[len("deploy.env."):], `"`), "")) {
					t.Errorf("%s: line %d", key, e.Line)
				}
			}
		}
		if !found {
			t.Errorf("no error %q on %s in %v", msg, key, errs)
		}
	}
	ok := mustParse(t, strings.Replace(minimal, "[window]", "[deploy.env]\nPGPASSFILE = \"/etc/flightdeck/pgpass\"\n\n[window]", 1), LoadOptions{Getenv: noEnv})
	if ok.Deploy.Env["PGPASSFILE"] != "/etc/flightdeck/pgpass" {
		t.Errorf("env = %v", ok.Deploy.Env)
	}
}
