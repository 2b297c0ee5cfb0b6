package jirastub

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// deployColumns are the columns whose cards the runbook says to check for
// sprint and release version.
var deployColumns = []string{ColumnMergedToMaster, ColumnStaging, ColumnQAHold, ColumnTestingForProd}

func TestDefaultSeed(t *testing.T) {
	seed := DefaultSeed("ACME")
	if len(seed) < 35 || len(seed) > 45 {
		t.Fatalf("%d issues", len(seed))
	}
	keys := map[string]bool{}
	perColumn := map[string]int{}
	for _, is := range seed {
		if keys[is.Key] {
			t.Errorf("duplicate key %s", is.Key)
		}
		keys[is.Key] = true
		perColumn[ColumnOf(is.Status)]++
		if is.Summary == "" || is.Priority == "" {
			t.Errorf("%s incomplete: %+v", is.Key, is)
		}
	}
	for _, col := range Columns() {
		if perColumn[col] < 3 {
			t.Errorf("column %q has %d cards", col, perColumn[col])
		}
	}
	for _, k := range keysOf(seq(1, 40)...) {
		if !keys[k] {
			t.Errorf("%s missing", k)
		}
	}

	incs := Inconsistencies("ACME")
	if len(incs) != 4 {
		t.Fatalf("%d inconsistencies", len(incs))
	}
	byKey := map[string]Issue{}
	for _, is := range seed {
		byKey[is.Key] = is
	}
	for _, inc := range incs {
		is, ok := byKey[inc.Key]
		if !ok || ColumnOf(is.Status) != inc.Column || inc.What == "" {
			t.Errorf("inconsistency %+v does not match the seed (%+v)", inc, is)
		}
	}
	incCol := func(col string) string {
		for _, inc := range incs {
			if inc.Column == col {
				return inc.Key
			}
		}
		t.Fatalf("no inconsistency in %s", col)
		return ""
	}
	blocker := incCol(ColumnQAHold)
	wrongRelease := incCol(ColumnTestingForProd)

	// Only the deliberate card is a blocker, and only the deliberate card
	// carries the wrong release; sprints are uniform per column group.
	for _, is := range seed {
		isBlocker := slices.Contains(is.Labels, "blocker") || is.Priority == "Blocker" || is.Priority == "Highest"
		if isBlocker != (is.Key == blocker) {
			t.Errorf("%s blocker = %v", is.Key, isBlocker)
		}
		if is.Key == blocker && (!slices.Contains(is.Labels, "blocker") || is.Priority != "Blocker") {
			t.Errorf("%s should be labelled and prioritised as a blocker: %+v", is.Key, is)
		}
		switch {
		case slices.Contains(deployColumns, ColumnOf(is.Status)):
			wantRelease := []string{CurrentRelease}
			if is.Key == wrongRelease {
				wantRelease = []string{PreviousRelease}
			}
			if !slices.Equal(is.FixVersions, wantRelease) || is.Sprint != CurrentSprint("ACME") {
				t.Errorf("%s in %s: versions %v sprint %q", is.Key, is.Status, is.FixVersions, is.Sprint)
			}
		case is.Status == StatusProduction:
			if !slices.Equal(is.FixVersions, []string{PreviousRelease}) || is.Sprint != PreviousSprint("ACME") {
				t.Errorf("%s in Production: versions %v sprint %q", is.Key, is.FixVersions, is.Sprint)
			}
		default:
			if len(is.FixVersions) != 0 || is.Sprint != CurrentSprint("ACME") {
				t.Errorf("%s in %s: versions %v sprint %q", is.Key, is.Status, is.FixVersions, is.Sprint)
			}
		}
	}

	other := DefaultSeed("VET")
	if other[0].Key[:4] != "VET-" || other[0].Sprint != CurrentSprint("VET") {
		t.Errorf("project not applied: %+v", other[0])
	}
	// Callers may change what they get without touching the next caller's.
	seed[0].Labels = append(seed[0].Labels[:0], "changed")
	if slices.Contains(DefaultSeed("ACME")[0].Labels, "changed") {
		t.Error("DefaultSeed shares its slices")
	}
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
}

// gitOut runs git in dir, isolated from any repository the test runs in.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return string(out)
}

var keyRE = regexp.MustCompile(`\bACME-[0-9]+\b`)

func keysIn(log string) []string {
	var out []string
	for _, k := range keyRE.FindAllString(log, -1) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestBuildRepo(t *testing.T) {
	needGit(t)
	dir := filepath.Join(t.TempDir(), "app")
	seed := DefaultSeed("ACME")
	repo, err := BuildRepo(context.Background(), dir, "ACME", seed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(repo.Branches, []string{"master", "staging", "production"}) {
		t.Fatalf("branches = %v", repo.Branches)
	}
	branches := gitOut(t, repo.Dir, "branch", "--format=%(refname:short)")
	for _, b := range repo.Branches {
		if !slices.Contains(strings.Fields(branches), b) {
			t.Fatalf("branch %s missing: %s", b, branches)
		}
	}

	// Where each card should be, by the board's rule, bent by the listed
	// inconsistencies: the In Progress one is on master, the Staging one is
	// on master but not staging.
	incs := map[string]Inconsistency{}
	for _, inc := range Inconsistencies("ACME") {
		incs[inc.Key] = inc
	}
	want := map[string][]string{}
	for _, is := range seed {
		var on []string
		switch ColumnOf(is.Status) {
		case ColumnProduction:
			on = []string{"master", "staging", "production"}
		case ColumnStaging, ColumnQAHold, ColumnTestingForProd:
			on = []string{"master", "staging"}
		case ColumnMergedToMaster:
			on = []string{"master"}
		}
		if inc, ok := incs[is.Key]; ok {
			switch inc.Column {
			case ColumnInProgress:
				on = []string{"master"}
			case ColumnStaging:
				on = []string{"master"}
			}
		}
		for _, b := range on {
			want[b] = append(want[b], is.Key)
		}
	}
	for _, b := range repo.Branches {
		got := keysIn(gitOut(t, repo.Dir, "log", "--format=%B", b))
		w := slices.Clone(want[b])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s holds %v\nwant %v", b, got, w)
		}
	}

	// The deliberate ones, stated directly.
	master := keysIn(gitOut(t, repo.Dir, "log", "--format=%B", "master"))
	staging := keysIn(gitOut(t, repo.Dir, "log", "--format=%B", "staging"))
	for _, inc := range Inconsistencies("ACME") {
		switch inc.Column {
		case StatusInProgress:
			if !slices.Contains(master, inc.Key) {
				t.Errorf("In Progress card %s is not in master's history", inc.Key)
			}
		case StatusStaging:
			if slices.Contains(staging, inc.Key) || !slices.Contains(master, inc.Key) {
				t.Errorf("Staging card %s: on staging %v, on master %v", inc.Key,
					slices.Contains(staging, inc.Key), slices.Contains(master, inc.Key))
			}
		}
	}

	// Keys reach master through merged branch names too.
	merges := gitOut(t, repo.Dir, "log", "--merges", "--format=%s", "master")
	if !regexp.MustCompile(`from acme/feature/ACME-[0-9]+-`).MatchString(merges) {
		t.Errorf("no pull request merge of a feature branch:\n%s", merges)
	}
	// Open cards in review have unmerged branches.
	for _, is := range seed {
		if is.Status != StatusCodeReview {
			continue
		}
		if out := gitOut(t, repo.Dir, "branch", "--list", "feature/"+is.Key+"-*", "--no-merged", "master"); strings.TrimSpace(out) == "" {
			t.Errorf("no open branch for %s", is.Key)
		}
	}
	if st := gitOut(t, repo.Dir, "status", "--porcelain"); st != "" {
		t.Errorf("work tree not clean: %s", st)
	}
	if head := strings.TrimSpace(gitOut(t, repo.Dir, "rev-parse", "--abbrev-ref", "HEAD")); head != "master" {
		t.Errorf("HEAD is %s", head)
	}

	// Same input, same commits.
	again, err := BuildRepo(context.Background(), filepath.Join(t.TempDir(), "again"), "ACME", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(dir string) string { return gitOut(t, dir, "rev-parse", "master", "staging", "production") }
	if a, b := ids(repo.Dir), ids(again.Dir); a != b {
		t.Errorf("not reproducible:\n%s\n%s", a, b)
	}

	if _, err := BuildRepo(context.Background(), repo.Dir, "ACME", nil); err == nil {
		t.Error("built over an existing repository")
	}
}

func TestBuildRepoCancelled(t *testing.T) {
	needGit(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildRepo(ctx, t.TempDir(), "ACME", nil); err == nil {
		t.Error("cancelled build succeeded")
	}
}
