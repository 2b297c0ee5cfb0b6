package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/view"
)

// kindCase is how TestEveryActionKindRunsOnSandbox runs one action kind.
type kindCase struct {
	args  string                                 // the step's args table, without braces
	setup func(t *testing.T)                     // the world the step acts on
	check func(t *testing.T, rec journal.Record) // the world after it, and the result record
}

// TestEveryActionKindRunsOnSandbox runs a step of every action kind the
// config validator accepts, in the cockpit as an operator would: run, see
// the preview, confirm. A kind the validator accepts but the cockpit cannot
// run, or that has no case here, fails the test.
//
// Other packages' tests share the sandbox, so this one leaves it as it
// found it but for a Slack message or two and a Sentry release of its own:
// the deployments are in a namespace of the test's own, the Postgres
// blockers in a database of its own, the cards on a Jira stand-in of its
// own (moving the shared board's cards would change what the cockpit tests
// read), and the fetch in a clone of the sandbox's origin.
func TestEveryActionKindRunsOnSandbox(t *testing.T) {
	info := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	id := randomHex()
	w := kindsWorld(t, ctx, info, id)

	cases := w.cases(ctx)
	var steps strings.Builder
	var runnable []string
	for _, kind := range config.ActionNames() {
		c, ok := cases[kind]
		if !ok {
			t.Errorf("%s: the validator accepts it, but this test has no case for it: add one, with its runner in engine actionStepPlan", kind)
			continue
		}
		runnable = append(runnable, kind)
		fmt.Fprintf(&steps, "\n[[phase.step]]\nid = %q\ntitle = %q\nestimate = \"1m\"\naction = %q\n", kindStep(kind), "Run "+kind, kind)
		if c.args != "" {
			fmt.Fprintf(&steps, "args = { %s }\n", c.args)
		}
	}
	h := w.start(t, steps.String(), id)

	// The rollback goes to what the first reading saw, and the other kube
	// steps act on the deployments the rollout source reads.
	h.untilWithin(time.Minute, "the first reading of the deployments", func() bool {
		return len(h.status.LKG) == len(kubeKindNames)
	})

	for _, kind := range runnable {
		t.Run(kind, func(st *testing.T) {
			// The harness fails the test it is given: this one, for now.
			h.t = st
			defer func() { h.t = t }()
			t := st
			c := cases[kind]
			if c.setup != nil {
				c.setup(t)
			}
			step := kindStep(kind)
			p, err := h.e.Request(ctx, h.v, view.Request{Op: view.OpRunStep, Step: step})
			if err != nil {
				t.Fatalf("the engine refused to run %s: %v", kind, err)
			}
			if p.Started || p.Step != step || p.Title == "" {
				t.Fatalf("%s: no preview to confirm: %+v", kind, p)
			}
			t.Logf("preview:\n%s\n%s", p.Title, strings.Join(p.Lines, "\n"))
			if err := h.e.Confirm(ctx, h.v, p.ID); err != nil {
				t.Fatalf("confirm %s: %v", kind, err)
			}
			var rec journal.Record
			h.untilWithin(2*time.Minute, "the result of "+kind, func() bool {
				for _, r := range h.history {
					if r.Type == runbook.RecResult && r.Step == step {
						rec = r
						return true
					}
				}
				return false
			})
			if rec.Kind != kind || rec.OK == nil || !*rec.OK {
				t.Fatalf("result %s: ok %v, %s %s", rec.Kind, rec.OK, rec.Summary, rec.Error)
			}
			t.Logf("result: %s", rec.Summary)
			if status := h.stepStatus(step); status != runbook.Done {
				t.Errorf("step %s is %s after a good result", step, status)
			}
			if c.check != nil {
				c.check(t, rec)
			}
		})
	}

	// A rollback is followed by the alert to the incident channel and the
	// Sentry marker, each through the journal.
	h.untilWithin(time.Minute, "the rollback's alert and marker", func() bool {
		alert, marker := false, false
		for _, r := range h.history {
			if r.Type != runbook.RecResult || r.Step != "" || r.OK == nil || !*r.OK {
				continue
			}
			alert = alert || r.Kind == actions.KindSlackRollbackAlert
			marker = marker || r.Kind == actions.KindSentryDeployMarker
		}
		return alert && marker
	})
	h.untilWithin(time.Minute, "every action to end", func() bool { return len(h.status.Running) == 0 })
}

func kindStep(kind string) string { return "kinds/" + strings.ReplaceAll(kind, ".", "-") }

func randomHex() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (w *kinds) cases(ctx context.Context) map[string]kindCase {
	var cancelRoot, cancelWaiter *sandboxtest.Session
	var cancelRootErr, cancelWaiterErr, terminateWaiterErr <-chan error
	var terminateHolder *sandboxtest.Session
	notice := "kinds " + randomHex()
	return map[string]kindCase{
		actions.KindKubePause: {
			args: `deployment = "pauseme"`,
			check: func(t *testing.T, _ journal.Record) {
				if !w.get(t, ctx, "pauseme").Spec.Paused {
					t.Error("not paused")
				}
			},
		},
		actions.KindKubeResume: {
			args: `deployment = "resumeme"`,
			setup: func(t *testing.T) {
				if _, err := w.cs.AppsV1().Deployments(w.ns).Patch(ctx, "resumeme", types.MergePatchType,
					[]byte(`{"spec":{"paused":true}}`), metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, _ journal.Record) {
				if w.get(t, ctx, "resumeme").Spec.Paused {
					t.Error("still paused")
				}
			},
		},
		actions.KindKubeRestart: {
			args: `deployment = "restartme"`,
			check: func(t *testing.T, _ journal.Record) {
				if w.get(t, ctx, "restartme").Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
					t.Error("the template has no restartedAt stamp")
				}
			},
		},
		actions.KindKubeScale: {
			args: `deployment = "scaleme", replicas = "2"`,
			check: func(t *testing.T, _ journal.Record) {
				if r := w.get(t, ctx, "scaleme").Spec.Replicas; r == nil || *r != 2 {
					t.Errorf("replicas %v, want 2", r)
				}
			},
		},
		actions.KindKubeRollback: {
			args: `deployment = "rollbackme"`,
			setup: func(t *testing.T) {
				if err := k8s.SetImage(ctx, w.info.Kubeconfig, w.ns, "rollbackme", k8s.Image("release-5d6e7f8")); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, _ journal.Record) {
				if img := w.get(t, ctx, "rollbackme").Spec.Template.Spec.Containers[0].Image; img != k8s.Image("release-1a2b3c4") {
					t.Errorf("image %s after the rollback", img)
				}
			},
		},
		actions.KindPostgresCancel: {
			args: `target = "kinds"`,
			setup: func(t *testing.T) {
				cancelRoot, cancelWaiter = sandboxtest.OpenSession(t, w.pgDSN, "root"), sandboxtest.OpenSession(t, w.pgDSN, "waiter")
				cancelRoot.Exec("BEGIN")
				cancelRoot.Exec("UPDATE t SET n = n + 1 WHERE id = 1")
				cancelRootErr = cancelRoot.Background("SELECT pg_sleep(60)")
				cancelWaiterErr = cancelWaiter.Background("UPDATE t SET n = n + 1 WHERE id = 1")
				w.waits(t, ctx, 1)
			},
			check: func(t *testing.T, _ journal.Record) {
				if err := <-cancelRootErr; err == nil || !strings.Contains(err.Error(), "canceling statement due to user request") {
					t.Fatalf("the root's query ended with %v, want it cancelled", err)
				}
				cancelRoot.Exec("ROLLBACK")
				if err := <-cancelWaiterErr; err != nil {
					t.Errorf("the waiter after the cancel: %v", err)
				}
			},
		},
		actions.KindPostgresTerminate: {
			args: `target = "kinds"`,
			setup: func(t *testing.T) {
				terminateHolder = sandboxtest.OpenSession(t, w.pgDSN, "holder")
				waiter := sandboxtest.OpenSession(t, w.pgDSN, "waiter")
				terminateHolder.Exec("BEGIN")
				terminateHolder.Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
				terminateWaiterErr = waiter.Background("SELECT count(*) FROM t")
				w.waits(t, ctx, 1)
			},
			check: func(t *testing.T, _ journal.Record) {
				if err := <-terminateWaiterErr; err != nil {
					t.Errorf("the waiter after the terminate: %v", err)
				}
				if _, err := terminateHolder.Conn.Exec(ctx, "SELECT 1"); err == nil {
					t.Error("the terminated session still answers")
				}
			},
		},
		actions.KindJiraMove: {
			args: `move = "Production"`,
			check: func(t *testing.T, rec journal.Record) {
				var moved []actions.JiraMoveResult
				if err := json.Unmarshal(rec.Data, &moved); err != nil || len(moved) == 0 {
					t.Errorf("no card moved: %v %s", err, rec.Data)
				}
			},
		},
		actions.KindMigrationsDryRun: {
			args: `target = "kinds-clone"`,
			check: func(t *testing.T, rec journal.Record) {
				var d actions.MigrationsDryRunDetail
				if err := json.Unmarshal(rec.Data, &d); err != nil || len(d.Observed) != 3 {
					t.Fatalf("observations %v %s", err, rec.Data)
				}
				held := func(i int, want preflight.Lock) bool {
					for _, l := range d.Observed[i].Locks {
						if l.Relation == "public.t" && l.Lock == want {
							return true
						}
					}
					return false
				}
				if !held(1, preflight.AccessExclusive) || !held(2, preflight.Share) {
					t.Errorf("the clone's locks: ADD COLUMN %+v, CREATE INDEX %+v", d.Observed[1].Locks, d.Observed[2].Locks)
				}
			},
		},
		actions.KindGitFetch:           {},
		actions.KindSentryDeployMarker: {args: `stage = "start"`},
		actions.KindSlackNotify: {
			args: fmt.Sprintf(`channel = "#general", text = %q`, notice+" {{release}}"),
			check: func(t *testing.T, _ journal.Record) {
				u, err := url.Parse(w.info.SlackWebhook)
				if err != nil {
					t.Fatal(err)
				}
				u.Path = "/messages"
				resp, err := http.Get(u.String())
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(body), notice) {
					t.Errorf("the Slack stand-in has no %q", notice)
				}
			},
		},
	}
}
