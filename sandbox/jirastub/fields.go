package jirastub

import (
	"net/http"
	"strconv"
	"strings"
)

// fieldJSON is one entry of GET /rest/api/N/field, in the documented
// FieldDetails shape.
type fieldJSON struct {
	ClauseNames      []string       `json:"clauseNames"`
	Custom           bool           `json:"custom"`
	ID               string         `json:"id"`
	Key              string         `json:"key"`
	Name             string         `json:"name"`
	Navigable        bool           `json:"navigable"`
	Orderable        bool           `json:"orderable"`
	Schema           map[string]any `json:"schema"`
	Searchable       bool           `json:"searchable"`
	UntranslatedName string         `json:"untranslatedName,omitempty"`
}

func systemField(id, name, clause string, schema map[string]any) fieldJSON {
	schema["system"] = id
	return fieldJSON{ClauseNames: []string{clause}, ID: id, Key: id, Name: name, Navigable: true, Orderable: true, Schema: schema, Searchable: true}
}

func customField(id, name, custom string, schema map[string]any) fieldJSON {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "customfield_"))
	schema["custom"], schema["customId"] = custom, n
	return fieldJSON{ClauseNames: []string{"cf[" + strconv.Itoa(n) + "]", name}, Custom: true, ID: id, Key: id, Name: name,
		Navigable: true, Orderable: true, Schema: schema, Searchable: true, UntranslatedName: name}
}

// fields lists the site's fields. The sprint field's id is this site's own
// (Options.SprintField); the Jira Software REST API's field input formats
// tell clients to find it here by its schema, not to assume an id.
func (s *Server) fields(w http.ResponseWriter, r *http.Request) {
	if _, ok := apiVersion(w, r); !ok {
		return
	}
	out := []fieldJSON{
		systemField("summary", "Summary", "summary", map[string]any{"type": "string"}),
		systemField("status", "Status", "status", map[string]any{"type": "status"}),
		systemField("priority", "Priority", "priority", map[string]any{"type": "priority"}),
		systemField("assignee", "Assignee", "assignee", map[string]any{"type": "user"}),
		systemField("labels", "Labels", "labels", map[string]any{"type": "array", "items": "string"}),
		systemField("fixVersions", "Fix versions", "fixVersion", map[string]any{"type": "array", "items": "version"}),
		systemField("project", "Project", "project", map[string]any{"type": "project"}),
		customField("customfield_10016", "Story point estimate", "com.pyxis.greenhopper.jira:jsw-story-points", map[string]any{"type": "number"}),
	}
	if s.o.SprintField != RankField {
		out = append(out, customField(RankField, "Rank", "com.pyxis.greenhopper.jira:gh-lexo-rank", map[string]any{"type": "any"}))
	}
	out = append(out, customField(s.o.SprintField, "Sprint", JiraSprintSchema, map[string]any{"type": "array", "items": "json"}))
	writeJSON(w, http.StatusOK, out)
}
