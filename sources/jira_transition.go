package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// JiraTransition is a transition an issue can take now.
type JiraTransition struct {
	ID     string
	Name   string
	ToID   string
	ToName string
}

// Transitions lists the transitions issue key can take from its status.
func (c *JiraClient) Transitions(ctx context.Context, key string) ([]JiraTransition, error) {
	data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/issue/" + url.PathEscape(key) + "/transitions",
		hint: "the issue " + key + " is gone or not visible to this account"})
	if err != nil {
		return nil, err
	}
	ts, err := DecodeJiraTransitions(data)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s from %s: %w", key, c.BaseURL, err)
	}
	return ts, nil
}

// DecodeJiraTransitions decodes GET /rest/api/N/issue/{key}/transitions.
func DecodeJiraTransitions(data []byte) ([]JiraTransition, error) {
	var raw struct {
		Transitions *[]struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
			To   struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("unexpected answer (not a transition list): %w", err)
	}
	if raw.Transitions == nil {
		return nil, errors.New("unexpected answer: no transitions list")
	}
	out := make([]JiraTransition, 0, len(*raw.Transitions))
	for _, t := range *raw.Transitions {
		// Ids are strings in the documented shape; some servers send
		// numbers.
		id := strings.Trim(string(t.ID), `"`)
		if id == "" || id == "null" {
			return nil, fmt.Errorf("unexpected answer: transition %q has no id", t.Name)
		}
		out = append(out, JiraTransition{ID: id, Name: t.Name, ToID: t.To.ID, ToName: t.To.Name})
	}
	return out, nil
}

// Transition moves issue key through the transition with id.
func (c *JiraClient) Transition(ctx context.Context, key, id string) error {
	body, err := json.Marshal(map[string]any{"transition": map[string]string{"id": id}})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, jiraRequest{method: http.MethodPost, path: c.api() + "/issue/" + url.PathEscape(key) + "/transitions", body: body,
		hint: "the account may not transition " + key + " (the Transition Issues permission), or the workflow refuses it"})
	return err
}
