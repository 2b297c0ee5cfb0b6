package sentrystub

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

type release struct {
	id           int
	version      string
	created      time.Time
	dateReleased time.Time
	ref, url     string
	projects     map[int]bool
	newGroups    map[int]int
	firstEvent   time.Time
	lastEvent    time.Time
	deploys      []*Deploy
	// lastDeploy is Release.last_deploy_id: the deploy created last,
	// whatever its dates.
	lastDeploy *Deploy
	// latest is ReleaseProjectEnvironment.last_deploy_id, by project and
	// environment: what GET .../deploys/ lists.
	latest map[int]map[string]*Deploy
}

// ensureRelease finds or creates a release. Sentry creates releases it first
// hears of from an event, so a release the SDK reports exists even if nobody
// created it through the API. Call with s.mu held.
func (s *Server) ensureRelease(version string, at time.Time) *release {
	rel := s.releases[version]
	if rel == nil {
		s.relSeq++
		rel = &release{
			id:        s.relSeq,
			version:   version,
			created:   at.UTC(),
			projects:  map[int]bool{},
			newGroups: map[int]int{},
		}
		s.releases[version] = rel
	}
	return rel
}

func (s *Server) handleOrg(w http.ResponseWriter, r *http.Request) {
	name := s.org
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":             strconv.Itoa(s.orgID),
		"slug":           s.org,
		"name":           name,
		"dateCreated":    isoTime(s.created),
		"isEarlyAdopter": false,
		"require2FA":     false,
		"status":         map[string]string{"id": "active", "name": "active"},
		"avatar":         map[string]any{"avatarType": "letter_avatar", "avatarUuid": nil},
		"features":       []string{},
		"links": map[string]string{
			"organizationUrl": baseURL(r),
			"regionUrl":       baseURL(r),
		},
	})
}

func (s *Server) projectOut(p Project) map[string]any {
	return map[string]any{
		"id":          strconv.Itoa(p.ID),
		"slug":        p.Slug,
		"name":        p.Slug,
		"platform":    nil,
		"dateCreated": isoTime(s.created),
		"isMember":    true,
		"hasAccess":   true,
		"status":      "active",
	}
}

func (s *Server) handleProjects(w http.ResponseWriter, r *http.Request) {
	out := make([]map[string]any, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, s.projectOut(p))
	}
	setPageHeaders(w, r, 0, len(out)+1, len(out), false)
	writeJSON(w, http.StatusOK, out)
}

// releaseOut follows Sentry's release serializer for the fields a client of
// the stand-in can observe. Call with s.mu held.
func (s *Server) releaseOut(rel *release) map[string]any {
	var projects []map[string]any
	var ids []int
	for id := range rel.projects {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	newGroups := 0
	for _, id := range ids {
		p := s.projectByID(id)
		projects = append(projects, map[string]any{
			"id":            p.ID,
			"slug":          p.Slug,
			"name":          p.Slug,
			"newGroups":     rel.newGroups[id],
			"platform":      nil,
			"platforms":     []string{},
			"hasHealthData": false,
		})
		newGroups += rel.newGroups[id]
	}
	if projects == nil {
		projects = []map[string]any{}
	}
	var lastDeploy any
	if rel.lastDeploy != nil {
		lastDeploy = deployOut(rel.lastDeploy)
	}
	return map[string]any{
		"id":                 rel.id,
		"version":            rel.version,
		"shortVersion":       rel.version,
		"status":             "open",
		"ref":                nullable(rel.ref),
		"url":                nullable(rel.url),
		"dateReleased":       isoTime(rel.dateReleased),
		"dateCreated":        isoTime(rel.created),
		"data":               map[string]any{},
		"newGroups":          newGroups,
		"owner":              nil,
		"commitCount":        0,
		"lastCommit":         nil,
		"deployCount":        len(rel.deploys),
		"lastDeploy":         lastDeploy,
		"authors":            []any{},
		"projects":           projects,
		"firstEvent":         isoTime(rel.firstEvent),
		"lastEvent":          isoTime(rel.lastEvent),
		"currentProjectMeta": map[string]any{},
		"userAgent":          nil,
		"versionInfo": map[string]any{
			"package":     nil,
			"version":     map[string]string{"raw": rel.version},
			"description": rel.version,
			"buildHash":   nil,
		},
	}
}

func (s *Server) handleReleases(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := cursorOffset(q.Get("cursor"))
	if err != nil {
		writeError(w, err)
		return
	}
	limit := perPage(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	projects, err := s.selectProjects(q)
	if err != nil {
		writeError(w, err)
		return
	}
	needle := q.Get("query")
	var rels []*release
	for _, rel := range s.releases {
		if !strings.Contains(rel.version, needle) {
			continue
		}
		for id := range rel.projects {
			if projects[id] {
				rels = append(rels, rel)
				break
			}
		}
	}
	sort.Slice(rels, func(i, j int) bool {
		if !rels[i].created.Equal(rels[j].created) {
			return rels[i].created.After(rels[j].created)
		}
		return rels[i].id > rels[j].id
	})
	lo, hi := min(offset, len(rels)), min(offset+limit, len(rels))
	out := make([]map[string]any, 0, hi-lo)
	for _, rel := range rels[lo:hi] {
		out = append(out, s.releaseOut(rel))
	}
	setPageHeaders(w, r, offset, limit, len(rels), false)
	writeJSON(w, http.StatusOK, out)
}

func perPage(q url.Values) int {
	n, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || n <= 0 {
		return 100
	}
	return min(n, 100)
}

// decodeBody reads a JSON object body, answering like Django REST
// framework does when it is not one.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest("reading body: %s", err.Error())
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("JSON parse error - %s", err.Error())
	}
	return nil
}

// fieldErrors is DRF's validation error body: field name to messages.
type fieldErrors map[string][]string

func (fe fieldErrors) add(field, msg string) { fe[field] = append(fe[field], msg) }

// handleCreateRelease serves POST /api/0/organizations/{org}/releases/:
// 201 with the release when created, 208 when it already existed (the
// projects are added to it either way).
func (s *Server) handleCreateRelease(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Version      *string  `json:"version"`
		Projects     []string `json:"projects"`
		Ref          string   `json:"ref"`
		URL          string   `json:"url"`
		DateReleased string   `json:"dateReleased"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	fe := fieldErrors{}
	switch {
	case body.Version == nil || *body.Version == "":
		fe.add("version", "This field is required.")
	case !validRelease(*body.Version):
		fe.add("version", "Release with name "+*body.Version+" is not allowed")
	}
	if body.Projects == nil {
		fe.add("projects", "This field is required.")
	}
	var released time.Time
	if body.DateReleased != "" {
		t, err := parseISO(body.DateReleased)
		if err != nil {
			fe.add("dateReleased", dateFormatMsg)
		}
		released = t
	}
	if len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	var ids []int
	for _, ref := range body.Projects {
		p := s.projectByRef(ref)
		if p == nil {
			writeJSON(w, http.StatusBadRequest, fieldErrors{"projects": {"Invalid project ids or slugs"}})
			return
		}
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		writeJSON(w, http.StatusBadRequest, fieldErrors{"projects": {"Invalid project ids or slugs"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.releases[*body.Version]
	rel := s.ensureRelease(*body.Version, s.now())
	for _, id := range ids {
		rel.projects[id] = true
	}
	if body.Ref != "" {
		rel.ref = body.Ref
	}
	if body.URL != "" {
		rel.url = body.URL
	}
	if !released.IsZero() {
		rel.dateReleased = released
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusAlreadyReported
	}
	writeJSON(w, status, s.releaseOut(rel))
}

func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.releases[r.PathValue("version")]
	if rel == nil {
		writeDetail(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	writeJSON(w, http.StatusOK, s.releaseOut(rel))
}
