package jirastub

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /rest/api/{v}/myself", s.myself)
	m.HandleFunc("GET /rest/agile/1.0/board/{id}", s.board)
	m.HandleFunc("GET /rest/agile/1.0/board/{id}/configuration", s.boardConfig)
	m.HandleFunc("GET /rest/api/{v}/field", s.fields)
	m.HandleFunc("GET /rest/api/{v}/search/jql", s.searchJQL)
	m.HandleFunc("POST /rest/api/{v}/search/jql", s.searchJQL)
	m.HandleFunc("GET /rest/api/{v}/search", s.searchStartAt)
	m.HandleFunc("POST /rest/api/{v}/search", s.searchStartAt)
	m.HandleFunc("GET /rest/api/{v}/issue/{key}", s.getIssue)
	m.HandleFunc("GET /rest/api/{v}/issue/{key}/transitions", s.getTransitions)
	m.HandleFunc("POST /rest/api/{v}/issue/{key}/transitions", s.postTransition)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "null for uri: "+baseURL(r)+r.URL.RequestURI())
	})
	s.mux = m
}

// buffer takes the board lock and collects the response made under it; done
// releases the lock and only then writes to the client, so a slow reader
// never stalls other requests.
func (s *Server) buffer(w http.ResponseWriter) (http.ResponseWriter, func()) {
	rec := &recorder{header: http.Header{}}
	s.mu.Lock()
	return rec, func() {
		s.mu.Unlock()
		maps.Copy(w.Header(), rec.header)
		w.WriteHeader(cmp.Or(rec.code, http.StatusOK))
		w.Write(rec.body.Bytes())
	}
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// apiVersion accepts the platform API versions a client may address; latest
// behaves as 2, as it does on Jira.
func apiVersion(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch v := r.PathValue("v"); v {
	case "2", "3":
		return v, true
	case "latest":
		return "2", true
	}
	writeErr(w, http.StatusNotFound, "null for uri: "+baseURL(r)+r.URL.RequestURI())
	return "", false
}

func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func (s *Server) myself(w http.ResponseWriter, r *http.Request) {
	v, ok := apiVersion(w, r)
	if !ok {
		return
	}
	b := baseURL(r)
	out := map[string]any{
		"self":         b + "/rest/api/" + v + "/user?accountId=" + s.user.accountID,
		"accountId":    s.user.accountID,
		"accountType":  "atlassian",
		"emailAddress": s.user.email,
		"displayName":  s.user.name,
		"active":       true,
		"timeZone":     "Etc/UTC",
		"locale":       "en_US",
	}
	if v == "2" {
		// Data Center identifies users by name and key as well.
		out["name"] = s.user.email
		out["key"] = "JIRAUSER" + s.user.accountID[:5]
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) boardID(w http.ResponseWriter, r *http.Request) bool {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id != s.o.BoardID {
		writeErr(w, http.StatusNotFound, "Board does not exist or you do not have permission to see it.")
		return false
	}
	return true
}

func (s *Server) boardName() string { return s.o.Project + " board" }

func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	if !s.boardID(w, r) {
		return
	}
	b := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":   s.o.BoardID,
		"self": fmt.Sprintf("%s/rest/agile/1.0/board/%d", b, s.o.BoardID),
		"name": s.boardName(),
		"type": "scrum",
		"location": map[string]any{
			"projectId": 10000, "projectKey": s.o.Project, "projectName": s.o.Project,
			"projectTypeKey": "software", "displayName": s.o.Project + " (" + s.o.Project + ")",
			"name": s.o.Project,
		},
	})
}

func (s *Server) boardConfig(w http.ResponseWriter, r *http.Request) {
	if !s.boardID(w, r) {
		return
	}
	b := baseURL(r)
	type ref struct {
		ID   string `json:"id"`
		Self string `json:"self"`
	}
	type column struct {
		Name     string `json:"name"`
		Statuses []ref  `json:"statuses"`
	}
	// Columns list their statuses by id only, several to a column where
	// the board has them, as the documented example does ("To Do" holds 1
	// and 4); a client must not expect a status name here.
	var cols []column
	for _, c := range boardColumns {
		col := column{Name: c.name}
		for _, st := range c.statuses {
			id := workflowStatusIDs[st]
			col.Statuses = append(col.Statuses, ref{ID: id, Self: b + "/rest/api/2/status/" + id})
		}
		cols = append(cols, col)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":   s.o.BoardID,
		"name": s.boardName(),
		"type": "scrum",
		"self": fmt.Sprintf("%s/rest/agile/1.0/board/%d/configuration", b, s.o.BoardID),
		"location": map[string]any{
			"type": "project", "key": s.o.Project, "id": "10000",
			"self": b + "/rest/api/2/project/10000", "name": s.o.Project,
		},
		"filter":       ref{ID: "10040", Self: b + "/rest/api/2/filter/10040"},
		"columnConfig": map[string]any{"columns": cols, "constraintType": "none"},
		"estimation": map[string]any{
			"type":  "field",
			"field": map[string]string{"fieldId": "customfield_10016", "displayName": "Story point estimate"},
		},
		"ranking": map[string]int{"rankCustomFieldId": rankFieldID},
	})
}

// searchParams is what both search flavours accept, from the query string
// or from a JSON body.
type searchParams struct {
	jql     string
	fields  []string
	max     int
	maxSet  bool
	startAt int
	token   string
}

func readSearchParams(r *http.Request) (searchParams, error) {
	var p searchParams
	if r.Method == http.MethodPost {
		var body struct {
			JQL           string          `json:"jql"`
			MaxResults    *int            `json:"maxResults"`
			StartAt       int             `json:"startAt"`
			Fields        json.RawMessage `json:"fields"`
			NextPageToken string          `json:"nextPageToken"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return p, fmt.Errorf("Invalid request payload. Refer to the REST API documentation and try again.")
		}
		p.jql, p.startAt, p.token = body.JQL, body.StartAt, body.NextPageToken
		if body.MaxResults != nil {
			p.max, p.maxSet = *body.MaxResults, true
		}
		if len(body.Fields) > 0 && string(body.Fields) != "null" {
			var list []string
			if err := json.Unmarshal(body.Fields, &list); err != nil {
				var one string
				if err := json.Unmarshal(body.Fields, &one); err != nil {
					return p, fmt.Errorf("Invalid request payload: fields must be an array of strings.")
				}
				list = []string{one}
			}
			p.fields = list
		}
		return p, nil
	}
	q := r.URL.Query()
	p.jql, p.token = q.Get("jql"), q.Get("nextPageToken")
	p.fields = q["fields"]
	var err error
	if v := q.Get("maxResults"); v != "" {
		if p.max, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("The value '%s' is not a valid number for the 'maxResults' parameter.", v)
		}
		p.maxSet = true
	}
	if v := q.Get("startAt"); v != "" {
		if p.startAt, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("The value '%s' is not a valid number for the 'startAt' parameter.", v)
		}
	}
	return p, nil
}

// limit applies Cloud's rule: the server caps maxResults and honours any
// smaller value.
func (s *Server) limit(p searchParams) int {
	if !p.maxSet || p.max <= 0 || p.max > s.o.PageSize {
		return s.o.PageSize
	}
	return p.max
}

// searchJQL is Cloud's enhanced search: token paging, bounded JQL, and only
// ids unless fields are asked for.
func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request) {
	v, ok := apiVersion(w, r)
	if !ok {
		return
	}
	p, err := readSearchParams(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	fs := parseFieldSet(p.fields, nil)
	w, done := s.buffer(w)
	defer done()
	order, msgs := s.search(p.jql, true)
	if msgs != nil {
		writeErr(w, http.StatusBadRequest, msgs...)
		return
	}
	start := 0
	fp := fingerprint(p.jql)
	if p.token != "" {
		anchor, ok := s.decodeToken(p.token, fp)
		if !ok {
			writeErr(w, http.StatusBadRequest, "The provided next page token is invalid or expired.")
			return
		}
		// Resume after the anchor's place in the order rather than at an
		// offset, so cards moving between pages are neither repeated nor
		// skipped when they leave the result.
		start = len(order.idx)
		for i, idx := range order.idx {
			if order.less(anchor, idx) {
				start = i
				break
			}
		}
	}
	end := min(start+s.limit(p), len(order.idx))
	b := baseURL(r)
	issues := make([]issueJSON, 0, end-start)
	for _, idx := range order.idx[start:end] {
		issues = append(issues, s.issueJSON(b, v, idx, fs))
	}
	out := map[string]any{"issues": issues, "isLast": end >= len(order.idx)}
	switch {
	case end < len(order.idx):
		out["nextPageToken"] = encodeToken(fp, s.issues[order.idx[end-1]].Key)
	case p.token == "":
		// The platform document says both: the parameter's description
		// has the token "not included in the response for the last page",
		// the result's schema has it "null" on "the last or the only
		// page". The only page says null; a last page after others leaves
		// it out.
		out["nextPageToken"] = nil
	}
	writeJSON(w, http.StatusOK, out)
}

// searchStartAt is the offset-paged search of Data Center (and of Cloud
// before enhanced search). Cloud retired it for v3, so that answers 410.
func (s *Server) searchStartAt(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("v") == "3" {
		writeErr(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")
		return
	}
	v, ok := apiVersion(w, r)
	if !ok {
		return
	}
	p, err := readSearchParams(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.startAt < 0 {
		p.startAt = 0
	}
	fs := parseFieldSet(p.fields, []string{"*navigable"})
	w, done := s.buffer(w)
	defer done()
	order, msgs := s.search(p.jql, false)
	if msgs != nil {
		writeErr(w, http.StatusBadRequest, msgs...)
		return
	}
	limit := s.limit(p)
	if p.maxSet && p.max == 0 {
		limit = 0 // a count-only request, as Data Center allows
	}
	start := min(p.startAt, len(order.idx))
	end := min(start+limit, len(order.idx))
	b := baseURL(r)
	issues := make([]issueJSON, 0, end-start)
	for _, idx := range order.idx[start:end] {
		issues = append(issues, s.issueJSON(b, v, idx, fs))
	}
	out := map[string]any{
		"expand":     "schema,names",
		"startAt":    p.startAt,
		"maxResults": limit,
		"issues":     issues,
	}
	// The documented result requires none of its properties; with
	// OmitTotal the answer says nothing of where the result ends.
	if !s.o.OmitTotal {
		out["total"] = len(order.idx)
	}
	writeJSON(w, http.StatusOK, out)
}

func fingerprint(jql string) string {
	return strconv.FormatUint(hash(strings.Join(strings.Fields(jql), " ")), 36)
}

func encodeToken(fp, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + fp + "|" + key))
}

// decodeToken is called with s.mu held.
func (s *Server) decodeToken(tok, fp string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != "v1" || parts[1] != fp {
		return 0, false
	}
	idx, ok := s.byKey[strings.ToUpper(parts[2])]
	return idx, ok
}

// lookup finds an issue by key or by id; it is called with s.mu held.
func (s *Server) lookup(ref string) (int, bool) {
	if idx, ok := s.byKey[strings.ToUpper(ref)]; ok {
		return idx, true
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 10000 && n-10000 < len(s.issues) {
		return n - 10000, true
	}
	return 0, false
}

const noIssue = "Issue does not exist or you do not have permission to see it."

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := apiVersion(w, r)
	if !ok {
		return
	}
	fs := parseFieldSet(r.URL.Query()["fields"], []string{"*all"})
	w, done := s.buffer(w)
	defer done()
	idx, ok := s.lookup(r.PathValue("key"))
	if !ok {
		writeErr(w, http.StatusNotFound, noIssue)
		return
	}
	writeJSON(w, http.StatusOK, s.issueJSON(baseURL(r), v, idx, fs))
}

type transitionJSON struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	To            statusJSON      `json:"to"`
	HasScreen     bool            `json:"hasScreen"`
	IsGlobal      bool            `json:"isGlobal"`
	IsInitial     bool            `json:"isInitial"`
	IsAvailable   bool            `json:"isAvailable"`
	IsConditional bool            `json:"isConditional"`
	IsLooped      bool            `json:"isLooped"`
	Fields        *map[string]any `json:"fields,omitempty"`
}

func (s *Server) getTransitions(w http.ResponseWriter, r *http.Request) {
	v, ok := apiVersion(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	withFields := strings.Contains(q.Get("expand"), "transitions.fields")
	only := q.Get("transitionId")
	w, done := s.buffer(w)
	defer done()
	idx, ok := s.lookup(r.PathValue("key"))
	if !ok {
		writeErr(w, http.StatusNotFound, noIssue)
		return
	}
	b := baseURL(r)
	out := []transitionJSON{}
	for _, t := range allowedMoves[s.issues[idx].Status] {
		if only != "" && only != t.id {
			continue
		}
		tj := transitionJSON{ID: t.id, Name: t.name, To: s.statusJSON(b, v, t.to), IsAvailable: true}
		if withFields {
			// No transition of this workflow has a screen, so no fields.
			tj.Fields = &map[string]any{}
		}
		out = append(out, tj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": out})
}

func (s *Server) postTransition(w http.ResponseWriter, r *http.Request) {
	if _, ok := apiVersion(w, r); !ok {
		return
	}
	var body struct {
		Transition *struct {
			ID json.RawMessage `json:"id"`
		} `json:"transition"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "Invalid request payload. Refer to the REST API documentation and try again.")
		return
	}
	if body.Transition == nil || len(body.Transition.ID) == 0 {
		writeErr(w, http.StatusBadRequest, "Missing 'transition' identifier")
		return
	}
	// Jira takes the id as a string or a number.
	id := strings.Trim(string(body.Transition.ID), `"`)
	w, done := s.buffer(w)
	defer done()
	idx, ok := s.lookup(r.PathValue("key"))
	if !ok {
		writeErr(w, http.StatusNotFound, noIssue)
		return
	}
	for _, t := range allowedMoves[s.issues[idx].Status] {
		if t.id == id {
			s.issues[idx].Status = t.to
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeErr(w, http.StatusBadRequest, fmt.Sprintf("Transition id '%s' is not valid for this issue.", id))
}
