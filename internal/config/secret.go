package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Secret is a reference to a credential, never the credential itself:
//
//	env:NAME      the environment variable NAME
//	file:PATH     the file's contents, trailing newline trimmed; ~ expands, and a
//	              relative PATH is relative to the config file's directory
//	cmd:COMMAND   the trimmed stdout of /bin/sh -c COMMAND (10 s timeout),
//	              e.g. cmd:op read op://deploy/jira/token
//
// Every way of printing a Secret prints the reference, so a Config can be
// logged or dumped without leaking.
type Secret struct {
	Ref      string
	value    string
	resolved bool
}

// ResolvedSecret returns a Secret that already holds its value, for building
// configs in code and tests.
func ResolvedSecret(ref, value string) Secret {
	return Secret{Ref: ref, value: value, resolved: true}
}

// Value returns the resolved credential; "" when the config was loaded with
// SkipSecrets or the secret is unset.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the config names a reference for this secret.
func (s Secret) IsSet() bool { return s.Ref != "" }

// Resolved reports whether Value holds the credential.
func (s Secret) Resolved() bool { return s.resolved }

// String returns the reference, never the value.
func (s Secret) String() string { return s.Ref }

// GoString keeps %#v from printing the unexported value field.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret{Ref:%q}", s.Ref) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Ref) }

// UnmarshalText stores the reference; it is checked during validation, where
// the error can carry a position and never echo a literal credential.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = Secret{Ref: strings.TrimSpace(string(b))}
	return nil
}

// MarshalText writes the reference.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Ref), nil }

// secretTimeout bounds a cmd: secret; a variable so tests need not wait.
var secretTimeout = 10 * time.Second

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretError is a resolution failure with advice for the reader.
type secretError struct {
	msg, hint string
	literal   bool // the reference looks like the secret itself
}

func (e *secretError) Error() string { return e.msg }

// checkRef validates the form of a reference without resolving it.
func checkRef(ref string) *secretError {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || (scheme != "env" && scheme != "file" && scheme != "cmd") {
		// Never echo ref: it is probably the credential itself.
		return &secretError{
			msg:     "secrets are references: write env:NAME, file:PATH or cmd:COMMAND",
			hint:    `e.g. "env:JIRA_TOKEN", then export JIRA_TOKEN=... before starting; remove the literal value from this file`,
			literal: true,
		}
	}
	switch {
	case strings.TrimSpace(rest) == "":
		return &secretError{msg: fmt.Sprintf("empty %s: reference", scheme), hint: `write e.g. "env:JIRA_TOKEN"`}
	case scheme == "env" && !envName.MatchString(rest):
		return &secretError{msg: fmt.Sprintf("%q is not an environment variable name", rest), hint: `write e.g. "env:JIRA_TOKEN"`}
	}
	return nil
}

// resolve fetches the value of ref. dir resolves relative file: paths.
func resolve(ctx context.Context, ref, dir string, getenv func(string) string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	scheme, rest, _ := strings.Cut(ref, ":")
	switch scheme {
	case "env":
		v := getenv(rest)
		if v == "" {
			return "", &secretError{
				msg:  fmt.Sprintf("environment variable %s is not set", rest),
				hint: fmt.Sprintf("export %s=... in the shell that starts the cockpit", rest),
			}
		}
		return v, nil
	case "file":
		path := resolvePath(rest, dir, getenv)
		b, err := os.ReadFile(path)
		if err != nil {
			hint := "check the path; relative paths are relative to the config file"
			if errors.Is(err, os.ErrPermission) {
				hint = "the cockpit's user cannot read it: check its permissions"
			}
			return "", &secretError{msg: fmt.Sprintf("cannot read secret file %s: %v", path, unwrapPathError(err)), hint: hint}
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", &secretError{msg: fmt.Sprintf("secret file %s is empty", path), hint: "write the credential into it"}
		}
		return v, nil
	default: // cmd
		ctx, cancel := context.WithTimeout(ctx, secretTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", rest)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		// A password manager that forks a helper could otherwise keep the
		// pipes open and hold the load past its timeout.
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if ctx.Err() == context.DeadlineExceeded {
			return "", &secretError{
				msg:  fmt.Sprintf("secret command timed out after %s", secretTimeout),
				hint: "a password manager may be waiting for a login or prompt: unlock it first, or run the command by hand to see",
			}
		}
		if err != nil {
			msg := fmt.Sprintf("secret command failed: %v", err)
			if se := strings.TrimSpace(stderr.String()); se != "" {
				msg += ": " + truncate(se, 300)
			}
			return "", &secretError{msg: msg, hint: "run the command by hand to see why"}
		}
		v := strings.TrimSpace(stdout.String())
		if v == "" {
			return "", &secretError{msg: "secret command printed nothing", hint: "it must print the credential on stdout"}
		}
		return v, nil
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// resolvePath expands a leading ~ and makes a relative path relative to dir.
func resolvePath(p, dir string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}
