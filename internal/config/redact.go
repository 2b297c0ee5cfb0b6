package config

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// secretField is a secret in the config and its key, for errors.
type secretField struct {
	path string
	s    *Secret
}

func (c *Config) secretFields() []secretField {
	var out []secretField
	if c.Postgres != nil {
		for i := range c.Postgres.Targets {
			out = append(out, secretField{fmt.Sprintf("postgres.target[%d].password", i), &c.Postgres.Targets[i].Password})
		}
	}
	if c.Jira != nil {
		out = append(out, secretField{"jira.token", &c.Jira.Token})
	}
	if c.Sentry != nil {
		out = append(out, secretField{"sentry.token", &c.Sentry.Token}, secretField{"sentry.dsn", &c.Sentry.DSN})
	}
	if c.Slack != nil {
		out = append(out, secretField{"slack.webhook", &c.Slack.Webhook})
	}
	return out
}

func (l *loader) validateSecretRefs() {
	for _, f := range l.cfg.secretFields() {
		if !f.s.IsSet() || l.isBad(f.path) {
			continue
		}
		if err := checkRef(f.s.Ref); err != nil {
			if err.literal {
				name := strings.ToUpper(envSafe(tablePath(f.path)))
				err.hint = fmt.Sprintf(`write %s = "env:%s" and export %s=... before starting; then remove the value from this file, and rotate it if the file was shared`, lastKey(f.path), name, name)
			}
			l.errVal(f.path, err.msg, err.hint)
			l.bad[f.path] = true
		}
	}
}

// resolveSecrets fetches every valid reference, concurrently: cmd: secrets
// often call a password manager that takes a second or two each.
func (l *loader) resolveSecrets() {
	if l.opts.SkipSecrets {
		return
	}
	fields := l.cfg.secretFields()
	errs := make([]error, len(fields))
	var wg sync.WaitGroup
	for i, f := range fields {
		if !f.s.IsSet() || l.isBad(f.path) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := resolve(context.Background(), f.s.Ref, l.dir, l.opts.Getenv)
			if err != nil {
				errs[i] = err
				return
			}
			f.s.value, f.s.resolved = v, true
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		msg, hint := err.Error(), ""
		if se, ok := err.(*secretError); ok {
			msg, hint = se.msg, se.hint
		}
		if !l.opts.DeferSecretErrors {
			l.errVal(fields[i].path, msg, hint)
			continue
		}
		line, col := l.ix.valPos(fields[i].path)
		section := strings.SplitN(fields[i].path, ".", 2)[0]
		if l.cfg.SecretErrors == nil {
			l.cfg.SecretErrors = map[string]Errors{}
		}
		l.cfg.SecretErrors[section] = append(l.cfg.SecretErrors[section],
			&Error{File: l.file, Line: line, Col: col, Key: fields[i].path, Msg: msg, Hint: hint})
	}
}

// Redactor hides secret values in text bound for the journal, logs, reports
// and the screen.
type Redactor struct {
	r *strings.Replacer
	n int
}

// minSecretLen keeps very short values from shredding ordinary text; no real
// credential is that short.
const minSecretLen = 4

// Redactor returns a redactor for the config's resolved secrets. Each value
// becomes "[redacted:<ref>]". For Jira Cloud it also hides the base64 of
// "email:token", which is what a dumped Authorization header would show, and
// for every secret its URL-encoded form.
func (c *Config) Redactor() *Redactor {
	type pair struct{ old, new string }
	var pairs []pair
	seen := map[string]bool{}
	add := func(old, new string) {
		if len(old) < minSecretLen || seen[old] {
			return
		}
		seen[old] = true
		pairs = append(pairs, pair{old, new})
	}
	values := map[string]bool{}
	for _, f := range c.secretFields() {
		v := f.s.Value()
		if len(v) < minSecretLen {
			continue
		}
		values[v] = true
		mark := "[redacted:" + f.s.Ref + "]"
		add(v, mark)
		add(url.QueryEscape(v), mark)
		add(url.PathEscape(v), mark)
	}
	if j := c.Jira; j != nil && j.Token.Value() != "" {
		mark := "[redacted:" + j.Token.Ref + "]"
		add(base64.StdEncoding.EncodeToString([]byte(j.Email+":"+j.Token.Value())), mark)
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].old) > len(pairs[j].old) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	r := &Redactor{n: len(values)}
	if len(args) > 0 {
		r.r = strings.NewReplacer(args...)
	}
	return r
}

// Redact returns s with every secret replaced. A nil Redactor returns s.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Secrets is the number of distinct secret values the redactor hides.
func (r *Redactor) Secrets() int {
	if r == nil {
		return 0
	}
	return r.n
}
