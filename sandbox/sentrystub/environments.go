package sentrystub

import (
	"net/http"
	"sort"
	"strconv"
)

// environment is Sentry's Environment row and its EnvironmentProject links:
// created the first time an event or a deploy names it, and never before.
// Until then Sentry answers a query naming it with 404
// (src/sentry/api/helpers/environments.py), which is what a new, quiet
// environment looks like from the API.
type environment struct {
	id       int
	name     string
	projects map[int]bool
}

// noteEnv records that name was seen in project. Call with s.mu held.
func (s *Server) noteEnv(name string, project int) {
	if name == "" {
		// Sentry keeps the "no environment" environment out of every list.
		return
	}
	env := s.envs[name]
	if env == nil {
		env = &environment{id: len(s.envs) + 1, name: name, projects: map[int]bool{}}
		s.envs[name] = env
	}
	env.projects[project] = true
}

// handleEnvironments serves GET /api/0/organizations/{org}/environments/:
// the environments of the requested projects, by name, filtered by
// visibility (nothing is hidden in the stand-in), ids as strings as in the
// schema's example.
func (s *Server) handleEnvironments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	visibility := q.Get("visibility")
	if visibility == "" {
		visibility = "visible"
	}
	switch visibility {
	case "all", "visible":
	case "hidden":
		writeJSON(w, http.StatusOK, []any{})
		return
	default:
		writeDetail(w, http.StatusBadRequest, "Invalid value for 'visibility', valid values are: ['all', 'hidden', 'visible']")
		return
	}
	projects, err := s.selectProjects(q)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	var envs []*environment
	for _, env := range s.envs {
		for p := range env.projects {
			if projects[p] {
				envs = append(envs, env)
				break
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(envs, func(i, j int) bool { return envs[i].name < envs[j].name })
	out := make([]map[string]string, 0, len(envs))
	for _, env := range envs {
		out = append(out, map[string]string{"id": strconv.Itoa(env.id), "name": env.name})
	}
	writeJSON(w, http.StatusOK, out)
}
