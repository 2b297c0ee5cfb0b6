package sources_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sources"
)

// fakeAPI answers the requests flightdeck check makes of an API server:
// /version, namespaces, SelfSubjectAccessReviews and SelfSubjectReviews.
type fakeAPI struct {
	*httptest.Server
	mu         sync.Mutex
	seen       []request
	namespaces map[string]bool
	denied     map[string]bool // "namespace verb resource"
	noReviews  bool            // SelfSubjectAccessReviews are forbidden
}

func newFakeAPI(t *testing.T, namespaces ...string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{namespaces: map[string]bool{}, denied: map[string]bool{}}
	for _, ns := range namespaces {
		f.namespaces[ns] = true
	}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, request{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Accept"), r.Header.Get("User-Agent")})
	w.Header().Set("Content-Type", "application/json")
	status := func(code int, reason string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code})
	}
	switch {
	case r.URL.Path == "/version":
		w.Write([]byte(versionJSON))
	case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"):
		ns := strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/")
		if !f.namespaces[ns] {
			status(http.StatusNotFound, "NotFound")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "Namespace", "apiVersion": "v1", "metadata": map[string]any{"name": ns}})
	case r.URL.Path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
		if f.noReviews {
			status(http.StatusForbidden, "Forbidden")
			return
		}
		// client-go sends built-in types as protobuf, or JSON when told.
		body, _ := io.ReadAll(r.Body)
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
		review, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
		if err != nil || !ok || review.Spec.ResourceAttributes == nil {
			status(http.StatusBadRequest, "BadRequest")
			return
		}
		a := review.Spec.ResourceAttributes
		review.Status.Allowed = !f.denied[a.Namespace+" "+a.Verb+" "+a.Resource]
		review.APIVersion, review.Kind = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(review)
	case r.URL.Path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
			"status": map[string]any{"userInfo": map[string]any{"username": "deployer@acme.test"}}})
	default:
		status(http.StatusNotFound, "NotFound")
	}
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

// kubeconfigFor writes a kubeconfig with one context, sandbox, whose user
// has a static token, pointing at srv and trusting its certificate.
func kubeconfigFor(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	doc := `apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: ` + srv.URL + `
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca) + `
users:
- name: deployer
  user:
    token: kube-tok-77
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: deployer
current-context: sandbox
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeKubernetes(t *testing.T) {
	srv := newFakeAPI(t, "production")
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: kubeconfigFor(t, srv.Server), Context: "sandbox", Namespaces: []string{"production"}}, nil)
	if r.Err != nil {
		t.Fatalf("ProbeKubernetes: %v (fix: %s)", r.Err, r.Fix)
	}
	if want := "Kubernetes v1.36.3, context sandbox; in production every verb the cockpit uses is allowed"; r.Detail != want || r.Target != srv.URL {
		t.Errorf("Reach = %+v, want Detail %q", r, want)
	}
	reviews := 0
	for _, req := range srv.requests() {
		if req.Auth != "Bearer kube-tok-77" {
			t.Errorf("%s %s: Authorization = %q, want the kubeconfig's token", req.Method, req.Path, req.Auth)
		}
		if req.UserAgent != "flightdeck" {
			t.Errorf("%s %s: User-Agent = %q, want flightdeck so the audit log shows who asked", req.Method, req.Path, req.UserAgent)
		}
		if strings.HasSuffix(req.Path, "/selfsubjectaccessreviews") {
			reviews++
		}
	}
	if reviews != len(sources.CockpitRights) {
		t.Errorf("%d access reviews, want one per right the cockpit uses (%d)", reviews, len(sources.CockpitRights))
	}
}

// With no explicit file, kubectl's own rules apply, KUBECONFIG first.
func TestProbeKubernetesDefaultLoadingRules(t *testing.T) {
	srv := newFakeAPI(t)
	t.Setenv("KUBECONFIG", kubeconfigFor(t, srv.Server))
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{}, nil)
	if r.Err != nil || !strings.HasPrefix(r.Detail, "Kubernetes v1.36.3;") {
		t.Errorf("Reach = %+v", r)
	}
}

func TestProbeKubernetesNamesDeniedVerbsAndFix(t *testing.T) {
	srv := newFakeAPI(t, "production", "jobs")
	srv.denied["production patch deployments"] = true
	srv.denied["jobs watch pods"] = true
	srv.denied["jobs list pods"] = true
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: kubeconfigFor(t, srv.Server), Namespaces: []string{"production", "jobs"}}, nil)
	if r.Err == nil {
		t.Fatalf("a user who may not patch deployments passed: %+v", r)
	}
	if want := "may not in jobs: list pods, watch pods; in production: patch deployments"; r.Err.Error() != want {
		t.Errorf("error %q, want %q", r.Err, want)
	}
	for _, want := range []string{"patch on deployments.apps", "bound to deployer@acme.test", "kubectl auth can-i --list -n production", "on pods"} {
		if !strings.Contains(r.Fix, want) {
			t.Errorf("fix %q lacks %q", r.Fix, want)
		}
	}
}

func TestProbeKubernetesMissingNamespace(t *testing.T) {
	srv := newFakeAPI(t, "production")
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: kubeconfigFor(t, srv.Server), Namespaces: []string{"production", "prodution"}}, nil)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "namespace prodution does not exist") || !strings.Contains(r.Fix, "[kubernetes] namespaces") {
		t.Fatalf("Reach = %+v (fix %q)", r, r.Fix)
	}
}

func TestProbeKubernetesReviewsForbidden(t *testing.T) {
	srv := newFakeAPI(t, "production")
	srv.noReviews = true
	r := sources.ProbeKubernetes(probeCtx(t), &config.Kubernetes{Kubeconfig: kubeconfigFor(t, srv.Server), Namespaces: []string{"production"}}, nil)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "may not create selfsubjectaccessreviews") || !strings.Contains(r.Fix, "system:basic-user") {
		t.Fatalf("Reach = %+v (fix %q)", r, r.Fix)
	}
}

// TestProbeKubernetesLockRights: with [lock], check also asks for the
// Lease rights in the lock's namespace, which need not be a watched one.
func TestProbeKubernetesLockRights(t *testing.T) {
	srv := newFakeAPI(t, "production", "deploys")
	k := &config.Kubernetes{Kubeconfig: kubeconfigFor(t, srv.Server), Namespaces: []string{"production"}}
	r := sources.ProbeKubernetes(probeCtx(t), k, &config.Lock{Namespace: "deploys"})
	if r.Err != nil || !strings.Contains(r.Detail, "the deploy lock's Lease in deploys may be read, created and updated") {
		t.Fatalf("every right granted: %+v", r)
	}
	srv.denied["deploys create leases"] = true
	srv.denied["deploys update leases"] = true
	r = sources.ProbeKubernetes(probeCtx(t), k, &config.Lock{Namespace: "deploys"})
	if r.Err == nil || r.Err.Error() != "may not in deploys: create leases, update leases" ||
		!strings.Contains(r.Fix, "in deploys, a Role granting create,update on leases.coordination.k8s.io bound to deployer@acme.test") {
		t.Fatalf("Lease rights denied: %+v (fix %q)", r, r.Fix)
	}
	r = sources.ProbeKubernetes(probeCtx(t), k, &config.Lock{Namespace: "locks"})
	if r.Err == nil || r.Err.Error() != "the deploy lock's namespace locks does not exist" || !strings.Contains(r.Fix, "kubectl create namespace locks") {
		t.Fatalf("the lock's namespace missing: %+v (fix %q)", r, r.Fix)
	}
}
