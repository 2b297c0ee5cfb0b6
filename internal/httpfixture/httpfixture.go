// Package httpfixture serves recorded HTTP answers byte for byte, so that a
// client's tests meet the vendor's own examples rather than a stand-in
// written by the same hands as the client.
//
// A fixture file is one HTTP response as it crosses the wire: the status
// line, the headers, a blank line and the body. Headers are sent as written,
// Date and Content-Type included, and the body is not re-encoded.
package httpfixture

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Response is a parsed fixture.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Load reads a fixture file.
func Load(t testing.TB, path string) Response {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture %s: %v", path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("fixture %s is not an HTTP response: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("fixture %s: reading its body: %v", path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// Route answers the requests with Method and Path (the escaped path) whose
// query has every value in Query, with the fixture File. Routes are tried in
// order.
type Route struct {
	Method string
	Path   string
	Query  url.Values
	File   string
}

// Request is what the client sent, kept for the test to look at.
type Request struct {
	Method string
	Path   string // escaped
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Server is an httptest server answering from fixtures. A request no route
// matches fails the test: a client that wanders off the documented paths is
// what these tests are for.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
}

// Serve starts a server answering from the fixtures in dir; it is closed when
// the test ends.
func Serve(t testing.TB, dir string, routes ...Route) *Server {
	t.Helper()
	loaded := make([]Response, len(routes))
	for i, r := range routes {
		loaded[i] = Load(t, filepath.Join(dir, r.File))
	}
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		for i, rt := range routes {
			if rt.Method != r.Method || rt.Path != r.URL.EscapedPath() || !hasAll(r.URL.Query(), rt.Query) {
				continue
			}
			f := loaded[i]
			for k, vs := range f.Header {
				w.Header()[k] = append([]string(nil), vs...)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
			w.WriteHeader(f.Status)
			_, _ = w.Write(f.Body)
			return
		}
		t.Errorf("no fixture answers %s %s", r.Method, r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(s.Close)
	return s
}

func hasAll(got, want url.Values) bool {
	for k, vs := range want {
		g := got[k]
		if len(g) != len(vs) {
			return false
		}
		for i := range vs {
			if g[i] != vs[i] {
				return false
			}
		}
	}
	return true
}

// Requests returns what the server has been sent so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}
