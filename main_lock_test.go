package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/teamlock"
)

// lockWorld is a deploy lock of the test's own on the sandbox's API
// server: a namespace for its Lease (and what else the test deploys),
// removed at cleanup, and a deploy name no other test uses.
type lockWorld struct {
	info   *sandbox.Info
	cs     kubernetes.Interface
	ns     string
	deploy string
	host   string
}

func newLockWorld(t *testing.T) *lockWorld {
	t.Helper()
	info := sandboxtest.Start(t)
	rc, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	w := &lockWorld{info: info, cs: kubernetes.NewForConfigOrDie(rc), ns: "fd-lock-" + id, deploy: "Lock test " + id}
	if w.host, err = os.Hostname(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.cs.CoreV1().Namespaces().Delete(context.Background(), w.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("the test's namespace %s is left on the shared sandbox: %v", w.ns, err)
		}
	})
	return w
}

// config is a small deploy on the sandbox's Kubernetes with [lock] in the
// test's namespace; extra is added to its runbook.
func (w *lockWorld) config(t *testing.T, kubeconfig, deployments, extra string) string {
	t.Helper()
	text := strings.Replace(e2eConfig, `name = "E2E deploy"`, fmt.Sprintf("name = %q\nrelease = \"release-7\"", w.deploy), 1) + extra +
		fmt.Sprintf("\n[kubernetes]\nkubeconfig = %q\nnamespaces = [%q]\ndeployments = [%s]\n\n[lock]\nnamespace = %[2]q\nduration = \"30s\"\n",
			kubeconfig, w.ns, deployments)
	path := filepath.Join(t.TempDir(), "flightdeck.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (w *lockWorld) leaseName() string { return teamlock.LeaseName(w.deploy, "production") }

func (w *lockWorld) lease(t *testing.T) teamlock.State {
	t.Helper()
	st, err := teamlock.New(w.cs, w.ns, w.leaseName(), "test@"+w.host, 30*time.Second).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// age moves the lease's last renewal into the past, as a holder that
// vanished leaves it, so the test need not wait out its duration.
func (w *lockWorld) age(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		lease, err := w.cs.CoordinationV1().Leases(w.ns).Get(ctx, w.leaseName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		past := metav1.NewMicroTime(time.Now().Add(-5 * time.Minute))
		lease.Spec.RenewTime = &past
		if _, err = w.cs.CoordinationV1().Leases(w.ns).Update(ctx, lease, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the lease changed under every attempt to age it")
}

// lockCmd runs flightdeck lock as user and returns its exit code and
// output.
func lockCmd(t *testing.T, bin, cfg, user string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"lock", "--config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "USER="+user, "XDG_STATE_HOME="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestLockCommandOnSandbox: flightdeck lock status, take and release on
// the sandbox's API server, with each exit code the help documents.
func TestLockCommandOnSandbox(t *testing.T) {
	w := newLockWorld(t)
	bin := buildBinary(t)
	cfg := w.config(t, w.info.Kubeconfig, `"api"`, "")
	ana, bob := "ana@"+w.host, "bob@"+w.host
	must := func(wantCode int, user string, args []string, wants ...string) string {
		t.Helper()
		code, out := lockCmd(t, bin, cfg, user, args...)
		if code != wantCode {
			t.Fatalf("lock %s as %s: exit %d, want %d:\n%s", strings.Join(args, " "), user, code, wantCode, out)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("lock %s as %s: output lacks %q:\n%s", strings.Join(args, " "), user, want, out)
			}
		}
		return out
	}
	lease := w.ns + "/" + w.leaseName()

	must(0, "ana", []string{"status"}, lease, "none: the lock is free")
	must(0, "ana", []string{"take"}, "took the deploy lock "+lease+" as "+ana+": "+w.deploy+" · release-7")
	since := w.lease(t).Clock(w.lease(t).Since)
	must(0, "ana", []string{"take", "--reason", "the 10:00 release"}, "renewed the deploy lock")
	must(3, "bob", []string{"take"}, "locked by "+ana+" since "+since+": the 10:00 release", "ask them")
	must(0, "bob", []string{"status"}, "holder      "+ana, "since       "+since, "reason      the 10:00 release", "expires in")
	must(3, "bob", []string{"release", "--reason", "mine now"}, "locked by "+ana, "only its holder may release it")

	// After a rollback (as the cockpit marks it), the lock goes only with
	// a reason.
	at := time.Now().Add(-time.Minute)
	if _, err := teamlock.New(w.cs, w.ns, w.leaseName(), ana, 30*time.Second).MarkRolledBack(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	must(0, "ana", []string{"status"}, "rolled back at  "+w.lease(t).Clock(at))
	must(2, "ana", []string{"release"}, "rolled back at", "--reason")
	if st := w.lease(t); st.Holder != ana {
		t.Fatalf("a refused release let the lock go: %+v", st)
	}
	must(0, "ana", []string{"release", "--reason", "fixed forward in release-8"}, "released the deploy lock "+lease+": fixed forward in release-8")
	must(0, "bob", []string{"status"}, "none: the lock is free", "released  by "+ana)
	must(0, "ana", []string{"release"}, "already free")

	// Someone else's expired lease is taken over, saying whose it was.
	must(0, "bob", []string{"take", "--reason", "hotfix"}, "took the deploy lock")
	w.age(t)
	must(0, "bob", []string{"status"}, "expired", "flightdeck lock take takes it over")
	must(0, "ana", []string{"take"}, "took over the deploy lock "+lease+" from "+bob, "hotfix")

	// No [lock]: a configuration error, not a free lock.
	noLock := filepath.Join(t.TempDir(), "nolock.toml")
	if err := os.WriteFile(noLock, []byte(e2eConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := lockCmd(t, bin, noLock, "ana", "status"); code != 2 || !strings.Contains(out, "no [lock] section") {
		t.Errorf("lock status without [lock]: exit %d:\n%s", code, out)
	}
	// The API server down: exit 1, not "held".
	down := strings.Replace(readFile(t, cfg), w.info.Kubeconfig, "/nonexistent/kubeconfig", 1)
	downCfg := filepath.Join(t.TempDir(), "down.toml")
	if err := os.WriteFile(downCfg, []byte(down), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := lockCmd(t, bin, downCfg, "ana", "take"); code != 1 {
		t.Errorf("lock take with no cluster to ask: exit %d, want 1:\n%s", code, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckOnSandboxLeaseRights: with [lock], a user who may do all the
// cockpit does but not touch Leases fails check naming the verbs and the
// grant; with the grant, it passes.
func TestCheckOnSandboxLeaseRights(t *testing.T) {
	info := sandboxtest.Start(t)
	bin := buildBinary(t)
	lockCfg := e2eConfig + "\n[lock]\nduration = \"1m\"\n"

	token, user := sandboxKubeUser(t, info, cockpitRules("get", "list", "watch", "patch"))
	kc := userKubeconfig(t, info, t.TempDir(), &clientcmdapi.AuthInfo{Token: token})
	code, out := runCheckCmd(t, bin, lockCfg+kubeSection(kc), nil)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{"✕ kubernetes", "may not in production: get leases, create leases, update leases",
		"get,create,update on leases.coordination.k8s.io", user} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	rules := append(cockpitRules("get", "list", "watch", "patch"),
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}})
	token, _ = sandboxKubeUser(t, info, rules)
	kc = userKubeconfig(t, info, t.TempDir(), &clientcmdapi.AuthInfo{Token: token})
	code, out = runCheckCmd(t, bin, lockCfg+kubeSection(kc), nil)
	if code != 0 || !strings.Contains(out, "the deploy lock's Lease in production may be read, created and updated") {
		t.Fatalf("with the Lease rights granted: exit %d:\n%s", code, out)
	}
}

// TestCockpitDeployLockOnSandbox is two people on one deploy: ana's
// cockpit takes the lock; bob's, on the same config with a state of its
// own, opens read-only and says who holds it; ana rolls back, which marks
// the lease, and quits, which leaves it held; her lease lapses, and bob's
// next cockpit takes it over, journals from whom, and says the deploy was
// rolled back; when ana takes it back after bob's lease lapses in turn,
// bob's cockpit says it lost the lock and journals it.
func TestCockpitDeployLockOnSandbox(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	w := newLockWorld(t)
	ctx := context.Background()
	w.deployApp(t, ctx)
	bin := buildBinary(t)
	cfg := w.config(t, w.info.Kubeconfig, `"lockapp"`, `
[[phase.step]]
id = "rollback"
title = "Roll lockapp back"
estimate = "1m"
action = "kube.rollback"
args = { deployment = "lockapp" }
`)
	ana, bob := "ana@"+w.host, "bob@"+w.host
	anaState, bobState := t.TempDir(), t.TempDir()
	// Each cockpit gets a tmux server of its own: a server whose last
	// session just quit may still be exiting, and would refuse a new one.
	opened := 0
	open := func(name, user, state string) *tmuxSession {
		opened++
		s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-lock-%d-%d", os.Getpid(), opened), name: name}
		t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
		s.run("new-session", "-d", "-s", name, "-x", "160", "-y", "40",
			fmt.Sprintf("exec env USER=%s XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", user, state, bin, cfg))
		return s
	}

	anaS := open("ana", "ana", anaState)
	anaS.waitFor("1 Checklist")
	if st := w.lease(t); st.Holder != ana || st.Reason != w.deploy+" · release-7" || !st.Live() {
		t.Fatalf("ana's cockpit runs, and the lease says %+v", st)
	}
	waitJournal(t, anaState, `"type":"lock.take"`)

	bobS := open("bob", "bob", bobState)
	scr := bobS.waitFor("locked by " + ana)
	if !strings.Contains(scr, "driven by ana@") {
		t.Errorf("bob's banner does not say who drives:\n%s", scr)
	}
	// Watching only: bob's cockpit leaves the journal alone.
	if m, _ := filepath.Glob(filepath.Join(bobState, "flightdeck", "*", "*.jsonl")); len(m) > 0 {
		t.Errorf("the watching cockpit wrote a journal: %v", m)
	}
	bobS.run("send-keys", "-t", "bob", "q")
	waitGone(t, bobS)

	// ana rolls back: the lease says so.
	anaS.waitFor("lockapp complete")
	if err := k8s.SetImage(ctx, w.info.Kubeconfig, w.ns, "lockapp", k8s.Image("release-5d6e7f8")); err != nil {
		t.Fatal(err)
	}
	anaS.run("send-keys", "-t", "ana", "g", "j", "j", "Enter")
	anaS.waitFor("Confirm")
	anaS.run("send-keys", "-t", "ana", "y")
	anaS.waitFor("done: rolled back")
	deadline := time.Now().Add(30 * time.Second)
	for w.lease(t).RolledBackAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("the rollback is done and the lease does not say so: %+v", w.lease(t))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// ana quits: the lock stays hers, since the deploy may be resumed,
	// until her lease lapses.
	anaS.run("send-keys", "-t", "ana", "q")
	waitGone(t, anaS)
	if st := w.lease(t); st.Holder != ana || st.Free() {
		t.Fatalf("quitting released the lock: %+v", st)
	}
	w.age(t)

	bobS = open("bob", "bob", bobState)
	scr = bobS.waitFor("rolled back at")
	if strings.Contains(scr, "watching") {
		t.Errorf("bob's cockpit watches though the lock lapsed:\n%s", scr)
	}
	j := waitJournal(t, bobState, `"type":"lock.takeover"`)
	if !strings.Contains(j, "from "+ana) {
		t.Errorf("the takeover does not say from whom:\n%s", j)
	}
	if st := w.lease(t); st.Holder != bob || st.RolledBackAt.IsZero() {
		t.Errorf("after bob's takeover the lease says %+v", st)
	}

	// bob's renewals stop reaching the cluster for too long (his lease is
	// aged here) and ana, back, takes it over: bob's cockpit hears of it
	// at its next renewal.
	anaLock := teamlock.New(w.cs, w.ns, w.leaseName(), ana, 30*time.Second)
	for i := 0; ; i++ {
		w.age(t)
		_, err := anaLock.Take(ctx, "back")
		if err == nil {
			break
		}
		if i == 5 {
			t.Fatalf("ana's takeover: %v", err)
		}
	}
	deadline = time.Now().Add(45 * time.Second)
	for !strings.Contains(bobS.screen(), "the deploy lock was lost: locked by "+ana) {
		if time.Now().After(deadline) {
			t.Fatalf("bob's cockpit never said the lock was lost:\n%s", bobS.screen())
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitJournal(t, bobState, `"type":"lock.lost"`)
	bobS.run("send-keys", "-t", "bob", "q")
	waitGone(t, bobS)
	if st := w.lease(t); st.Holder != ana {
		t.Errorf("bob's cockpit fought for the lock it lost: %+v", st)
	}
}

// deployApp runs lockapp, a one-pod copy of production/api, in the test's
// namespace, so the test's rollback moves nothing another test reads.
func (w *lockWorld) deployApp(t *testing.T, ctx context.Context) {
	t.Helper()
	prod, err := w.cs.AppsV1().Deployments(sandbox.Namespace).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := prod.Spec.DeepCopy()
	one := int32(1)
	labels := map[string]string{"app": "lockapp"}
	spec.Replicas, spec.Paused = &one, false
	spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	spec.Template.Labels = labels
	spec.Template.Spec.Containers[0].Image = k8s.Image("release-1a2b3c4")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "lockapp", Namespace: w.ns, Labels: labels}, Spec: *spec}
	if _, err := w.cs.AppsV1().Deployments(w.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.WaitRolledOut(ctx, w.info.Kubeconfig, w.ns, "lockapp", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// waitJournal waits until the one journal under state holds want, and
// returns it.
func waitJournal(t *testing.T, state, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(state, "flightdeck", "*", "*.jsonl")); len(m) == 1 {
			if j := readFile(t, m[0]); strings.Contains(j, want) {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal under %s never held %s", state, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitGone waits for a tmux session to end with its process.
func waitGone(t *testing.T, s *tmuxSession) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the cockpit %s did not end:\n%s", s.name, s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// releaseSandboxLock lets the sandbox's deploy lock go after a test that
// rolled back under it, as the team would once the deploy is settled, so
// later cockpits on the shared sandbox do not start with the rollback.
func releaseSandboxLock(t *testing.T, info *sandbox.Info) {
	t.Helper()
	cfg, err := config.Load(info.Config, config.LoadOptions{})
	if err != nil || cfg.Lock == nil {
		return // written by a sandbox without [lock]: nothing was marked
	}
	l, err := openTeamLock(cfg)
	if err != nil {
		t.Errorf("releasing the sandbox's deploy lock: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.Release(ctx, "sandbox test: rolled back on purpose"); err != nil && !errors.Is(err, teamlock.ErrNotHeld) {
		t.Errorf("releasing the sandbox's deploy lock: %v", err)
	}
}
