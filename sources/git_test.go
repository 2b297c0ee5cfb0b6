package sources_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/jirastub"
	"github.com/flightdeckhq/flightdeck/sources"
)

// gitIn runs git in dir for test setup, isolated from the user's config.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// seedRepo builds the stand-in's repository for the default board.
func seedRepo(t testing.TB) *config.Git {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := filepath.Join(t.TempDir(), "app")
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	r, err := jirastub.BuildRepo(jiraCtx(t), dir, jiraProject, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &config.Git{Repo: r.Dir, Remote: "origin", Branches: r.Branches}
}

// wantBranches is where the seed's history puts each card: the board's
// rule, bent for exactly the two git inconsistencies the seed documents.
func wantBranches(is jirastub.Issue) []string {
	switch {
	case is.Key == "ACME-35":
		return []string{"master"}
	case is.Key == "ACME-22":
		return []string{"master"}
	}
	switch jirastub.ColumnOf(is.Status) {
	case jirastub.ColumnProduction:
		return []string{"master", "staging", "production"}
	case jirastub.ColumnStaging, jirastub.ColumnQAHold, jirastub.ColumnTestingForProd:
		return []string{"master", "staging"}
	case jirastub.ColumnMergedToMaster:
		return []string{"master"}
	}
	return nil
}

func TestReadGitSeed(t *testing.T) {
	g := seedRepo(t)
	indexBefore, _ := os.Stat(filepath.Join(g.Repo, ".git", "index"))
	headBefore := gitIn(t, g.Repo, "symbolic-ref", "HEAD")
	info, err := sources.ReadGit(jiraCtx(t), g, jiraProject)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range jirastub.DefaultSeed(jiraProject) {
		if got, want := info.Where(is.Key), wantBranches(is); !slices.Equal(got, want) {
			t.Errorf("%s (%s) is on %v, want %v", is.Key, is.Status, got, want)
		}
	}
	// Open feature branches exist but are not deploy branches.
	if out := gitIn(t, g.Repo, "branch", "--list", "feature/*"); out == "" {
		t.Fatal("the seed repository should have open feature branches")
	}
	for _, b := range info.Branches {
		if b.Head == "" || b.Local != b.Head || b.Remote != "" || b.Commits == 0 || b.At.IsZero() || b.Subject == "" {
			t.Errorf("branch %+v not fully read", b)
		}
	}
	if len(info.Pairs) != 2 {
		t.Fatalf("pairs %+v", info.Pairs)
	}
	for _, p := range info.Pairs {
		if p.Pending == 0 || p.Unmerged != 0 {
			t.Errorf("%s → %s: %d pending, %d unmerged; want work pending and the hotfix merged down", p.Upper, p.Lower, p.Pending, p.Unmerged)
		}
	}
	if f := info.Facts()["git.branches_in_sync"]; !f.Known || !f.Bool {
		t.Errorf("git.branches_in_sync = %+v on a repository without a remote and with hotfixes merged down", f)
	}
	indexAfter, _ := os.Stat(filepath.Join(g.Repo, ".git", "index"))
	if headAfter := gitIn(t, g.Repo, "symbolic-ref", "HEAD"); headAfter != headBefore {
		t.Errorf("HEAD moved from %s to %s", headBefore, headAfter)
	}
	if indexBefore == nil || indexAfter == nil || !indexAfter.ModTime().Equal(indexBefore.ModTime()) {
		t.Error("reading git touched the index")
	}
	if st := gitIn(t, g.Repo, "status", "--porcelain"); st != "" {
		t.Errorf("working tree changed:\n%s", st)
	}
}

// A clone with a remote: local and remote heads are compared, keys on
// either count, and GitFetch brings remote work in without moving a local
// branch.
func TestReadGitRemoteAndFetch(t *testing.T) {
	g := seedRepo(t)
	origin := filepath.Join(t.TempDir(), "origin.git")
	gitIn(t, g.Repo, "clone", "-q", "--bare", g.Repo, origin)
	gitIn(t, g.Repo, "remote", "add", "origin", origin)
	gitIn(t, g.Repo, "fetch", "-q", "origin")

	// Someone else pushes a staging fix to the remote.
	other := filepath.Join(t.TempDir(), "other")
	gitIn(t, filepath.Dir(other), "clone", "-q", "-b", "staging", origin, other)
	gitIn(t, other, "commit", "-q", "--allow-empty", "-m", "Hotfix the invoice rounding", "-m", "Fixes ACME-33.")
	gitIn(t, other, "push", "-q", "origin", "staging")
	// And the deployer has an unpushed commit on master.
	gitIn(t, g.Repo, "commit", "-q", "--allow-empty", "-m", "acme-37: kennel dashboard tweaks")

	info, err := sources.ReadGit(jiraCtx(t), g, jiraProject)
	if err != nil {
		t.Fatal(err)
	}
	if m := info.Branch("master"); m.Ahead != 1 || m.Behind != 0 || !m.Keys["ACME-37"] {
		t.Errorf("master %+v: want 1 unpushed commit naming ACME-37 (written in lower case)", m)
	}
	if s := info.Branch("staging"); s.Behind != 0 || s.Keys["ACME-33"] {
		t.Errorf("before fetching, staging should not know the remote's new commit: %+v", s)
	}
	localStaging := gitIn(t, g.Repo, "rev-parse", "refs/heads/staging")

	if _, err := sources.GitFetch(jiraCtx(t), g); err != nil {
		t.Fatal(err)
	}
	info, err = sources.ReadGit(jiraCtx(t), g, jiraProject)
	if err != nil {
		t.Fatal(err)
	}
	s := info.Branch("staging")
	if s.Behind != 1 || !s.Keys["ACME-33"] || s.Local != localStaging {
		t.Errorf("after fetching, staging %+v: want 1 behind origin, ACME-33 known from the remote, the local branch unmoved", s)
	}
	f := info.Facts()["git.branches_in_sync"]
	if f.Bool || !strings.Contains(f.Detail, "master 1 unpushed") || !strings.Contains(f.Detail, "staging 1 behind origin") {
		t.Errorf("git.branches_in_sync = %+v", f)
	}
	if gitIn(t, g.Repo, "rev-parse", "refs/heads/staging") != localStaging {
		t.Error("GitFetch moved a local branch")
	}
}

func TestReadGitMissingBranch(t *testing.T) {
	g := seedRepo(t)
	g.Branches = []string{"master", "release", "production"}
	_, err := sources.ReadGit(jiraCtx(t), g, jiraProject)
	if err == nil || !strings.Contains(err.Error(), "release") || !strings.Contains(err.Error(), "check [git] branches") {
		t.Fatalf("error %v, want one naming the missing branch", err)
	}
}

func TestGitFetchFailureSaysWhatToCheck(t *testing.T) {
	g := seedRepo(t)
	gitIn(t, g.Repo, "remote", "add", "origin", filepath.Join(t.TempDir(), "gone.git"))
	_, err := sources.GitFetch(jiraCtx(t), g)
	if err == nil || !strings.Contains(err.Error(), "git fetch origin") || !strings.Contains(err.Error(), "git remote -v") {
		t.Fatalf("error %v", err)
	}
}

func TestFindKeys(t *testing.T) {
	re := sources.GitKeyPattern("ACME")
	got := sources.FindKeys(nil, re, []byte("Merge pull request #7 from acme/feature/acme-12-fix\n\nACME-1, ACME-123 and XACME-9; ACME-"))
	if want := []string{"ACME-12", "ACME-1", "ACME-123"}; !slices.Equal(got, want) {
		t.Errorf("FindKeys = %v, want %v", got, want)
	}
}

// bigRepo writes a repository of n commits with git fast-import: a linear
// master whose every commit names a key, some as pull request merges of a
// feature branch, with staging and production further back.
func bigRepo(b testing.TB, n int) *config.Git {
	b.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	dir := b.TempDir()
	gitIn(b, dir, "init", "-q", "-b", "master")
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(in)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("ACME-%d", i%3000+1)
		msg := fmt.Sprintf("%s: change number %d\n\nTouches the billing module.\n", key, i)
		if i%4 == 0 {
			msg = fmt.Sprintf("Merge pull request #%d from acme/feature/%s-some-work\n\nSome work\n", i, key)
		}
		fmt.Fprintf(w, "commit refs/heads/master\nmark :%d\ncommitter Dev <dev@acme.test> %d +0000\ndata %d\n%s", i, t0+int64(i)*60, len(msg), msg)
		if i > 1 {
			fmt.Fprintf(w, "from :%d\n", i-1)
		}
		fmt.Fprintf(w, "M 644 inline changes/%d.md\ndata 2\n%d\n\n", i%500, i%10)
	}
	fmt.Fprintf(w, "reset refs/heads/staging\nfrom :%d\n\nreset refs/heads/production\nfrom :%d\n\n", n-n/20, n-n/10)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, stderr.String())
	}
	return &config.Git{Repo: dir, Remote: "origin", Branches: []string{"master", "staging", "production"}}
}

func TestReadGitBigRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20,000-commit repository")
	}
	g := bigRepo(t, 20000)
	info, err := sources.ReadGit(context.Background(), g, jiraProject)
	if err != nil {
		t.Fatal(err)
	}
	if info.Commits != 20000 || info.Branch("production").Commits != 18000 || info.Pairs[0].Pending != 1000 {
		t.Errorf("commits %d, production %d, master→staging pending %d", info.Commits, info.Branch("production").Commits, info.Pairs[0].Pending)
	}
	if len(info.Branch("master").Keys) != 3000 {
		t.Errorf("%d keys on master, want 3000", len(info.Branch("master").Keys))
	}
}

func BenchmarkReadGit20k(b *testing.B) {
	g := bigRepo(b, 20000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sources.ReadGit(ctx, g, jiraProject); err != nil {
			b.Fatal(err)
		}
	}
}
