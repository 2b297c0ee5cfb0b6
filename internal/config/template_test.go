package config

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"date": "2024-07-01", "release": "release-2024-07-01", "msg": "it's a \"test\""}
	tests := []struct {
		tmpl, want string
		shell      bool
	}{
		{"clone-{{date}}", "clone-2024-07-01", false},
		{"clone-{{ date }}", "clone-2024-07-01", false},
		{"{{release}} on {{date}}", "release-2024-07-01 on 2024-07-01", false},
		{"no vars", "no vars", false},
		{"literal {{{{.ID}}", "literal {{.ID}}", false},
		{"docker ps --format {{{{.ID}}}}", "docker ps --format {{.ID}}}}", false},
		{"echo {{msg}}", `echo 'it'\''s a "test"'`, true},
		{"echo {{date}}", "echo 2024-07-01", true},
		{"echo {{msg}}", `echo it's a "test"`, false},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := Expand(tt.tmpl, vars, tt.shell)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.tmpl, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Expand(%q, shell=%v) = %q, want %q", tt.tmpl, tt.shell, got, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	vars := map[string]string{"date": "2024-07-01", "deploy": "d"}
	for tmpl, want := range map[string]string{
		"clone-{{dat}}":      "unknown template variable {{dat}} (did you mean {{date}}?)",
		"{{zzzzzz}}":         "unknown template variable {{zzzzzz}} (known: {{date}}, {{deploy}})",
		"clone-{{date":       `"{{" at offset 6 is never closed`,
		"{{}}":               "is not a variable name",
		"{{ .Name }}":        "is not a variable name",
		"a {{date}} {{b c}}": "is not a variable name",
	} {
		_, err := Expand(tmpl, vars, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Expand(%q) error = %v, want it to contain %q", tmpl, err, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "''",
		"plain":                "plain",
		"release-2024-07-01":   "release-2024-07-01",
		"a@b%c+d=e:f,g./h_i-j": "a@b%c+d=e:f,g./h_i-j",
		"two words":            "'two words'",
		"it's":                 `'it'\''s'`,
		"$(rm -rf /)":          `'$(rm -rf /)'`,
		"`id`":                 "'`id`'",
		"a\nb":                 "'a\nb'",
		"ünïcode":              "'ünïcode'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestShellQuoteThroughShell runs quoted values through a real shell: what
// the command receives must be exactly the value.
func TestShellQuoteThroughShell(t *testing.T) {
	values := []string{
		"it's a value with spaces",
		`double "quotes" and 'single' ones`,
		"$HOME `id` $(echo injected) ; rm -rf / #",
		"back\\slash and trailing backslash\\",
		"newline\nand\ttab",
		"*glob?[chars]",
		"",
		"'",
		"''",
	}
	for _, v := range values {
		cmd, err := Expand("printf %s {{v}}", map[string]string{"v": v}, true)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("/bin/sh", "-c", cmd).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", cmd, err)
		}
		if string(out) != v {
			t.Errorf("sh -c %q printed %q, want %q", cmd, out, v)
		}
	}
}

func TestQuotedRefs(t *testing.T) {
	for cmd, want := range map[string][]string{
		"git commit -m {{release}}":               nil,
		"git commit -m 'deploy {{release}}'":      {"release"},
		`git commit -m "deploy {{release}}"`:      {"release"},
		`echo "a" {{date}} 'b'`:                   nil,
		`echo \'{{date}}`:                         nil,
		`echo "it's {{date}}"`:                    {"date"},
		`echo 'say "hi"' {{date}} "{{env}}"`:      {"env"},
		"echo \"deploy \"{{release}} {{{{literal": nil,
	} {
		refs, err := scanTemplate(cmd)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range quotedRefs(cmd, refs) {
			got = append(got, r.name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("quotedRefs(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestTemplateVars(t *testing.T) {
	doc := strings.Replace(minimal, `environment = "staging"`, `environment = "production"
release = "release-{{date}}"
operator = "chris"`, 1) + `
[vars]
clone = "vetspire-production-clone-{{date}}"
label = "{{deploy}} {{release}}"
`
	c := mustParse(t, doc, LoadOptions{})
	tests := []struct {
		at   string
		date string
	}{
		// Winter: London is on GMT, so 23:30 UTC is still the same day.
		{"2024-01-15T23:30:00Z", "2024-01-15"},
		// Summer: London is on BST, so 23:30 UTC is already tomorrow.
		{"2024-06-30T23:30:00Z", "2024-07-01"},
		{"2024-06-30T22:59:59Z", "2024-06-30"},
		{"2024-06-30T23:00:00Z", "2024-07-01"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		vars := c.TemplateVars(at)
		if vars["date"] != tt.date {
			t.Errorf("%s: date = %q, want %q", tt.at, vars["date"], tt.date)
		}
		if want := "release-" + tt.date; vars["release"] != want {
			t.Errorf("%s: release = %q, want %q", tt.at, vars["release"], want)
		}
		if want := "vetspire-production-clone-" + tt.date; vars["clone"] != want {
			t.Errorf("%s: clone = %q, want %q", tt.at, vars["clone"], want)
		}
		if want := "Test deploy release-" + tt.date; vars["label"] != want {
			t.Errorf("%s: label = %q, want %q", tt.at, vars["label"], want)
		}
	}
	vars := c.TemplateVars(time.Now())
	if vars["deploy"] != "Test deploy" || vars["env"] != "production" || vars["operator"] != "chris" {
		t.Errorf("builtins wrong: %v", vars)
	}
	cmd, err := Expand("echo {{label}}", vars, true)
	if err != nil || !strings.HasPrefix(cmd, "echo 'Test deploy release-") {
		t.Errorf("Expand = %q, %v", cmd, err)
	}
}
