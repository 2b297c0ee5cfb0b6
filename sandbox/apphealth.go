package sandbox

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
)

// AppHealthPath is where the daemon serves the application's health
// endpoint, on a listener of its own (Services.AppAddr).
const AppHealthPath = "/app/health"

// AppHealth stands in for the application's own health endpoint: pods do
// not serve HTTP in a kwok cluster, so the daemon answers for them, from
// the image production runs. A bad release answers 503, as an application
// whose dependencies broke does behind its load balancer; the good one
// answers 200 naming its release.
type AppHealth struct {
	// Image is the image the application runs now; "" while unknown.
	Image func() string
}

// NewAppHealth answers for the deployment's image in namespace, read
// through kubeconfig at most every two seconds. The daemon's is
// production's api; a test points one at a deployment of its own.
func NewAppHealth(kubeconfig, namespace, deployment string, log *slog.Logger) AppHealth {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &imageWatch{kubeconfig: kubeconfig, namespace: namespace, deployment: deployment, log: log}
	return AppHealth{Image: w.current}
}

type appHealthBody struct {
	Status  string `json:"status"`
	Release string `json:"release,omitempty"`
}

func (h AppHealth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != AppHealthPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	status, body := h.answer()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// answer is the endpoint's decision. Before the image is known the
// application is taken to be starting: an unknown state must not pass a
// smoke check.
func (h AppHealth) answer() (int, appHealthBody) {
	img := ""
	if h.Image != nil {
		img = h.Image()
	}
	switch {
	case img == "":
		return http.StatusServiceUnavailable, appHealthBody{Status: "starting"}
	case sentrystub.BadImage(img):
		return http.StatusServiceUnavailable, appHealthBody{Status: "degraded"}
	}
	return http.StatusOK, appHealthBody{Status: "ok", Release: sentrystub.ImageTag(img)}
}
