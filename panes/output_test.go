package panes

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

func exitCode(n int) *int { return &n }

// twoRuns: a slow dry-run still going while a quick command started after
// it has already ended.
func twoRuns() *Output {
	o := NewOutput(dark)
	o.Data.Now = fixtureNow
	o.Start(NewRun("aaa111", "Dry-run migrations on the clone", "./scripts/diff_migrations", fixtureNow.Add(-95*time.Second)))
	o.Start(NewRun("bbb222", "Fetch origin", "git fetch origin", fixtureNow.Add(-10*time.Second)))
	o.Append("aaa111", []string{"== 20261120_add_index: migrating"})
	o.Append("bbb222", []string{"From origin", " * branch production -> FETCH_HEAD"})
	o.End("bbb222", 2*time.Second, exitCode(0), "")
	o.Append("aaa111", []string{"   -> 41.2s"})
	return o
}

// TestRunsSideBySideKeepTheirOwnOutcome: the run that ends first does not
// stamp its exit code and duration on the other.
func TestRunsSideBySideKeepTheirOwnOutcome(t *testing.T) {
	o := twoRuns()
	slow, quick := o.Run("aaa111"), o.Run("bbb222")
	if !slow.Running || slow.Exit != nil {
		t.Fatalf("the slow run took the quick one's end: %+v", slow)
	}
	if quick.Running || quick.Exit == nil || *quick.Exit != 0 || quick.Ended.Sub(quick.Started) != 2*time.Second {
		t.Fatalf("the quick run's end is wrong: %+v", quick)
	}
	if slow.Lines.Len() != 2 || quick.Lines.Len() != 2 {
		t.Fatalf("lines went to the wrong run: slow %d, quick %d", slow.Lines.Len(), quick.Lines.Len())
	}
	out := ansi.Strip(RenderOutput(o.Data, 80, 12, dark))
	if !strings.Contains(out, "exit 0 after 2s: Fetch origin") || !strings.Contains(out, "run 2/2 · 1 more running") {
		t.Fatalf("the newest run is not shown with its own outcome:\n%s", out)
	}
	o.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	out = ansi.Strip(RenderOutput(o.Data, 80, 12, dark))
	if !strings.Contains(out, "running 1m35s: Dry-run") || !strings.Contains(out, "-> 41.2s") || strings.Contains(out, "FETCH_HEAD") {
		t.Fatalf("[ does not show the earlier run alone:\n%s", out)
	}
	// Pinned to the older run, a new one does not take the view.
	o.Start(NewRun("ccc333", "Third", "true", fixtureNow))
	if o.Data.Current().ID != "aaa111" {
		t.Fatalf("a new run took a pinned view")
	}
}

func TestRenderOutputTwoRunsGolden(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			out := RenderOutput(twoRuns().Data, w, 12, dark)
			assertBox(t, out, w, 12)
			golden.RequireEqual(t, out)
		})
	}
}

func typeKeys(o *Output, s string) {
	for _, r := range s {
		o.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// TestOutputSearchJumpsToMatches: / types a search (every key goes to the
// pane meanwhile), enter jumps to the newest match, n to older ones.
func TestOutputSearchJumpsToMatches(t *testing.T) {
	o := NewOutput(dark)
	o.Start(NewRun("r", "long", "seq 1 500", fixtureNow))
	for i := 1; i <= 500; i++ {
		o.Append("r", []string{fmt.Sprintf("line %d", i)})
	}
	o.View(80, 12)
	typeKeys(o, "/")
	if !o.Capturing() {
		t.Fatal("/ does not start a search")
	}
	typeKeys(o, "line 25")
	o.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if o.Capturing() {
		t.Fatal("enter does not end the search prompt")
	}
	out := ansi.Strip(RenderOutput(o.Data, 80, 12, dark))
	if !strings.Contains(out, "line 259") || !strings.Contains(out, "/line 25 11") {
		t.Fatalf("enter does not jump to the newest of 11 matches:\n%s", out)
	}
	typeKeys(o, "nnnnnnnnnn") // ten older matches: the oldest, "line 25"
	out = ansi.Strip(RenderOutput(o.Data, 80, 12, dark))
	if !strings.Contains(out, "line 25\n") && !strings.Contains(out, "line 25 ") {
		t.Fatalf("n does not reach the oldest match:\n%s", out)
	}
}

// TestOutputCopiesTheSelectedRun: y copies the whole run, command first,
// through the terminal's clipboard (OSC 52).
func TestOutputCopiesTheSelectedRun(t *testing.T) {
	o := twoRuns()
	o.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	_, cmd := o.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if cmd == nil {
		t.Fatal("y copies nothing")
	}
	msg := fmt.Sprintf("%v", cmd())
	if !strings.Contains(msg, "$ ./scripts/diff_migrations\n== 20261120_add_index: migrating\n   -> 41.2s\n") || strings.Contains(msg, "FETCH_HEAD") {
		t.Fatalf("y copied %q", msg)
	}
}

// TestOrphanKeys: a run the previous cockpit left still running offers w
// and x; read-only refuses x but the key still reaches the root to say why.
func TestOrphanKeys(t *testing.T) {
	o := NewOutput(dark)
	r := NewRun("old", "Long migration", "sleep 600", fixtureNow)
	r.Running, r.Orphan, r.OrphanAlive = false, 4242, true
	o.Start(r)
	out := ansi.Strip(RenderOutput(o.Data, 100, 10, dark))
	if !strings.Contains(out, "still running (pgid 4242)") {
		t.Fatalf("an orphan does not say it still runs:\n%s", out)
	}
	for k, op := range map[string]OutputOp{"w": OpWaitOrphan, "x": OpStopOrphan} {
		_, cmd := o.Update(tea.KeyPressMsg{Code: rune(k[0]), Text: k})
		if cmd == nil {
			t.Fatalf("%s does nothing", k)
		}
		if req, ok := cmd().(OutputRequest); !ok || req.Op != op || req.Pgid != 4242 {
			t.Fatalf("%s asked %+v", k, cmd())
		}
	}
	r.OrphanAlive = false
	out = ansi.Strip(RenderOutput(o.Data, 100, 10, dark))
	if !strings.Contains(out, "outcome unknown") {
		t.Fatalf("an ended orphan does not ask to verify:\n%s", out)
	}
}
