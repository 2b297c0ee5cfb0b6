package sentrystub

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Deploys follow src/sentry/releases/endpoints/release_deploys.py.

func deployOut(d *Deploy) map[string]any {
	return map[string]any{
		"id":           strconv.Itoa(d.ID),
		"environment":  d.Environment,
		"dateStarted":  isoTime(d.DateStarted),
		"dateFinished": isoTime(d.DateFinished),
		"name":         nullable(d.Name),
		"url":          nullable(d.URL),
	}
}

// handleDeploys serves GET .../releases/{version}/deploys/. Sentry lists
// not every deploy of the release but the deploys some
// ReleaseProjectEnvironment names as its last_deploy_id: the newest deploy
// per project and environment, of the requested projects, once each,
// ordered by -date_finished with the offset paginator.
func (s *Server) handleDeploys(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := cursorOffset(q.Get("cursor"))
	if err != nil {
		writeError(w, err)
		return
	}
	projects, err := s.selectProjects(q)
	if err != nil {
		writeError(w, err)
		return
	}
	limit := perPage(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.releases[r.PathValue("version")]
	if rel == nil {
		writeDetail(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	seen := map[*Deploy]bool{}
	var deploys []*Deploy
	for pid, byEnv := range rel.latest {
		if !projects[pid] {
			continue
		}
		for _, d := range byEnv {
			if !seen[d] {
				seen[d] = true
				deploys = append(deploys, d)
			}
		}
	}
	sort.Slice(deploys, func(i, j int) bool {
		if !deploys[i].DateFinished.Equal(deploys[j].DateFinished) {
			return deploys[i].DateFinished.After(deploys[j].DateFinished)
		}
		return deploys[i].ID > deploys[j].ID
	})
	lo, hi := min(offset, len(deploys)), min(offset+limit, len(deploys))
	out := make([]map[string]any, 0, hi-lo)
	for _, d := range deploys[lo:hi] {
		out = append(out, deployOut(d))
	}
	setPageHeaders(w, r, offset, limit, len(deploys), false)
	writeJSON(w, http.StatusOK, out)
}

const dateFormatMsg = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."

// handleCreateDeploy serves POST .../releases/{version}/deploys/. As in
// Sentry the release must already exist (created through the releases
// endpoint or by an event that carried it): otherwise 404. Field errors are
// DeploySerializer's; projects outside the release are create_deploy's
// ParameterValidationError.
func (s *Server) handleCreateDeploy(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Environment  *string   `json:"environment"`
		Name         string    `json:"name"`
		URL          string    `json:"url"`
		DateStarted  string    `json:"dateStarted"`
		DateFinished string    `json:"dateFinished"`
		Projects     *[]string `json:"projects"`
	}
	version := r.PathValue("version")
	s.mu.Lock()
	rel := s.releases[version]
	s.mu.Unlock()
	if rel == nil {
		writeDetail(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	fe := map[string]any{}
	add := func(field, msg string) { fe[field] = []string{msg} }
	switch {
	case body.Environment == nil:
		add("environment", "This field is required.")
	case *body.Environment == "":
		add("environment", "This field may not be blank.")
	case utf8.RuneCountInString(*body.Environment) > 64:
		add("environment", "Ensure this field has no more than 64 characters.")
	case !validEnvironment(*body.Environment):
		add("environment", "Invalid value for environment")
	}
	if utf8.RuneCountInString(body.Name) > 64 {
		add("name", "Ensure this field has no more than 64 characters.")
	}
	if body.URL != "" {
		if u, err := url.Parse(body.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("url", "Enter a valid URL.")
		}
	}
	parse := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := parseISO(v)
		if err != nil {
			add(field, dateFormatMsg)
		}
		return t
	}
	started := parse("dateStarted", body.DateStarted)
	finished := parse("dateFinished", body.DateFinished)
	var named []*Project
	if body.Projects != nil {
		// ListField(child=ProjectField, allow_empty=False): a bad item's
		// errors are keyed by its index.
		if len(*body.Projects) == 0 {
			add("projects", "This list may not be empty.")
		}
		bad := map[string][]string{}
		for i, ref := range *body.Projects {
			p := s.projectByRef(ref)
			if p == nil {
				bad[strconv.Itoa(i)] = []string{"Invalid project"}
				continue
			}
			named = append(named, p)
		}
		if len(bad) > 0 {
			fe["projects"] = bad
		}
	}
	if len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if body.Projects == nil {
		for id := range rel.projects {
			named = append(named, s.projectByID(id))
		}
	}
	var outside []string
	for _, p := range named {
		if !rel.projects[p.ID] {
			outside = append(outside, p.Slug)
		}
	}
	if len(outside) > 0 {
		sort.Strings(outside)
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": map[string]any{
			"code":    "parameter-validation-error",
			"message": "Invalid projects (" + strings.Join(outside, ", ") + ") for release " + version,
			"extra":   map[string]string{"context": ""},
		}})
		return
	}
	sort.Slice(named, func(i, j int) bool { return named[i].Slug < named[j].Slug })
	slugs := make([]string, len(named))
	for i, p := range named {
		slugs[i] = p.Slug
	}
	if finished.IsZero() {
		finished = s.now().UTC()
	}
	s.deploySeq++
	d := &Deploy{
		ID:           s.deploySeq,
		Release:      version,
		Environment:  *body.Environment,
		Name:         body.Name,
		URL:          body.URL,
		DateStarted:  started,
		DateFinished: finished,
		Projects:     slugs,
	}
	rel.deploys = append(rel.deploys, d)
	rel.lastDeploy = d
	if rel.latest == nil {
		rel.latest = map[int]map[string]*Deploy{}
	}
	for _, p := range named {
		if rel.latest[p.ID] == nil {
			rel.latest[p.ID] = map[string]*Deploy{}
		}
		rel.latest[p.ID][d.Environment] = d
		// A deploy creates its environment in Sentry, after which the
		// environment can be named in queries.
		s.noteEnv(d.Environment, p.ID)
	}
	writeJSON(w, http.StatusCreated, deployOut(d))
}
