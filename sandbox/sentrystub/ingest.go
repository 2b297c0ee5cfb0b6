package sentrystub

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds a request body both before and after decompression, so a
// small gzip bomb cannot exhaust memory.
const maxBody = 20 << 20

// Relay replaces timestamps outside this window by the time of receipt.
const (
	maxFuture = 60 * time.Second
	maxPast   = 30 * 24 * time.Hour
)

var errTooLarge = errors.New("envelope exceeded size limits")

// event is one accepted error event, reduced to what the API can query.
type event struct {
	id          string
	at          time.Time
	project     int
	environment string
	release     string
	level       string
	etype       string // "error" with an exception, "default" otherwise
	message     string // formatted message or "Type: value", for free-text search
	excType     string
	excValue    string
	transaction string
	userKey     string // Sentry's sentry:user value: id, username, email or ip
	user        wireUser
	tags        map[string]string
	issue       *issue
}

type envelope struct {
	header envelopeHeader
	items  []envelopeItem
}

type envelopeHeader struct {
	EventID string `json:"event_id"`
	DSN     string `json:"dsn"`
}

type envelopeItem struct {
	Type    string `json:"type"`
	Length  *int   `json:"length"`
	payload []byte
}

// parseEnvelope splits an envelope into its header and items following the
// envelope format: a header line, then items each made of a header line and a
// payload that is either exactly "length" bytes or runs to the next newline.
func parseEnvelope(b []byte) (*envelope, error) {
	line, rest := cutLine(b)
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, errors.New("missing envelope header")
	}
	env := &envelope{}
	if err := json.Unmarshal(line, &env.header); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var it envelopeItem
		if err := json.Unmarshal(line, &it); err != nil {
			return nil, fmt.Errorf("item header %d: %w", len(env.items), err)
		}
		if it.Type == "" {
			return nil, fmt.Errorf("item header %d: missing type", len(env.items))
		}
		if it.Length != nil {
			n := *it.Length
			if n < 0 || n > len(rest) {
				return nil, fmt.Errorf("item %d: length %d exceeds the %d bytes left", len(env.items), n, len(rest))
			}
			it.payload, rest = rest[:n], rest[n:]
			if len(rest) > 0 {
				if rest[0] != '\n' {
					return nil, fmt.Errorf("item %d: payload not followed by a newline", len(env.items))
				}
				rest = rest[1:]
			}
		} else {
			it.payload, rest = cutLine(rest)
		}
		env.items = append(env.items, it)
	}
	return env, nil
}

func cutLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), rest
}

// readBody reads a request body, undoing Content-Encoding.
func readBody(r *http.Request) ([]byte, int, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
	if len(raw) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, errTooLarge
	}
	var dec io.Reader
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return raw, 0, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)
		}
		dec = zr
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped, but some clients send raw
		// deflate; accept both as Relay does.
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			dec = zr
		} else {
			dec = flate.NewReader(bytes.NewReader(raw))
		}
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported content encoding %q", enc)
	}
	out, err := io.ReadAll(io.LimitReader(dec, maxBody+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("decompressing body: %w", err)
	}
	if len(out) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, errTooLarge
	}
	return out, 0, nil
}

// publicKey finds the DSN key the way Relay does: X-Sentry-Auth, then an
// Authorization header in the same format, then the sentry_key query
// parameter, then the DSN in the envelope header.
func publicKey(r *http.Request, envelopeDSN string) string {
	for _, h := range []string{r.Header.Get("X-Sentry-Auth"), r.Header.Get("Authorization")} {
		h = strings.TrimSpace(h)
		if len(h) < 7 || !strings.EqualFold(h[:7], "sentry ") {
			continue
		}
		for _, part := range strings.Split(h[7:], ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.TrimSpace(k) == "sentry_key" {
				return strings.TrimSpace(v)
			}
		}
	}
	if k := r.URL.Query().Get("sentry_key"); k != "" {
		return k
	}
	if envelopeDSN != "" {
		if at := strings.Index(envelopeDSN, "@"); at > 0 {
			userinfo := envelopeDSN[:at]
			if i := strings.Index(userinfo, "://"); i >= 0 {
				userinfo = userinfo[i+3:]
			}
			key, _, _ := strings.Cut(userinfo, ":")
			return key
		}
	}
	return ""
}

// authorizeIngest checks the project in the path against the key; it returns
// a status and message to reply with when they do not match.
func (s *Server) authorizeIngest(r *http.Request, envelopeDSN string) (int, int, string) {
	id, err := strconv.Atoi(r.PathValue("project_id"))
	if err != nil {
		return 0, http.StatusBadRequest, "invalid project path parameter"
	}
	key := publicKey(r, envelopeDSN)
	if key == "" {
		return 0, http.StatusUnauthorized, "missing authorization information"
	}
	p := s.projectByID(id)
	if p == nil || p.Key != key {
		return 0, http.StatusForbidden, "event submission rejected with_reason: ProjectId"
	}
	return id, 0, ""
}

func (s *Server) handleEnvelope(w http.ResponseWriter, r *http.Request) {
	body, status, err := readBody(r)
	if err != nil {
		writeDetail(w, status, err.Error())
		return
	}
	env, err := parseEnvelope(body)
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "invalid envelope: "+err.Error())
		return
	}
	project, status, msg := s.authorizeIngest(r, env.header.DSN)
	if status != 0 {
		writeDetail(w, status, msg)
		return
	}
	received := s.now()
	for _, it := range env.items {
		// Only error events feed issues and events-stats; transactions,
		// sessions, client reports, logs and attachments are accepted and
		// dropped, as a project with those products disabled would.
		if it.Type != "event" {
			continue
		}
		ev, err := decodeEvent(it.payload, received)
		if err != nil {
			// Relay answers before processing, so a bad item never
			// fails the request; it is discarded later.
			continue
		}
		if ev.id == "" {
			ev.id = env.header.EventID
		}
		s.ingest(project, ev)
	}
	resp := map[string]string{}
	if env.header.EventID != "" {
		resp["id"] = env.header.EventID
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleStore accepts the legacy single-event endpoint, which current SDKs
// (sentry-go included) no longer use but older ones and curl scripts do.
func (s *Server) handleStore(w http.ResponseWriter, r *http.Request) {
	body, status, err := readBody(r)
	if err != nil {
		writeDetail(w, status, err.Error())
		return
	}
	project, status, msg := s.authorizeIngest(r, "")
	if status != 0 {
		writeDetail(w, status, msg)
		return
	}
	// Very old SDKs send base64 of zlib-compressed JSON without saying so.
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' {
		if dec, err := base64.StdEncoding.DecodeString(string(t)); err == nil {
			if zr, err := zlib.NewReader(bytes.NewReader(dec)); err == nil {
				if out, err := io.ReadAll(io.LimitReader(zr, maxBody+1)); err == nil && len(out) <= maxBody {
					body = out
				}
			}
		}
	}
	ev, err := decodeEvent(body, s.now())
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "invalid event: "+err.Error())
		return
	}
	if ev.id == "" {
		ev.id = randomHex(16)
	}
	s.ingest(project, ev)
	writeJSON(w, http.StatusOK, map[string]string{"id": ev.id})
}

// flexString accepts any JSON scalar where the protocol says string, since
// SDKs send numbers for user ids, tag values and the like and Relay coerces
// them rather than rejecting the event.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	t := bytes.TrimSpace(b)
	if bytes.Equal(t, []byte("null")) {
		*f = ""
		return nil
	}
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return nil
	}
	*f = flexString(t)
	return nil
}

type wireUser struct {
	ID        flexString `json:"id"`
	Username  flexString `json:"username"`
	Email     flexString `json:"email"`
	IPAddress flexString `json:"ip_address"`
}

type wireFrame struct {
	Function flexString `json:"function"`
	Module   flexString `json:"module"`
	Filename flexString `json:"filename"`
	AbsPath  flexString `json:"abs_path"`
	InApp    *bool      `json:"in_app"`
}

type wireException struct {
	Type       flexString `json:"type"`
	Value      flexString `json:"value"`
	Module     flexString `json:"module"`
	Stacktrace *struct {
		Frames []wireFrame `json:"frames"`
	} `json:"stacktrace"`
	Mechanism *struct {
		Handled *bool `json:"handled"`
	} `json:"mechanism"`
}

type wireLogEntry struct {
	Message   flexString `json:"message"`
	Formatted flexString `json:"formatted"`
}

type wireEvent struct {
	EventID     flexString      `json:"event_id"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Level       flexString      `json:"level"`
	Platform    flexString      `json:"platform"`
	Logger      flexString      `json:"logger"`
	Environment flexString      `json:"environment"`
	Release     flexString      `json:"release"`
	Transaction flexString      `json:"transaction"`
	Culprit     flexString      `json:"culprit"`
	Message     json.RawMessage `json:"message"`
	LogEntry    json.RawMessage `json:"logentry"`
	Exception   json.RawMessage `json:"exception"`
	User        *wireUser       `json:"user"`
	Tags        json.RawMessage `json:"tags"`
	Fingerprint []flexString    `json:"fingerprint"`
	Type        flexString      `json:"type"`
}

// decoded is an event as read off the wire, before grouping.
type decoded struct {
	event
	platform    string
	logger      string
	culprit     string
	title       string
	metadata    map[string]any
	fingerprint []string
	groupKey    string
	unhandled   bool
}

func decodeEvent(payload []byte, received time.Time) (*decoded, error) {
	var w wireEvent
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, err
	}
	if t := string(w.Type); t == "transaction" {
		return nil, errors.New("transactions are not error events")
	}
	d := &decoded{}
	d.id = strings.ReplaceAll(string(w.EventID), "-", "")
	d.at = clampTimestamp(parseTimestamp(w.Timestamp), received)
	d.platform = strings.TrimSpace(string(w.Platform))
	d.logger = string(w.Logger)
	d.environment = strings.TrimSpace(string(w.Environment))
	if !validEnvironment(d.environment) {
		d.environment = ""
	}
	d.release = strings.TrimSpace(string(w.Release))
	if !validRelease(d.release) {
		d.release = ""
	}
	d.transaction = string(w.Transaction)
	d.tags = decodeTags(w.Tags)
	if w.User != nil {
		d.user = *w.User
		switch {
		case w.User.ID != "":
			d.userKey = "id:" + string(w.User.ID)
		case w.User.Username != "":
			d.userKey = "username:" + string(w.User.Username)
		case w.User.Email != "":
			d.userKey = "email:" + string(w.User.Email)
		case w.User.IPAddress != "":
			d.userKey = "ip:" + string(w.User.IPAddress)
		}
	}
	for _, f := range w.Fingerprint {
		d.fingerprint = append(d.fingerprint, string(f))
	}

	excs := decodeExceptions(w.Exception)
	formatted, template := decodeMessage(w.LogEntry)
	if formatted == "" {
		formatted, template = decodeMessage(w.Message)
	}
	if len(excs) > 0 {
		// The last exception in values is the outermost one, the one
		// Sentry titles the issue with.
		main := excs[len(excs)-1]
		d.etype = "error"
		d.excType, d.excValue = string(main.Type), string(main.Value)
		d.title = errorTitle(d.excType, d.excValue)
		d.message = d.title
		if formatted != "" {
			d.message = formatted + " " + d.title
		}
		d.metadata = map[string]any{"type": d.excType, "value": truncate(strings.TrimSpace(d.excValue), 1024)}
		d.groupKey = "exc\x00" + d.excType + "\x00" + normalize(d.excValue)
		for _, e := range excs {
			if e.Mechanism != nil && e.Mechanism.Handled != nil && !*e.Mechanism.Handled {
				d.unhandled = true
			}
		}
		if frame := culpritFrame(excs); frame != nil {
			d.metadata["function"] = string(frame.Function)
			if frame.Filename != "" {
				d.metadata["filename"] = string(frame.Filename)
			}
		}
	} else {
		d.etype = "default"
		d.message = formatted
		d.title = truncate(firstLine(formatted), 100)
		if d.title == "" {
			d.title = "<unlabeled event>"
		}
		d.metadata = map[string]any{"title": d.title}
		d.groupKey = "msg\x00" + normalize(template)
	}
	d.level = normalizeLevel(string(w.Level))
	d.culprit = string(w.Culprit)
	if d.culprit == "" {
		d.culprit = d.transaction
	}
	if d.culprit == "" {
		d.culprit = frameCulprit(culpritFrame(excs), d.platform)
	}
	d.culprit = truncate(d.culprit, 200)
	return d, nil
}

func decodeExceptions(raw json.RawMessage) []wireException {
	if len(raw) == 0 {
		return nil
	}
	var list []wireException
	if err := json.Unmarshal(raw, &list); err != nil {
		var obj struct {
			Values []wireException `json:"values"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return nil
		}
		list = obj.Values
	}
	out := list[:0]
	for _, e := range list {
		if e.Type != "" || e.Value != "" {
			out = append(out, e)
		}
	}
	return out
}

// decodeMessage reads "message" (a plain string in the Go SDK, an object
// in the current protocol) or "logentry"; the template groups, the
// formatted text is shown.
func decodeMessage(raw json.RawMessage) (formatted, template string) {
	if len(raw) == 0 {
		return "", ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s
	}
	var le wireLogEntry
	if json.Unmarshal(raw, &le) != nil {
		return "", ""
	}
	formatted, template = string(le.Formatted), string(le.Message)
	if formatted == "" {
		formatted = template
	}
	if template == "" {
		template = formatted
	}
	return formatted, template
}

func decodeTags(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	out := map[string]string{}
	var obj map[string]flexString
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			out[k] = string(v)
		}
		return out
	}
	var pairs [][]flexString
	if json.Unmarshal(raw, &pairs) == nil {
		for _, p := range pairs {
			if len(p) == 2 {
				out[string(p[0])] = string(p[1])
			}
		}
	}
	return out
}

// culpritFrame is the most recent in-app frame of the outermost exception
// that has a stack trace, falling back to its most recent frame.
func culpritFrame(excs []wireException) *wireFrame {
	for i := len(excs) - 1; i >= 0; i-- {
		st := excs[i].Stacktrace
		if st == nil || len(st.Frames) == 0 {
			continue
		}
		for j := len(st.Frames) - 1; j >= 0; j-- {
			if f := &st.Frames[j]; f.InApp != nil && *f.InApp {
				return f
			}
		}
		return &st.Frames[len(st.Frames)-1]
	}
	return nil
}

func frameCulprit(f *wireFrame, platform string) string {
	if f == nil {
		return ""
	}
	fn := string(f.Function)
	if fn == "" {
		fn = "?"
	}
	loc := string(f.Module)
	if loc == "" {
		loc = string(f.Filename)
	}
	switch {
	case platform == "native" || platform == "cocoa" || platform == "objc":
		return fn
	case loc == "":
		return ""
	case platform == "javascript" || platform == "node":
		return fn + "(" + loc + ")"
	}
	return loc + " in " + fn
}

func errorTitle(typ, value string) string {
	v := truncate(firstLine(value), 100)
	switch {
	case typ == "" && v == "":
		return "<unknown>"
	case typ == "":
		return v
	case v == "":
		return typ
	}
	return typ + ": " + v
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// truncate shortens to n characters, ellipsis included, as Sentry's
// truncatechars does for titles.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}

func normalizeLevel(l string) string {
	switch strings.ToLower(strings.TrimSpace(l)) {
	case "fatal", "critical":
		return "fatal"
	case "warning", "warn":
		return "warning"
	case "info", "log":
		return "info"
	case "debug":
		return "debug"
	}
	return "error"
}

// Patterns that vary between occurrences of the same problem. Sentry's
// message parameterisation replaces them before hashing, so that
// "timeout after 2000ms" and "timeout after 2500ms" are one issue.
var (
	reUUID = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b`)
	reHex  = regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b`)
	reIP   = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	reNum  = regexp.MustCompile(`\d+(?:\.\d+)?`)
)

func normalize(s string) string {
	s = reUUID.ReplaceAllString(s, "<uuid>")
	s = reIP.ReplaceAllString(s, "<ip>")
	s = reHex.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(strings.ToLower(m), "0x") || len(m) >= 8 {
			return "<hex>"
		}
		return m
	})
	return reNum.ReplaceAllString(s, "<int>")
}

func parseTimestamp(raw json.RawMessage) time.Time {
	if len(raw) == 0 {
		return time.Time{}
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		if f <= 0 || f > 1e11 || math.IsNaN(f) {
			return time.Time{}
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := parseISO(s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// clampTimestamp mirrors Relay: a missing timestamp, or one too far in the
// future or past, becomes the time of receipt.
func clampTimestamp(t, received time.Time) time.Time {
	if t.IsZero() || t.After(received.Add(maxFuture)) || t.Before(received.Add(-maxPast)) {
		return received.UTC()
	}
	return t.UTC()
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseISO accepts the ISO 8601 forms Sentry's date parser does; a time
// without a zone is UTC.
func parseISO(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date", s)
}

func validRelease(v string) bool {
	t := strings.TrimSpace(v)
	if t == "" || t == "." || t == ".." || strings.EqualFold(t, "latest") || utf8.RuneCountInString(v) > 200 {
		return false
	}
	return !strings.ContainsAny(v, "\r\n\f\t/\\")
}

func validEnvironment(e string) bool {
	return utf8.RuneCountInString(e) <= 64 && !strings.ContainsAny(e, "\r\n\f/")
}

// ingest groups a decoded event into an issue and records it.
func (s *Server) ingest(project int, d *decoded) {
	key := d.groupKey
	if len(d.fingerprint) > 0 && !(len(d.fingerprint) == 1 && isDefaultFingerprint(d.fingerprint[0])) {
		parts := make([]string, len(d.fingerprint))
		for i, f := range d.fingerprint {
			if isDefaultFingerprint(f) {
				f = d.groupKey
			}
			parts[i] = f
		}
		key = "fp\x00" + strings.Join(parts, "\x00")
	}
	sum := sha256.Sum256([]byte(strconv.Itoa(project) + "\x00" + key))
	hash := hex.EncodeToString(sum[:16])

	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.byHash[hash]
	created := iss == nil
	if created {
		s.shortSeq[project]++
		p := s.projectByID(project)
		iss = &issue{
			id:           len(s.issues) + 1,
			shortID:      strings.ToUpper(p.Slug) + "-" + base32(s.shortSeq[project]),
			project:      project,
			title:        d.title,
			culprit:      d.culprit,
			level:        d.level,
			etype:        d.etype,
			platform:     d.platform,
			logger:       d.logger,
			metadata:     d.metadata,
			firstRelease: d.release,
			byEnv:        map[string]*seen{},
		}
		s.byHash[hash] = iss
		s.issues = append(s.issues, iss)
	}
	ev := d.event
	ev.project = project
	ev.issue = iss
	e := &ev
	s.events = append(s.events, e)
	iss.events = append(iss.events, e)
	if d.unhandled {
		iss.unhandled = true
	}
	iss.all.add(e)
	envSeen := iss.byEnv[e.environment]
	if envSeen == nil {
		envSeen = &seen{}
		iss.byEnv[e.environment] = envSeen
	}
	envSeen.add(e)
	// lastRelease is the release whose events were seen most recently, as
	// Sentry derives it from the release tag's last-seen times.
	if e.release != "" && !e.at.Before(iss.lastReleaseAt) {
		iss.lastRelease, iss.lastReleaseAt = e.release, e.at
	}
	s.noteEnv(e.environment, project)
	if e.release != "" {
		rel := s.ensureRelease(e.release, e.at)
		rel.projects[project] = true
		if rel.firstEvent.IsZero() || e.at.Before(rel.firstEvent) {
			rel.firstEvent = e.at
		}
		if e.at.After(rel.lastEvent) {
			rel.lastEvent = e.at
		}
		if created {
			rel.newGroups[project]++
		}
	}
}

func isDefaultFingerprint(f string) bool {
	return strings.ReplaceAll(f, " ", "") == "{{default}}"
}

// base32 renders short-id counters the way Sentry does (Crockford's
// alphabet), so the 33rd issue of APP is APP-11.
func base32(n int) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	if n <= 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 32 {
		b = append([]byte{alphabet[n%32]}, b...)
	}
	return string(b)
}
