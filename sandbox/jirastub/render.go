package jirastub

import (
	"fmt"
	"strconv"
	"strings"
)

// fieldSet is the fields parameter: names, *all / *navigable, and -name
// exclusions, which is the subset of Jira's syntax clients actually send.
type fieldSet struct {
	all     bool
	include map[string]bool
	exclude map[string]bool
}

func parseFieldSet(specs, deflt []string) fieldSet {
	if len(specs) == 0 {
		specs = deflt
	}
	fs := fieldSet{include: map[string]bool{}, exclude: map[string]bool{}}
	for _, spec := range specs {
		for _, f := range strings.Split(spec, ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			switch {
			case f == "*all" || f == "*navigable":
				fs.all = true
			case strings.HasPrefix(f, "-"):
				fs.exclude[strings.TrimPrefix(f, "-")] = true
			case f != "":
				// Unknown names are ignored, as Jira ignores them.
				fs.include[f] = true
			}
		}
	}
	return fs
}

func (fs fieldSet) has(id string) bool {
	id = strings.ToLower(id)
	return !fs.exclude[id] && (fs.all || fs.include[id])
}

type issueJSON struct {
	Expand string         `json:"expand"`
	ID     string         `json:"id"`
	Self   string         `json:"self"`
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields,omitempty"`
}

type statusJSON struct {
	Self           string       `json:"self"`
	Description    string       `json:"description"`
	IconURL        string       `json:"iconUrl"`
	Name           string       `json:"name"`
	ID             string       `json:"id"`
	StatusCategory categoryJSON `json:"statusCategory"`
}

type categoryJSON struct {
	Self      string `json:"self"`
	ID        int    `json:"id"`
	Key       string `json:"key"`
	ColorName string `json:"colorName"`
	Name      string `json:"name"`
}

func issueID(idx int) string { return strconv.Itoa(10000 + idx) }

// statusJSON is called with s.mu held.
func (s *Server) statusJSON(base, api, name string) statusJSON {
	id := s.statusID(name)
	c := statusCategory(name)
	return statusJSON{
		Self:    base + "/rest/api/" + api + "/status/" + id,
		IconURL: base + "/images/icons/statuses/generic.png",
		Name:    name,
		ID:      id,
		StatusCategory: categoryJSON{
			Self: base + "/rest/api/" + api + "/statuscategory/" + strconv.Itoa(c.ID),
			ID:   c.ID, Key: c.Key, ColorName: c.Color, Name: c.Name,
		},
	}
}

// issueJSON is called with s.mu held.
func (s *Server) issueJSON(base, api string, idx int, fs fieldSet) issueJSON {
	is := s.issues[idx]
	id := issueID(idx)
	out := issueJSON{
		Expand: "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		ID:     id,
		Self:   base + "/rest/api/" + api + "/issue/" + id,
		Key:    is.Key,
	}
	f := map[string]any{}
	if fs.has("summary") {
		f["summary"] = is.Summary
	}
	if fs.has("status") {
		f["status"] = s.statusJSON(base, api, is.Status)
	}
	if fs.has("priority") {
		if is.Priority == "" {
			f["priority"] = nil
		} else {
			pid := priorityID(is.Priority)
			f["priority"] = map[string]string{
				"self":    base + "/rest/api/" + api + "/priority/" + pid,
				"iconUrl": base + "/images/icons/priorities/" + strings.ToLower(is.Priority) + ".svg",
				"name":    is.Priority,
				"id":      pid,
			}
		}
	}
	if fs.has("assignee") {
		f["assignee"] = userJSON(base, api, is.Assignee)
	}
	if fs.has("labels") {
		labels := append([]string{}, is.Labels...)
		f["labels"] = labels
	}
	if fs.has("fixVersions") {
		vs := []map[string]any{}
		for _, name := range is.FixVersions {
			v := s.versions[name]
			m := map[string]any{
				"self":     base + "/rest/api/" + api + "/version/" + v.ID,
				"id":       v.ID,
				"name":     v.Name,
				"archived": false,
				"released": v.Released,
			}
			if v.Date != "" {
				m["releaseDate"] = v.Date
			}
			vs = append(vs, m)
		}
		f["fixVersions"] = vs
	}
	if fs.has(RankField) && s.o.SprintField != RankField {
		f[RankField] = lexoRank(idx)
	}
	if fs.has(s.o.SprintField) {
		if sp, ok := s.sprints[is.Sprint]; ok && is.Sprint != "" {
			m := map[string]any{
				"id":        sp.ID,
				"name":      sp.Name,
				"state":     sp.State,
				"boardId":   s.o.BoardID,
				"goal":      "",
				"startDate": sp.Start.Format(jiraTime),
				"endDate":   sp.End.Format(jiraTime),
			}
			if sp.State == "closed" {
				m["completeDate"] = sp.End.Format(jiraTime)
			}
			f[s.o.SprintField] = []map[string]any{m}
		} else {
			f[s.o.SprintField] = nil
		}
	}
	if fs.has("project") {
		p := projectOf(is.Key)
		pid := strconv.Itoa(10000 + s.projectIndex(p))
		f["project"] = map[string]any{
			"self":           base + "/rest/api/" + api + "/project/" + pid,
			"id":             pid,
			"key":            p,
			"name":           p,
			"projectTypeKey": "software",
			"simplified":     false,
		}
	}
	if len(f) > 0 {
		out.Fields = f
	}
	return out
}

const jiraTime = "2006-01-02T15:04:05.000Z07:00"

// lexoRank is a rank value in the shape Jira stores, ordered as the board.
func lexoRank(idx int) string { return fmt.Sprintf("0|i%05x:", idx+1) }

func (s *Server) projectIndex(p string) int {
	for i, k := range s.projects {
		if strings.EqualFold(k, p) {
			return i
		}
	}
	return 0
}

func userJSON(base, api, name string) any {
	if name == "" {
		return nil
	}
	id := accountID(name)
	u := map[string]any{
		"self":        base + "/rest/api/" + api + "/user?accountId=" + id,
		"accountId":   id,
		"accountType": "atlassian",
		"displayName": name,
		"active":      true,
		"timeZone":    "Etc/UTC",
	}
	if api == "2" {
		u["name"] = strings.ToLower(strings.ReplaceAll(name, " ", "."))
	}
	return u
}
