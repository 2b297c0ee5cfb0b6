package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// rehearsalWorld is the test sandbox as a rehearsal may change it: its
// Kubernetes, Postgres, Sentry and Slack are the shared ones, but the
// application's repository (and its origin) and the Jira board are the
// test's own copies. The rehearsal merges and pushes branches and moves
// cards, and other tests read the seeded board and branches ("4 of 40
// cards need attention"); the images it sets are put back at cleanup.
type rehearsalWorld struct {
	info  *sandbox.Info
	bin   string
	state string // XDG_STATE_HOME of every run
	cfg   string // the sandbox's config, pointed at the copies
}

func newRehearsalWorld(t *testing.T) *rehearsalWorld {
	t.Helper()
	info := sandboxtest.Start(t)
	w := &rehearsalWorld{info: info, bin: buildBinary(t), state: t.TempDir()}
	dir := t.TempDir()

	// The repository and its origin, copied whole, the copy's origin
	// pointed at the copied one.
	repo, origin := filepath.Join(dir, "repo"), filepath.Join(dir, "origin.git")
	sharedOrigin := strings.TrimSpace(gitOut(t, info.GitRepo, "remote", "get-url", "origin"))
	for _, c := range [][]string{
		{"cp", "-a", info.GitRepo, repo},
		{"cp", "-a", sharedOrigin, origin},
		{"git", "-C", repo, "remote", "set-url", "origin", origin},
		{"git", "-C", repo, "fetch", "--quiet", "origin"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}

	// A Jira stand-in of the test's own, seeded as the sandbox's is, with
	// the sandbox's credentials.
	token, err := os.ReadFile(info.JiraTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	jira := httptest.NewServer(jirastub.New(jirastub.Options{Email: sandbox.JiraEmail, Token: strings.TrimSpace(string(token)),
		BoardID: sandbox.JiraBoard, Project: sandbox.JiraProject, OmitTotal: true}).Handler())
	t.Cleanup(jira.Close)

	text := readFile(t, info.Config)
	for old, new := range map[string]string{
		fmt.Sprintf("%q", info.GitRepo):       fmt.Sprintf("%q", repo),
		fmt.Sprintf("url = %q", info.JiraURL): fmt.Sprintf("url = %q", jira.URL),
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the sandbox config has no %s to point elsewhere", old)
		}
		text = strings.ReplaceAll(text, old, new)
	}
	w.cfg = filepath.Join(dir, "flightdeck.toml")
	if err := os.WriteFile(w.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	w.restoreImagesAtCleanup(t)
	return w
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// restoreImagesAtCleanup puts production's images back as they were, in
// every cluster: the rehearsal's push rolls out a release of its own.
func (w *rehearsalWorld) restoreImagesAtCleanup(t *testing.T) {
	t.Helper()
	kubeconfigs := []string{w.info.Kubeconfig}
	if w.info.StandbyKubeconfig != "" {
		kubeconfigs = append(kubeconfigs, w.info.StandbyKubeconfig)
	}
	images := map[string]map[string]string{} // kubeconfig → deployment → image
	for _, kc := range kubeconfigs {
		rc, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(rc)
		images[kc] = map[string]string{}
		for _, name := range []string{"api", "worker"} {
			d, err := cs.AppsV1().Deployments(k8s.Namespace).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			images[kc][name] = d.Spec.Template.Spec.Containers[0].Image
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for kc, deps := range images {
			for name, image := range deps {
				if err := k8s.SetImage(ctx, kc, k8s.Namespace, name, image); err != nil {
					t.Errorf("putting %s back on %s: %v", image, name, err)
				}
			}
		}
		for kc, deps := range images {
			for name := range deps {
				if err := k8s.WaitRolledOut(ctx, kc, k8s.Namespace, name, 2*time.Minute); err != nil {
					t.Errorf("%s back on its image: %v", name, err)
				}
			}
		}
	})
}

// rehearse runs flightdeck rehearse on cfg, and returns its exit code,
// standard output and standard error.
func (w *rehearsalWorld) rehearse(t *testing.T, cfg string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(w.bin, append([]string{"rehearse", "--config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+w.state)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// withoutSection drops one table from a config, up to the next table
// header: what follows it stays.
func withoutSection(t *testing.T, text, header string) string {
	t.Helper()
	i := strings.Index(text, "\n"+header+"\n")
	if i < 0 {
		t.Fatalf("no %s in the config", header)
	}
	body := i + 1 + len(header)
	end := len(text)
	if next := regexp.MustCompile(`(?m)^\[`).FindStringIndex(text[body:]); next != nil {
		end = body + next[0]
	}
	return text[:i+1] + text[end:]
}

// TestRehearseOnSandbox is the new user's rehearsal: the sandbox's
// runbook driven unattended. Without its [rehearsal] skips the first red
// gate stops it; with them every step passes, in a journal of its own that
// says it is a rehearsal; and the next cockpit shows what the steps
// usually take, beside their estimates and in the window clock.
func TestRehearseOnSandbox(t *testing.T) {
	needTool(t, "tmux", "apt-get install tmux")
	w := newRehearsalWorld(t)
	cfg, err := config.Load(w.cfg, config.LoadOptions{DeferSecretErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The cockpit below took the sandbox's deploy lock, and quitting
		// leaves it held: later cockpits on the shared sandbox start clean.
		lockCmd(t, w.bin, w.cfg, os.Getenv("USER"), "release", "--reason", "TestRehearseOnSandbox is over")
	})

	// Without the skips: the Jira stand-in's seeded faults stop it.
	noSkips := filepath.Join(t.TempDir(), "noskips.toml")
	if err := os.WriteFile(noSkips, []byte(withoutSection(t, readFile(t, w.cfg), "[rehearsal]")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := w.rehearse(t, noSkips, "--gate-timeout", "15s")
	t.Logf("without the skips (exit %d):\n%s%s", code, out, errOut)
	if code != exitFailure || !regexp.MustCompile(`(?m)^  FAILED +\d+s  pre/jira-columns +JIRA is up to date`).MatchString(out) ||
		!strings.Contains(errOut, "rehearsal failed at pre/jira-columns: gate jira.columns_clean is fail") ||
		!strings.Contains(out, "4 of 40 cards flagged") {
		t.Fatalf("without the skips: exit %d, want %d naming pre/jira-columns and its four cards", code, exitFailure)
	}

	start := time.Now()
	code, out, errOut = w.rehearse(t, w.cfg)
	took := time.Since(start)
	t.Logf("rehearsal on the sandbox in %s (exit %d):\n%s%s", took.Round(time.Second), code, out, errOut)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	var normal, manual []string
	for _, ph := range cfg.Phases {
		for _, s := range ph.Steps {
			switch {
			case ph.Contingency:
				if strings.Contains(out, s.ID) {
					t.Errorf("the contingency step %s ran without --drill", s.ID)
				}
			case s.Kind == config.Manual:
				manual = append(manual, s.ID)
				fallthrough
			default:
				normal = append(normal, s.ID)
			}
		}
	}
	for _, id := range normal {
		want := "passed"
		switch {
		case id == "pre/jira-columns" || id == "deploy/preflight-migrations":
			want = "skipped"
		case strings.HasPrefix(id, "pre/deployment-plan") || strings.HasPrefix(id, "pre/qa-hold"):
			want = "ticked"
		}
		if !regexp.MustCompile(`(?m)^  ` + want + ` +(\d+s|—|\d+m\S*)  ` + regexp.QuoteMeta(id) + ` `).MatchString(out) {
			t.Errorf("no %q line for %s", want, id)
		}
	}
	if want := fmt.Sprintf("rehearsal passed: %d steps passed, 2 skipped with a reason", len(normal)-2); !strings.Contains(out, want) {
		t.Errorf("the summary does not say %q", want)
	}

	// Its journal is a rehearsal's, of its own: the day's real journal
	// does not exist.
	if _, err := os.Stat(journal.Path(filepath.Join(w.state, "flightdeck"), cfg.Deploy.Name, time.Now().In(cfg.Window.Location))); err == nil {
		t.Error("a rehearsal wrote the day's real journal")
	}
	journals := journal.History(filepath.Join(w.state, "flightdeck"), cfg.Deploy.Name)
	if len(journals) != 2 {
		t.Fatalf("journals %v, want the two rehearsals'", journals)
	}
	rep, err := journal.Read(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	recs := rep.Records
	if filepath.Base(filepath.Dir(journals[0])) != journal.RehearsalDir || recs[0].Type != runbook.RecRehearsalStart {
		t.Errorf("%s does not open as a rehearsal: %+v", journals[0], recs[0])
	}
	last := recs[len(recs)-1]
	if last.Type != runbook.RecRehearsalFinish || last.OK == nil || !*last.OK {
		t.Errorf("the journal does not end with a passed rehearsal.finish: %+v", last)
	}
	skips := 0
	for _, r := range recs {
		if r.Type == runbook.RecStepSkip && strings.Contains(r.Reason, "deliberate") {
			skips++
		}
		if r.Type == runbook.RecStepCheck && (r.Step == manual[0]) && !strings.Contains(r.Reason, "ticked by the rehearsal") {
			t.Errorf("the manual step's tick does not say who ticked it: %+v", r)
		}
	}
	if skips != 2 {
		t.Errorf("%d skips with the config's reasons, want 2", skips)
	}
	if record := readFile(t, strings.TrimSuffix(journals[0], ".jsonl")+".md"); !strings.HasPrefix(record, "# Rehearsal record: ") {
		t.Errorf("the record is not headed as a rehearsal's:\n%.300s", record)
	}
	if code, out := lockCmd(t, w.bin, w.cfg, os.Getenv("USER"), "status"); code != 0 || !strings.Contains(out, "rehearsal passed") {
		t.Errorf("the deploy lock after the rehearsal (exit %d), want it released saying how the rehearsal went:\n%s", code, out)
	}

	// The next cockpit: what the steps the rehearsal ran usually take,
	// and the window clock counting it.
	s := &tmuxSession{t: t, socket: fmt.Sprintf("fd-rehearse-%d", os.Getpid()), name: "cockpit"}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", s.name, "-x", "200", "-y", "50",
		fmt.Sprintf("exec env XDG_STATE_HOME=%s TERM=xterm-256color %s --config %s", w.state, w.bin, w.cfg))
	scr := s.waitFor("· usually")
	lines := strings.Split(scr, "\n")
	row := func(title string) string {
		for _, l := range lines {
			if strings.Contains(l, title) {
				return l
			}
		}
		t.Fatalf("no row %q on the screen:\n%s", title, scr)
		return ""
	}
	if l := row("Clone the production database"); !regexp.MustCompile(`2m · usually \d+s`).MatchString(l) {
		t.Errorf("the clone step's row does not say what it usually takes: %q", l)
	}
	if l := row("Production rollout complete"); !strings.Contains(l, "· usually") {
		t.Errorf("the rollout gate's row does not say what it usually takes: %q", l)
	}
	if l := row("A deployment plan exists"); strings.Contains(l, "usually") {
		t.Errorf("a manual step the rehearsal only ticked learned a time: %q", l)
	}
	m := regexp.MustCompile(`(\d+h\d+m|\d+m\d+s|\d+m|\d+s) of steps`).FindStringSubmatch(scr)
	if m == nil {
		t.Logf("the window clock shows no remaining work (the sandbox's window may be over):\n%s", scr)
	} else if left, err := time.ParseDuration(m[1]); err != nil || left >= cfg.PlannedEstimate() {
		t.Errorf("the window clock counts %s of steps, want less than the %s of estimates", m[1], cfg.PlannedEstimate())
	}
	s.run("send-keys", "-t", s.name, "q")
}

// TestRehearseExitCodes: a runbook of commands on this machine alone, no
// sandbox: a drill runs after the normal flow when named; a failing
// command stops the rehearsal with its output (exit 1); a skip without a
// reason is a usage error (exit 2).
func TestRehearseExitCodes(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	drill := `
[[phase]]
name = "Drills"
contingency = true

[[phase.step]]
id = "drill/echo"
title = "Say it again"
estimate = "1m"
command = "echo drilled"
`
	good := write("good.toml", e2eConfig+drill)
	bad := write("bad.toml", strings.Replace(e2eConfig, `command = "echo hello"`, `command = "echo about to fail; exit 3"`, 1)+drill)
	run := func(cfg string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"rehearse", "--config", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}

	code, out := run(good, "--drill", "drill/echo")
	if code != 0 || !regexp.MustCompile(`(?s)ticked .* plan .*passed .* hello .*passed .* drill/echo .*rehearsal passed: 3 steps passed`).MatchString(out) {
		t.Errorf("with a drill: exit %d:\n%s", code, out)
	}
	if code, out := run(good); code != 0 || strings.Contains(out, "drill/echo") {
		t.Errorf("a drill ran unnamed: exit %d:\n%s", code, out)
	}
	code, out = run(bad, "--drill", "drill/echo")
	if code != exitFailure || !strings.Contains(out, "FAILED") || !strings.Contains(out, "│ about to fail") ||
		!strings.Contains(out, "rehearsal failed at hello: exit 3") || strings.Contains(out, "drill/echo") {
		t.Errorf("a failing command: exit %d, want %d with its output, and no drill after it:\n%s", code, exitFailure, out)
	}
	if code, out := run(good, "--skip", "hello"); code != exitConfig || !strings.Contains(out, "a skip needs a reason") {
		t.Errorf("a skip without a reason: exit %d:\n%s", code, out)
	}
	if code, out := run(good, "--skip", "hello=not today"); code != 0 || !strings.Contains(out, "reason: not today") {
		t.Errorf("a skip with a reason: exit %d:\n%s", code, out)
	}
}
