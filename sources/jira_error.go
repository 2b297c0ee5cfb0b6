package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// JiraError is a failed Jira request, worded for the person at the
// keyboard. Status is 0 when no answer came at all.
type JiraError struct {
	Method, Path string
	Base         string
	Status       int
	Messages     []string      // Jira's errorMessages and errors, if any
	RetryAfter   time.Duration // for 429: how long Jira asked to wait
	Retries      int           // how many times the request was retried
	Hint         string        // what to check, from the caller's context
	Cloud        bool
	Err          error // the transport error, when Status is 0
}

func (e *JiraError) Unwrap() error { return e.Err }

func (e *JiraError) Error() string {
	what := e.Method + " " + e.Path
	msgs := ""
	if len(e.Messages) > 0 {
		msgs = ": " + strings.Join(e.Messages, "; ")
	}
	hint := func(def string) string {
		if e.Hint != "" {
			return e.Hint
		}
		return def
	}
	switch {
	case e.Status == 0:
		if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
			return fmt.Sprintf("no answer from Jira at %s for %s in time (%v): check the network, or try again", e.Base, what, e.Err)
		}
		return fmt.Sprintf("cannot reach Jira at %s (%v): check [jira] url and the network", e.Base, e.Err)
	case e.Status == http.StatusUnauthorized:
		creds := "check [jira] email and token (an API token from the Atlassian account)"
		if !e.Cloud {
			creds = "check [jira] token (a personal access token)"
		}
		return fmt.Sprintf("Jira at %s refused the credentials (401 Unauthorized): %s", e.Base, creds)
	case e.Status == http.StatusForbidden:
		return fmt.Sprintf("Jira at %s forbids %s (403 Forbidden)%s: %s", e.Base, what, msgs,
			hint("the account lacks a permission (browse the project, see the board, transition issues); ask a Jira admin"))
	case e.Status == http.StatusTooManyRequests:
		after := ""
		if e.RetryAfter > 0 {
			after = fmt.Sprintf(", asking to wait %s", e.RetryAfter.Round(time.Second))
		}
		return fmt.Sprintf("Jira at %s is rate limiting (429 Too Many Requests%s) and still was after %d retries: wait a minute and try again", e.Base, after, e.Retries)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found on Jira at %s (404)%s: %s", what, e.Base, msgs, hint("check [jira] url, board and project"))
	case e.Status >= 500:
		return fmt.Sprintf("Jira at %s failed with %d %s on %s%s: a problem on Jira's side; try again shortly", e.Base, e.Status, http.StatusText(e.Status), what, msgs)
	}
	return fmt.Sprintf("Jira at %s rejected %s (%d %s)%s", e.Base, what, e.Status, http.StatusText(e.Status), msgs)
}

// JiraErrorMessages reads Jira's error body, {"errorMessages":[...],
// "errors":{field: message}}, into sentences; anything else yields nil.
func JiraErrorMessages(body []byte) []string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	var out []string
	for _, m := range e.ErrorMessages {
		if m = snapshot.OneLine(strings.TrimSpace(m)); m != "" {
			out = append(out, m)
		}
	}
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if m := snapshot.OneLine(strings.TrimSpace(e.Errors[k])); m != "" {
			out = append(out, k+": "+m)
		}
	}
	return out
}
