package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Builtin template variables. [vars] may not redefine them.
var builtinVars = []string{"date", "deploy", "env", "release", "operator"}

// TemplateVars returns the variables available to templates on the deploy
// day containing day:
//
//	date      YYYY-MM-DD in the window's zone
//	deploy    [deploy] name
//	env       [deploy] environment
//	release   [deploy] release, itself expanded
//	operator  [deploy] operator
//
// plus every key of [vars], whose values may use the builtins.
func (c *Config) TemplateVars(day time.Time) map[string]string {
	loc := c.Window.Location
	if loc == nil {
		loc = time.UTC
	}
	vars := map[string]string{
		"date":     day.In(loc).Format(time.DateOnly),
		"deploy":   c.Deploy.Name,
		"env":      c.Deploy.Environment,
		"operator": c.Deploy.Operator,
	}
	// Validation guarantees these expand; on a config built in code that
	// did not validate, the raw text is the most honest fallback.
	release, err := Expand(c.Deploy.Release, vars, false)
	if err != nil {
		release = c.Deploy.Release
	}
	vars["release"] = release
	builtins := make(map[string]string, len(vars))
	for k, v := range vars {
		builtins[k] = v
	}
	for k, v := range c.Vars {
		if x, err := Expand(v, builtins, false); err == nil {
			v = x
		}
		vars[k] = v
	}
	return vars
}

// templateRef is one {{name}} in a template.
type templateRef struct {
	name       string
	start, end int // byte range of "{{ name }}"
}

// scanTemplate finds the references in tmpl. A literal "{{" is written
// "{{{{"; a "}}" outside a reference is literal.
func scanTemplate(tmpl string) ([]templateRef, error) {
	var refs []templateRef
	for i := 0; i < len(tmpl); {
		j := strings.Index(tmpl[i:], "{{")
		if j < 0 {
			break
		}
		start := i + j
		if strings.HasPrefix(tmpl[start:], "{{{{") {
			i = start + 4
			continue
		}
		k := strings.Index(tmpl[start+2:], "}}")
		if k < 0 {
			return refs, fmt.Errorf(`"{{" at offset %d is never closed with "}}" (write "{{{{" for a literal "{{")`, start)
		}
		name := strings.TrimSpace(tmpl[start+2 : start+2+k])
		end := start + 2 + k + 2
		if !isVarName(name) {
			return refs, fmt.Errorf(`{{%s}} is not a variable name (write "{{{{" for a literal "{{")`, tmpl[start+2:start+2+k])
		}
		refs = append(refs, templateRef{name: name, start: start, end: end})
		i = end
	}
	return refs, nil
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// Expand replaces each {{name}} (spaces inside the braces allowed) with its
// value. With shellQuote, values are shell-quoted so that a value with spaces
// or quotes stays one word and cannot inject commands; the template itself
// must then not put references inside quotes. An unknown name, or "{{" with
// no closing "}}", is an error. "{{{{" stands for a literal "{{".
func Expand(tmpl string, vars map[string]string, shellQuote bool) (string, error) {
	refs, err := scanTemplate(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	literal := func(s string) { b.WriteString(strings.ReplaceAll(s, "{{{{", "{{")) }
	for _, r := range refs {
		v, ok := vars[r.name]
		if !ok {
			return "", unknownVarError(r.name, sortedKeys(vars))
		}
		literal(tmpl[last:r.start])
		if shellQuote {
			v = ShellQuote(v)
		}
		b.WriteString(v)
		last = r.end
	}
	literal(tmpl[last:])
	return b.String(), nil
}

func unknownVarError(name string, known []string) error {
	if s := gates.Suggest(name, known); s != "" {
		return fmt.Errorf("unknown template variable {{%s}} (did you mean {{%s}}?)", name, s)
	}
	return fmt.Errorf("unknown template variable {{%s}} (known: %s)", name, braced(known))
}

func braced(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return strings.Join(out, ", ")
}

// ShellQuote quotes s as one POSIX shell word. Words made only of
// [A-Za-z0-9@%+=:,./_-] are returned bare, so commands stay readable in the
// journal.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !shellSafe(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellSafe(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		strings.ContainsRune("@%+=:,./_-", r)
}

// quotedRefs returns the references in a shell command that sit inside
// single or double quotes, where a quoted value would be quoted twice.
func quotedRefs(cmd string, refs []templateRef) []templateRef {
	var out []templateRef
	const (
		bare = iota
		single
		double
	)
	state, next := bare, 0
	for i := 0; i < len(cmd) && next < len(refs); i++ {
		if i == refs[next].start {
			if state != bare {
				out = append(out, refs[next])
			}
			i = refs[next].end - 1
			next++
			continue
		}
		switch c := cmd[i]; {
		case state == single:
			if c == '\'' {
				state = bare
			}
		case c == '\\':
			i++ // the escaped byte is literal in bare and double-quoted text
		case state == double:
			if c == '"' {
				state = bare
			}
		case c == '\'':
			state = single
		case c == '"':
			state = double
		}
	}
	return out
}
