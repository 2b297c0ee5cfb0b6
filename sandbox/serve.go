package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sandbox/pg"
	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
)

// daemonInputs is what Up hands the daemon before starting it.
type daemonInputs struct {
	PostgresApp string `json:"postgres_app_dsn"`
	Kubeconfig  string `json:"kubeconfig"`
}

const inputsFile = "daemon-inputs.json"

// Serve is the stand-in daemon: Jira, Sentry and a Slack webhook on
// loopback, the application's health endpoint, the Postgres workload, and
// Sentry traffic that follows the image the pods run. It returns when ctx
// ends.
func Serve(ctx context.Context, dir string, logw io.Writer) error {
	log := slog.New(slog.NewTextHandler(logw, nil))
	var in daemonInputs
	b, err := os.ReadFile(filepath.Join(dir, inputsFile))
	if err != nil {
		return fmt.Errorf("reading %s (start the sandbox with `flightdeck-sandbox up`): %w", inputsFile, err)
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	_, jiraToken, err := secret(dir, "jira-token")
	if err != nil {
		return err
	}
	_, sentryToken, err := secret(dir, "sentry-token")
	if err != nil {
		return err
	}
	_, sentryKey, err := secret(dir, "sentry-key")
	if err != nil {
		return err
	}

	// Keep the ports of an earlier run: the written config points at them.
	var prev Services
	if old, err := readServices(dir); err == nil {
		prev = *old
	}
	jiraLn, err := listen(prev.JiraAddr)
	if err != nil {
		return err
	}
	sentryLn, err := listen(prev.SentryAddr)
	if err != nil {
		return err
	}
	slackLn, err := listen(prev.SlackAddr)
	if err != nil {
		return err
	}
	appLn, err := listen(prev.AppAddr)
	if err != nil {
		return err
	}

	jira := jirastub.New(jirastub.Options{
		Email: JiraEmail, Token: jiraToken, BoardID: JiraBoard, Project: JiraProject,
		RateLimit: 20, Latency: 30 * time.Millisecond,
		// As a Data Center may answer; a config switched to flavor
		// "datacenter" then pages without it.
		OmitTotal: true,
	})
	sentry := sentrystub.New(sentrystub.Options{
		Org: SentryOrg, Token: sentryToken, RateLimit: 20,
		Projects: []sentrystub.Project{{ID: 1, Slug: SentryProj, Key: sentryKey}},
	})
	slack := &slackSink{path: filepath.Join(dir, "slack.jsonl")}
	images := &imageWatch{kubeconfig: in.Kubeconfig, log: log}

	servers := []*http.Server{
		{Handler: jira.Handler(), ReadHeaderTimeout: 10 * time.Second},
		{Handler: sentry.Handler(), ReadHeaderTimeout: 10 * time.Second},
		{Handler: slack, ReadHeaderTimeout: 10 * time.Second},
		{Handler: AppHealth{Image: images.current}, ReadHeaderTimeout: 10 * time.Second},
	}
	var wg sync.WaitGroup
	for i, ln := range []net.Listener{jiraLn, sentryLn, slackLn, appLn} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servers[i].Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("server stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}

	sentryAddr := sentryLn.Addr().String()
	svc := Services{
		PID: os.Getpid(), JiraAddr: jiraLn.Addr().String(), SentryAddr: sentryAddr,
		SlackAddr: slackLn.Addr().String(), AppAddr: appLn.Addr().String(), SentryDSN: sentry.DSN("http://"+sentryAddr, SentryProj),
		StartedAt: time.Now().Format(time.RFC3339),
	}

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	pods := NewPodNames(in.Kubeconfig, log)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for wctx.Err() == nil {
			w := &pg.Workload{DSN: in.PostgresApp, Conns: 4, AppName: pods.AppName, Gone: pods.Gone}
			if err := w.Run(wctx); err != nil && wctx.Err() == nil {
				log.Warn("workload", "err", err)
				sleep(wctx, 2*time.Second)
			}
		}
	}()
	go func() {
		defer wg.Done()
		sim := &sentrystub.Simulator{DSN: svc.SentryDSN, Environment: Namespace, Profile: images.profile}
		for wctx.Err() == nil {
			if err := sim.Run(wctx); err != nil && wctx.Err() == nil {
				log.Warn("traffic", "err", err)
				sleep(wctx, 2*time.Second)
			}
		}
	}()

	if err := writeJSON(filepath.Join(dir, ServicesFile), svc); err != nil {
		return err
	}
	log.Info("serving", "jira", svc.JiraAddr, "sentry", svc.SentryAddr, "slack", svc.SlackAddr, "app", svc.AppAddr)
	<-ctx.Done()
	stop()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shut)
	}
	wg.Wait()
	log.Info("stopped")
	return nil
}

func listen(prev string) (net.Listener, error) {
	if prev != "" {
		if ln, err := net.Listen("tcp", prev); err == nil {
			return ln, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// imageWatch reads the image the api deployment runs, at most every two
// seconds, so the error traffic and the health endpoint follow a bad
// release and its rollback.
type imageWatch struct {
	kubeconfig string
	log        *slog.Logger
	mu         sync.Mutex
	client     kubernetes.Interface
	image      string
	readAt     time.Time

	// namespace and deployment are production's api when empty.
	namespace  string
	deployment string
}

func (w *imageWatch) profile() (sentrystub.Profile, string) {
	img := w.current()
	release := img
	if i := strings.LastIndex(img, ":"); i >= 0 {
		release = img[i+1:]
	}
	return sentrystub.ProfileForImage(img), release
}

func (w *imageWatch) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.readAt) < 2*time.Second {
		return w.image
	}
	w.readAt = time.Now()
	if w.client == nil {
		rc, err := clientcmd.BuildConfigFromFlags("", w.kubeconfig)
		if err != nil {
			w.log.Warn("kubeconfig", "err", err)
			return w.image
		}
		rc.Timeout = 2 * time.Second
		w.client, err = kubernetes.NewForConfig(rc)
		if err != nil {
			w.log.Warn("kubernetes client", "err", err)
			return w.image
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ns, name := w.namespace, w.deployment
	if ns == "" {
		ns = Namespace
	}
	if name == "" {
		name = "api"
	}
	d, err := w.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return w.image
	}
	// Pods of the new template serve traffic as soon as they exist, so the
	// errors follow the template, not the rollout's completion.
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		w.image = cs[0].Image
	}
	return w.image
}

// slackSink is a Slack incoming-webhook receiver: it answers "ok" as Slack
// does and keeps every message, one JSON line each.
type slackSink struct {
	mu   sync.Mutex
	path string
}

func (s *slackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/messages":
		s.mu.Lock()
		b, _ := os.ReadFile(s.path)
		s.mu.Unlock()
		var out []json.RawMessage
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				out = append(out, json.RawMessage(l))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/services/"):
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var msg map[string]any
		if err != nil || json.Unmarshal(body, &msg) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		if t, _ := msg["text"].(string); t == "" {
			if _, ok := msg["blocks"]; !ok {
				http.Error(w, "no_text", http.StatusBadRequest)
				return
			}
		}
		line, _ := json.Marshal(map[string]any{"at": time.Now().Format(time.RFC3339), "path": r.URL.Path, "payload": msg})
		s.mu.Lock()
		f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			f.Close()
		}
		s.mu.Unlock()
		if err != nil {
			http.Error(w, "storage_error", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	default:
		http.Error(w, "no_service", http.StatusNotFound)
	}
}
