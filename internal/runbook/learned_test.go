package runbook_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
)

func TestMedian(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{7 * s}, 7 * s},
		{[]time.Duration{9 * s, 1 * s, 5 * s}, 5 * s},
		{[]time.Duration{40 * s, 10 * s, 20 * s, 30 * s}, 25 * s},
		{[]time.Duration{3 * s, 3 * s, 100 * s}, 3 * s}, // one slow run does not move it
	} {
		if got := runbook.Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func learnConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(testConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// run is one journal: deploy.start at day's 09:00, then the clone command
// taking took, the board ticked board after it, and the locks gate ticked
// right after that. rehearsal marks it as a rehearsal's.
func run(day int, took, board time.Duration, rehearsal bool) []journal.Record {
	start := t0.AddDate(0, 0, day)
	ok := true
	var recs []journal.Record
	if rehearsal {
		recs = append(recs, journal.Record{Type: runbook.RecRehearsalStart, At: start})
	}
	id := fmt.Sprintf("a%d", day)
	return append(recs,
		journal.Record{Type: runbook.RecDeployStart, At: start},
		journal.Record{Type: runbook.RecIntent, Step: "clone", Action: id, Kind: runbook.KindCommand, At: start},
		journal.Record{Type: runbook.RecResult, Step: "clone", Action: id, Kind: runbook.KindCommand, OK: &ok, At: start.Add(took)},
		journal.Record{Type: runbook.RecStepCheck, Step: "board", At: start.Add(took + board)},
		journal.Record{Type: runbook.RecStepCheck, Step: "locks", At: start.Add(took + board + 2*time.Second)},
	)
}

func TestLearnerTakesTheMedianOfTheLastRuns(t *testing.T) {
	cfg := learnConfig(t)
	s := time.Second
	l := runbook.NewLearner(cfg, 3)
	// Journals arrive newest first, as they are read; the oldest run is
	// the slowest and falls out of the last three.
	l.Add(run(4, 40*s, 60*s, false))
	l.Add(run(3, 20*s, 50*s, true))
	l.Add(run(2, 30*s, 70*s, false))
	if l.Enough() {
		t.Error("Enough with two runs of the board: the rehearsal's tick of a manual step is not a run")
	}
	l.Add(run(1, 600*s, 900*s, false))
	u := l.Usual()
	// clone: 40, 20, 30 (rehearsal and deploys alike) → 30.
	if got := u["clone"]; got.Median != 30*s || got.Runs != 3 {
		t.Errorf("clone: %+v, want the median of the last three runs, 30s", got)
	}
	// board is manual: the rehearsal's tick does not count, so its last
	// three are 60, 70 and the old 900.
	if got := u["board"]; got.Median != 70*s || got.Runs != 3 {
		t.Errorf("board: %+v, want 70s over three real deploys", got)
	}
	if got := u["locks"]; got.Median != 2*s {
		t.Errorf("locks: %+v, want 2s", got)
	}
	if _, ok := u["rollback"]; ok {
		t.Error("a step no run did has no learned time")
	}
}

func TestLearnerEvenCountAndEnough(t *testing.T) {
	cfg := learnConfig(t)
	s := time.Second
	l := runbook.NewLearner(cfg, 2)
	l.Add(run(2, 10*s, 10*s, false))
	if l.Enough() {
		t.Error("one run is not two")
	}
	l.Add(run(1, 30*s, 30*s, false))
	if !l.Enough() {
		t.Error("every step of the normal flow has its two runs: the contingency phase is not waited for")
	}
	if got := l.Usual()["clone"]; got.Median != 20*s || got.Runs != 2 {
		t.Errorf("clone: %+v, want the mean of the two middle runs, 20s", got)
	}
}

func TestLearnerLeavesOutWhatWasNotDone(t *testing.T) {
	cfg := learnConfig(t)
	no := false
	l := runbook.NewLearner(cfg, 5)
	start := t0
	l.Add([]journal.Record{
		{Type: runbook.RecDeployStart, At: start},
		// clone failed: not a run of it.
		{Type: runbook.RecIntent, Step: "clone", Action: "a1", Kind: runbook.KindCommand, At: start},
		{Type: runbook.RecResult, Step: "clone", Action: "a1", Kind: runbook.KindCommand, OK: &no, At: start.Add(time.Minute)},
		// board skipped with a reason: nothing was done.
		{Type: runbook.RecStepSkip, Step: "board", Reason: "no board today", At: start.Add(2 * time.Minute)},
	})
	ok := true
	l.Add([]journal.Record{
		{Type: runbook.RecDeployStart, At: start},
		// clone interrupted and verified by hand an hour later: its time
		// is the outage's.
		{Type: runbook.RecIntent, Step: "clone", Action: "a2", Kind: runbook.KindCommand, At: start},
		{Type: runbook.RecVerify, Step: "clone", Action: "a2", OK: &ok, At: start.Add(time.Hour)},
	})
	if u := l.Usual(); len(u) != 0 {
		t.Errorf("learned %+v from runs that did nothing to learn from", u)
	}
}

func TestRemainingCountsLearnedTimes(t *testing.T) {
	rb := newRunbook(t)
	// clone 10m, board 20m, locks 5m configured.
	if got := rb.Remaining(at(0)); got != 35*time.Minute {
		t.Fatalf("Remaining = %v, want 35m", got)
	}
	rb.Learn(map[string]runbook.Usual{"clone": {Median: 40 * time.Second, Runs: 5}})
	if got := rb.Remaining(at(0)); got != 25*time.Minute+40*time.Second {
		t.Errorf("Remaining = %v, want 25m40s: clone usually takes 40s", got)
	}
	if got := rb.Step("clone").Expected(); got != 40*time.Second {
		t.Errorf("clone expected %v", got)
	}
	if got := rb.Step("board").Expected(); got != 20*time.Minute {
		t.Errorf("board expected %v, want its estimate", got)
	}
	if got := rb.Learned(); len(got) != 1 || got["clone"].Runs != 5 {
		t.Errorf("Learned() = %+v", got)
	}
}
