package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// JiraSprintSchema is the schema.custom of the sprint field. The Jira
// Software REST API's "field input formats" section says to find the field
// by it: the field's id differs per site and its name can be changed.
const JiraSprintSchema = "com.pyxis.greenhopper.jira:gh-sprint"

// JiraFields are one site's ids of the fields the board reads whose id is
// not the same everywhere.
type JiraFields struct {
	// Sprint is the sprint custom field, such as customfield_10020; empty
	// when the site has none (Jira without Jira Software).
	Sprint string
	// FixVersions is the system fix version field, fixVersions unless the
	// field list says otherwise.
	FixVersions string
}

// Fields returns the site's field ids: SprintField when set, otherwise
// what the site's field list says. The list is read once per client.
func (c *JiraClient) Fields(ctx context.Context) (JiraFields, error) {
	// Held across the request so that concurrent first searches wait for
	// one read of the list instead of each making their own.
	c.fieldsMu.Lock()
	defer c.fieldsMu.Unlock()
	if c.fields != nil {
		return *c.fields, nil
	}
	if c.SprintField != "" {
		c.fields = &JiraFields{Sprint: c.SprintField, FixVersions: "fixVersions"}
		return *c.fields, nil
	}
	data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: c.api() + "/field"})
	var je *JiraError
	if errors.As(err, &je) && (je.Status == http.StatusForbidden || je.Status == http.StatusNotFound) {
		// The board still reads without a sprint field; the sprint rule
		// then says it was not checked and names sprint_field.
		c.fields = &JiraFields{FixVersions: "fixVersions"}
		return *c.fields, nil
	}
	if err != nil {
		return JiraFields{}, err
	}
	f, err := DecodeJiraFieldList(data)
	if err != nil {
		return f, fmt.Errorf("field list from %s: %w", c.BaseURL, err)
	}
	c.fields = &f
	return f, nil
}

// DecodeJiraFieldList picks the sprint and fix version fields out of GET
// /rest/api/N/field, by their schema rather than their names.
func DecodeJiraFieldList(data []byte) (JiraFields, error) {
	var raw []struct {
		ID     string `json:"id"`
		Schema struct {
			Custom string `json:"custom"`
			System string `json:"system"`
		} `json:"schema"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return JiraFields{}, fmt.Errorf("unexpected answer (not a field list): %w", err)
	}
	f := JiraFields{FixVersions: "fixVersions"}
	for _, fd := range raw {
		switch {
		case fd.ID == "":
		case fd.Schema.Custom == JiraSprintSchema && f.Sprint == "":
			f.Sprint = fd.ID
		case fd.Schema.System == "fixVersions":
			f.FixVersions = fd.ID
		}
	}
	return f, nil
}
