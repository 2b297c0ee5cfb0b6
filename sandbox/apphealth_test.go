package sandbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

type healthAnswer struct {
	code    int
	Status  string `json:"status"`
	Release string `json:"release"`
}

func getHealth(t *testing.T, url string) healthAnswer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := healthAnswer{code: resp.StatusCode}
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("GET %s: %d %q is not JSON: %v", url, resp.StatusCode, b, err)
		}
	}
	return a
}

// TestAppHealthAnswers: 200 and the release while a good image runs, 503
// degraded while a bad one does, 503 starting before the image is known.
func TestAppHealthAnswers(t *testing.T) {
	var mu sync.Mutex
	image := ""
	srv := httptest.NewServer(sandbox.AppHealth{Image: func() string { mu.Lock(); defer mu.Unlock(); return image }})
	defer srv.Close()
	set := func(img string) { mu.Lock(); image = img; mu.Unlock() }
	for _, c := range []struct {
		image, status, release string
		code                   int
	}{
		{"", "starting", "", 503},
		{k8s.Image(k8s.InitialTag), "ok", k8s.InitialTag, 200},
		{k8s.Image("bad-2026-11-23"), "degraded", "", 503},
		{"registry.local:5000/acme/app:release-5d6e7f8@sha256:abc", "ok", "release-5d6e7f8", 200},
	} {
		set(c.image)
		if a := getHealth(t, srv.URL+sandbox.AppHealthPath); a.code != c.code || a.Status != c.status || a.Release != c.release {
			t.Errorf("%q: %+v, want %d %s %q", c.image, a, c.code, c.status, c.release)
		}
	}
	if a := getHealth(t, srv.URL+"/health"); a.code != 404 {
		t.Errorf("another path: %d", a.code)
	}
	resp, err := http.Post(srv.URL+sandbox.AppHealthPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func kubeClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(rc)
}

// TestAppHealthOnProduction: the endpoint answers for what production's
// api runs, read from the shared sandbox's cluster, and so does the
// daemon's when it serves one. Production is only read: other tests ship
// their releases to it.
func TestAppHealthOnProduction(t *testing.T) {
	info := sandboxtest.Start(t)
	cs := kubeClient(t, info.Kubeconfig)
	srv := httptest.NewServer(sandbox.NewAppHealth(info.Kubeconfig, sandbox.Namespace, "api", nil))
	defer srv.Close()
	urls := []string{srv.URL + sandbox.AppHealthPath}
	if info.AppHealthURL != "" {
		urls = append(urls, info.AppHealthURL)
	} else {
		t.Logf("the running daemon (pid %d) predates the health endpoint; checking it in this process only", info.DaemonPID)
	}
	for _, u := range urls {
		// Another test may change production's image meanwhile: agree with
		// a reading of it on either side of the answer.
		eventually(t, "the answer for production's image at "+u, func() bool {
			before := productionImage(t, cs)
			a := getHealth(t, u)
			after := productionImage(t, cs)
			if before != after {
				return false
			}
			if sentrystub.BadImage(before) {
				return a.code == 503 && a.Status == "degraded"
			}
			return a.code == 200 && a.Status == "ok" && a.Release == sentrystub.ImageTag(before)
		})
	}
}

func productionImage(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	d, err := cs.AppsV1().Deployments(sandbox.Namespace).Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// TestAppHealthFollowsABadRelease: on a deployment of its own, shaped
// like production's api, the endpoint turns 503 when an image tagged bad
// is set, as `kubectl set image … bad-…` does, and 200 again after the
// rollback; a smoke check as the sandbox's config writes it fails and
// passes with it.
func TestAppHealthFollowsABadRelease(t *testing.T) {
	info := sandboxtest.Start(t)
	cs := kubeClient(t, info.Kubeconfig)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var b [3]byte
	_, _ = rand.Read(b[:])
	ns := "smoke-" + hex.EncodeToString(b[:])
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"flightdeck.test/package": "sandbox"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	prod, err := cs.AppsV1().Deployments(sandbox.Namespace).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read production/api to copy: %v", err)
	}
	spec := prod.Spec.DeepCopy()
	one := int32(1)
	spec.Replicas, spec.Paused = &one, false
	spec.Template.Spec.Containers[0].Image = k8s.Image(k8s.InitialTag)
	delete(spec.Template.Annotations, "kubectl.kubernetes.io/restartedAt")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: spec.Template.Labels}, Spec: *spec}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/api: %v", ns, err)
	}
	if err := k8s.WaitRolledOut(ctx, info.Kubeconfig, ns, "api", 90*time.Second); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(sandbox.NewAppHealth(info.Kubeconfig, ns, "api", nil))
	defer srv.Close()
	url := srv.URL + sandbox.AppHealthPath
	smoke, err := sources.NewSmoke([]config.Smoke{{Name: "api health", URL: url, Body: `"status":\s*"ok"`,
		Interval: config.Duration(200 * time.Millisecond), Timeout: config.Duration(2 * time.Second)}}, nil, sources.SmokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	smoke.SetStarted(time.Now())
	var mu sync.Mutex
	var last snapshot.Smoke
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- smoke.Run(sctx, func(s sources.Snapshot[snapshot.Smoke]) { mu.Lock(); last = s.Data; mu.Unlock() })
	}()
	defer func() { stop(); <-done }()
	check := func() snapshot.SmokeCheck {
		mu.Lock()
		defer mu.Unlock()
		if len(last.Checks) == 0 {
			return snapshot.SmokeCheck{}
		}
		return last.Checks[0]
	}

	if a := getHealth(t, url); a.code != 200 || a.Status != "ok" || a.Release != k8s.InitialTag {
		t.Fatalf("the good release: %+v", a)
	}
	eventually(t, "the smoke check to pass", func() bool { c := check(); return c.Runs > 0 && c.Passing })

	bad := k8s.Image("bad-" + time.Now().Format("2006-01-02"))
	if err := k8s.SetImage(ctx, info.Kubeconfig, ns, "api", bad); err != nil {
		t.Fatal(err)
	}
	eventually(t, "503 degraded while the bad release runs", func() bool {
		a := getHealth(t, url)
		return a.code == 503 && a.Status == "degraded"
	})
	eventually(t, "the smoke check to fail with the status", func() bool {
		c := check()
		return !c.Passing && c.Last.Why == "503, want 200"
	})

	if err := k8s.SetImage(ctx, info.Kubeconfig, ns, "api", k8s.Image(k8s.InitialTag)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.WaitRolledOut(ctx, info.Kubeconfig, ns, "api", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "200 again after the rollback", func() bool { return getHealth(t, url).code == 200 })
	eventually(t, "the smoke check to pass again", func() bool { return check().Passing })
	if c := check(); c.Last.Why != "503, want 200" || c.Failures != 0 {
		t.Errorf("after the rollback: %+v", c)
	}
}
