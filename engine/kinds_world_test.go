package engine

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/snapshot"
	"github.com/flightdeckhq/flightdeck/sources"
)

// One deployment per kube kind, so each starts from a state of its own.
var kubeKindNames = []string{"pauseme", "resumeme", "restartme", "scaleme", "rollbackme"}

// kinds is the world the test's cockpit acts on.
type kinds struct {
	info  *sandbox.Info
	cs    kubernetes.Interface
	ns    string
	pgDSN string // superuser, on the test's own database
	// cloneDSN is a second database of the test's own, the clone the
	// migrations' dry run measures on; migrations is the migration file.
	cloneDSN   string
	migrations string
	jiraTS     *httptest.Server
	repo       string
}

func kindsWorld(t *testing.T, ctx context.Context, info *sandbox.Info, id string) *kinds {
	t.Helper()
	w := &kinds{info: info}
	rc, _, err := sources.KubeRESTConfig(&config.Kubernetes{Kubeconfig: info.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	if w.cs, err = kubernetes.NewForConfig(rc); err != nil {
		t.Fatal(err)
	}
	w.ns = "kinds-" + id
	if _, err := w.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: w.ns, Labels: map[string]string{"flightdeck.test/package": "engine"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", w.ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.cs.CoreV1().Namespaces().Delete(ctx, w.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", w.ns, err)
		}
	})
	prod, err := w.cs.AppsV1().Deployments(k8s.Namespace).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read production/api to copy: %v", err)
	}
	for _, name := range kubeKindNames {
		w.deploy(t, ctx, prod.Spec, name)
	}
	for _, name := range kubeKindNames {
		if err := k8s.WaitRolledOut(ctx, info.Kubeconfig, w.ns, name, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	w.pgDSN = kindsDatabase(t, ctx, info.PostgresAdmin, "kinds_"+id)
	w.cloneDSN = kindsDatabase(t, ctx, info.PostgresAdmin, "kinds_clone_"+id)
	w.migrations = filepath.Join(t.TempDir(), "001_note.sql")
	if err := os.WriteFile(w.migrations, []byte(kindsMigration), 0o644); err != nil {
		t.Fatal(err)
	}

	w.jiraTS = httptest.NewServer(jirastub.New(jirastub.Options{}).Handler())
	t.Cleanup(w.jiraTS.Close)

	w.repo = filepath.Join(t.TempDir(), "repo")
	if out, err := exec.CommandContext(ctx, "git", "clone", "-q", info.GitOrigin, w.repo).CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", info.GitOrigin, err, out)
	}
	return w
}

// kindsMigration is what the dry-run step measures on the clone: a column
// (ACCESS EXCLUSIVE, at once) and an index built the blocking way (SHARE
// for the build).
const kindsMigration = `SET lock_timeout = '1s';
ALTER TABLE t ADD COLUMN IF NOT EXISTS note text;
CREATE INDEX IF NOT EXISTS t_n_idx ON t (n);
`

// deploy makes a one-pod copy of production's api, with a selector of its
// own so deployments sharing the namespace never see each other's pods.
func (w *kinds) deploy(t testing.TB, ctx context.Context, prod appsv1.DeploymentSpec, name string) {
	t.Helper()
	spec := prod.DeepCopy()
	one := int32(1)
	spec.Replicas, spec.Paused = &one, false
	labels := map[string]string{"app": name}
	spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	spec.Template.Labels = labels
	delete(spec.Template.Annotations, "kubectl.kubernetes.io/restartedAt")
	spec.Template.Spec.Containers[0].Image = k8s.Image("release-1a2b3c4")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns, Labels: labels}, Spec: *spec}
	if _, err := w.cs.AppsV1().Deployments(w.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", w.ns, name, err)
	}
}

func (w *kinds) get(t *testing.T, ctx context.Context, name string) *appsv1.Deployment {
	t.Helper()
	d, err := w.cs.AppsV1().Deployments(w.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// kindsDatabase makes a database of the test's own, so the root blockers a
// signal step finds can only be the test's sessions, and returns a DSN for
// it as a superuser.
func kindsDatabase(t *testing.T, ctx context.Context, adminDSN, name string) string {
	t.Helper()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dsn := u.String()
	s := sandboxtest.OpenSession(t, dsn, "kinds-setup")
	s.Exec("CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 5) g")
	return dsn
}

// waits blocks until the test database shows n sessions waiting for a lock.
func (w *kinds) waits(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	p := &sources.LockProbe{Target: config.PostgresTarget{Name: "kinds", DSN: w.pgDSN}}
	defer p.Close()
	var last snapshot.TargetLocks
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tl, err := p.Read(ctx)
		if err == nil {
			if last = tl; len(tl.Waits) == n {
				return
			}
		}
	}
	t.Fatalf("want %d waiting sessions; last read %+v", n, last.Waits)
}

// start writes the config, with a section for every system, and starts the
// cockpit on it with its sources running.
func (w *kinds) start(t *testing.T, steps, id string) *harness {
	t.Helper()
	password := func(dsn string) (string, string) {
		u, err := url.Parse(dsn)
		if err != nil || u.User == nil {
			return dsn, ""
		}
		pw, _ := u.User.Password()
		u.User = url.User(u.User.Username())
		return u.String(), pw
	}
	dsn, pw := password(w.pgDSN)
	cloneDSN, _ := password(w.cloneDSN)
	t.Setenv("FD_KINDS_PG_PASSWORD", pw)
	t.Setenv("FD_KINDS_JIRA_TOKEN", jirastub.DefaultToken)
	t.Setenv("FD_KINDS_SLACK_WEBHOOK", w.info.SlackWebhook)
	pgPassword := ""
	if pw != "" {
		pgPassword = `password = "env:FD_KINDS_PG_PASSWORD"`
	}
	doc := fmt.Sprintf(`
[deploy]
name = "Every action kind"
environment = "production"
release = "kinds-%s"

[window]
start = "00:00"
end = "23:59"
timezone = "UTC"

[[phase]]
name = "Every kind"
%s
[kubernetes]
kubeconfig = %q
namespaces = [%q]
deployments = [%s]

[postgres]
poll = "1s"

[[postgres.target]]
name = "kinds"
dsn = %q
%s

[[postgres.target]]
name = "kinds-clone"
dsn = %q
%s

[migrations]
files = [%q]
target = "kinds"

[git]
repo = %q

[jira]
url = %q
email = %q
token = "env:FD_KINDS_JIRA_TOKEN"
board = 12
project = "ACME"

[[jira.column]]
name = "In Progress"
[[jira.column]]
name = "Code Review"
[[jira.column]]
name = "Merged to Master"
[[jira.column]]
name = "Staging"
[[jira.column]]
name = "QA Hold"
[[jira.column]]
name = "Testing For Production"
[[jira.column]]
name = "Production"

[[jira.move]]
from = ["Staging", "QA Hold", "Testing For Production"]
to = "Production"

[sentry]
url = %q
org = %q
projects = [%q]
environment = "production"
token = %q

[slack]
webhook = "env:FD_KINDS_SLACK_WEBHOOK"
channel = "#general"
`, id, steps, w.info.Kubeconfig, w.ns, `"`+strings.Join(kubeKindNames, `", "`)+`"`, dsn, pgPassword, cloneDSN, pgPassword, w.migrations, w.repo,
		w.jiraTS.URL, jirastub.DefaultEmail, w.info.SentryURL, sandbox.SentryOrg, sandbox.SentryProj, "file:"+w.info.SentryTokenFile)
	dir := t.TempDir()
	path := filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatalf("the test's config: %v", err)
	}
	rc, _, err := sources.KubeRESTConfig(cfg.Kubernetes)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(dir, "journal.jsonl")
	j, _, err := journal.Open(jpath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	now := time.Now()
	return startHarness(t, Options{Config: cfg, Runbook: runbook.New(cfg), Journal: j, Operator: "tester",
		Day: now, Now: now, Kube: kube, Redact: cfg.Redactor().Redact})
}
