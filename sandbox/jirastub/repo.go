package jirastub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Repo is a git repository whose history matches a board.
type Repo struct {
	Dir string
	// Branches are the deploy branches, master, staging and production, in
	// the order code flows through them. Feature branches of open cards
	// also exist in the repository but are not listed: nothing deploys them.
	Branches []string
}

// level is how far down the deploy pipeline a card's code has gone.
type level int

const (
	nowhere level = iota
	onMaster
	onStaging
	onProduction
)

// placement is the board's rule for where a card's code should be, bent for
// exactly the two git inconsistencies Inconsistencies lists.
func placement(project string, is Issue) level {
	switch is.Status {
	case StatusProduction:
		return onProduction
	case StatusStaging:
		if is.Key == key(project, incStagingUnmerged) {
			return onMaster
		}
		return onStaging
	case StatusQAHold, StatusWaitingForQA, StatusTestingForProd:
		return onStaging
	case StatusMergedToMaster:
		return onMaster
	case StatusInProgress:
		if is.Key == key(project, incMergedInProgress) {
			return onMaster
		}
	}
	return nowhere
}

// BuildRepo creates a real git repository in dir (which must be absent or
// empty) whose master, staging and production branches hold exactly the
// cards the board says they should, apart from the deliberate
// inconsistencies. issues nil means DefaultSeed(project).
//
// The history is a plausible two sprints: previous-release work merged to
// master and promoted at the 2026-10-25 deploy; a hotfix on production
// merged down; the current release's work merged to master and promoted at
// the 2026-11-08 deploy (tagged PreviousRelease on production); then this
// sprint's merges to master, and open feature branches for cards still in
// review or in progress. Keys appear in commit subjects and, for pull
// request merges, in the merged branch name only. Identities and dates are
// fixed, so the same input yields the same commit ids on any machine.
func BuildRepo(ctx context.Context, dir, project string, issues []Issue) (Repo, error) {
	if issues == nil {
		issues = DefaultSeed(project)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Repo{}, err
	}
	if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 {
		return Repo{}, fmt.Errorf("build repo: %s is not empty; remove it or choose another directory", abs)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return Repo{}, fmt.Errorf("build repo: %w", err)
	}
	b := &builder{ctx: ctx, dir: abs, pr: 101, env: gitEnv(abs)}
	if err := b.build(project, issues); err != nil {
		return Repo{}, fmt.Errorf("build repo in %s: %w", abs, err)
	}
	return Repo{Dir: abs, Branches: []string{"master", "staging", "production"}}, nil
}

// gitEnv isolates git from the caller: inherited GIT_DIR or GIT_INDEX_FILE
// (set inside hooks, for one) would aim these commands at another
// repository, and a user's global config could sign commits or change
// defaults and break reproducibility.
func gitEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(dir),
		"LC_ALL=C",
	)
}

type person struct{ name, email string }

var deployBot = person{"Deploy Bot", "deploy-bot@acme.test"}

func personFor(name string) person {
	if name == "" {
		return person{"Sandbox Developer", "dev@acme.test"}
	}
	return person{name, strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@acme.test"}
}

type builder struct {
	ctx    context.Context
	dir    string
	env    []string
	at     time.Time
	pr     int
	merges int
}

func (b *builder) git(who person, args ...string) error {
	full := append([]string{
		"-c", "user.name=" + who.name, "-c", "user.email=" + who.email,
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
		"-c", "core.autocrlf=false", "-c", "gc.auto=0", "-c", "merge.ff=true",
	}, args...)
	cmd := exec.CommandContext(b.ctx, "git", full...)
	cmd.Dir = b.dir
	date := fmt.Sprintf("@%d +0000", b.at.Unix())
	cmd.Env = append(slices.Clone(b.env),
		"GIT_AUTHOR_NAME="+who.name, "GIT_AUTHOR_EMAIL="+who.email, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+who.name, "GIT_COMMITTER_EMAIL="+who.email, "GIT_COMMITTER_DATE="+date,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// commit writes one line to the card's own file, so no two branches ever
// touch the same file and every merge is conflict-free.
func (b *builder) commit(who person, file, line, msg string) error {
	b.at = b.at.Add(41 * time.Minute)
	path := filepath.Join(b.dir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(line + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	if err := b.git(who, "add", "--", file); err != nil {
		return err
	}
	return b.git(who, "commit", "-q", "-m", msg)
}

func (b *builder) merge(who person, branch string, msgs ...string) error {
	b.at = b.at.Add(17 * time.Minute)
	args := []string{"merge", "-q", "--no-ff", "--no-edit"}
	for _, m := range msgs {
		args = append(args, "-m", m)
	}
	return b.git(who, append(args, branch)...)
}

// promote is the runbook's deploy: staging into production, then master
// into staging. Both fast-forward when nothing diverged, as they do at
// a real deploy after the merge-down.
func (b *builder) promote() error {
	b.at = b.at.Add(time.Minute)
	for _, s := range [][]string{
		{"checkout", "-q", "production"},
		{"merge", "-q", "--no-edit", "-m", "Merge branch 'staging' into production", "staging"},
		{"checkout", "-q", "staging"},
		{"merge", "-q", "--no-edit", "-m", "Merge branch 'master' into staging", "master"},
		{"checkout", "-q", "master"},
	} {
		if err := b.git(deployBot, s...); err != nil {
			return err
		}
	}
	return nil
}

// advance moves the clock to t unless a long board already took it past t,
// so history never goes backwards.
func (b *builder) advance(t time.Time) {
	if t.After(b.at) {
		b.at = t
	}
}

func slug(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
			dash = false
		} else if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(sb.String(), "-")
	if len(out) > 40 {
		out = strings.TrimSuffix(out[:40], "-")
	}
	return out
}

// subject writes a summary the way commit subjects are written.
func subject(is Issue) string {
	s := is.Summary
	if s != "" {
		s = strings.ToLower(s[:1]) + s[1:]
	}
	return is.Key + ": " + s
}

func fileFor(is Issue) string { return "changes/" + is.Key + ".md" }

// land merges a card to master. Most go through a pull request merge
// commit; every third is squash-merged, and some pull requests' own commits
// never name the card, so the key survives only in the merged branch name,
// as it does in real histories.
func (b *builder) land(is Issue) error {
	who := personFor(is.Assignee)
	pr := b.pr
	b.pr++
	b.merges++
	if b.merges%3 == 0 {
		return b.commit(who, fileFor(is), "# "+is.Summary, fmt.Sprintf("%s (#%d)", subject(is), pr))
	}
	branch := "feature/" + is.Key + "-" + slug(is.Summary)
	first, second := subject(is), "Address review comments"
	if b.merges%3 == 2 {
		first, second = "Initial implementation", "Fix failing tests"
	}
	if err := b.git(who, "checkout", "-q", "-b", branch, "master"); err != nil {
		return err
	}
	if err := b.commit(who, fileFor(is), "# "+is.Summary, first); err != nil {
		return err
	}
	if err := b.commit(who, fileFor(is), "- reviewed", second); err != nil {
		return err
	}
	if err := b.git(who, "checkout", "-q", "master"); err != nil {
		return err
	}
	if err := b.merge(who, branch, fmt.Sprintf("Merge pull request #%d from acme/%s", pr, branch), is.Summary); err != nil {
		return err
	}
	return b.git(who, "branch", "-q", "-D", branch)
}

// hotfix lands a card on production first and merges it down, as the
// runbook's pre-deployment step expects to find.
func (b *builder) hotfix(is Issue) error {
	who := personFor(is.Assignee)
	branch := "hotfix/" + is.Key + "-" + slug(is.Summary)
	steps := []func() error{
		func() error { return b.git(who, "checkout", "-q", "-b", branch, "production") },
		func() error { return b.commit(who, fileFor(is), "# "+is.Summary, subject(is)) },
		func() error { return b.git(who, "checkout", "-q", "production") },
		func() error { return b.merge(who, branch, "Merge branch '"+branch+"' into production") },
		func() error { return b.git(who, "branch", "-q", "-D", branch) },
		func() error { return b.git(deployBot, "checkout", "-q", "staging") },
		func() error { return b.merge(deployBot, "production", "Merge branch 'production' into staging") },
		func() error { return b.git(deployBot, "checkout", "-q", "master") },
		func() error { return b.merge(deployBot, "staging", "Merge branch 'staging'") },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// open leaves a card's work on an unmerged feature branch.
func (b *builder) open(is Issue, commits int) error {
	who := personFor(is.Assignee)
	branch := "feature/" + is.Key + "-" + slug(is.Summary)
	if err := b.git(who, "checkout", "-q", "-b", branch, "master"); err != nil {
		return err
	}
	msgs := []string{subject(is), "WIP", "Address review comments"}
	for i := range commits {
		if err := b.commit(who, fileFor(is), "- step", msgs[i%len(msgs)]); err != nil {
			return err
		}
	}
	return b.git(who, "checkout", "-q", "master")
}

func (b *builder) build(project string, issues []Issue) error {
	sorted := slices.Clone(issues)
	slices.SortStableFunc(sorted, func(x, y Issue) int {
		_, nx := keyParts(x.Key)
		_, ny := keyParts(y.Key)
		return nx - ny
	})
	by := map[level][]Issue{}
	for _, is := range sorted {
		l := placement(project, is)
		by[l] = append(by[l], is)
	}
	var hot *Issue
	if prod := by[onProduction]; len(prod) > 1 {
		hot = &prod[len(prod)-1]
		by[onProduction] = prod[:len(prod)-1]
	}

	b.at = time.Date(2026, 10, 12, 9, 0, 0, 0, time.UTC)
	if err := b.git(deployBot, "init", "-q", "--template=", "--initial-branch=master"); err != nil {
		return err
	}
	readme := "# " + project + " application\n\nSandbox repository for the Flightdeck demo.\n"
	if err := os.WriteFile(filepath.Join(b.dir, "README.md"), []byte(readme), 0o644); err != nil {
		return err
	}
	for _, s := range [][]string{
		{"add", "README.md"}, {"commit", "-q", "-m", "Initial commit"},
		{"branch", "staging"}, {"branch", "production"},
	} {
		if err := b.git(deployBot, s...); err != nil {
			return err
		}
	}

	// Sprint 45: the work now in production.
	for _, is := range by[onProduction] {
		if err := b.land(is); err != nil {
			return err
		}
	}
	b.advance(time.Date(2026, 10, 25, 9, 0, 0, 0, time.UTC))
	if err := b.promote(); err != nil {
		return err
	}

	// Sprint 46: the work now on staging, with a production hotfix midway.
	b.advance(time.Date(2026, 10, 26, 9, 30, 0, 0, time.UTC))
	staged := by[onStaging]
	half := len(staged) / 2
	for _, is := range staged[:half] {
		if err := b.land(is); err != nil {
			return err
		}
	}
	if hot != nil {
		if err := b.hotfix(*hot); err != nil {
			return err
		}
	}
	for _, is := range staged[half:] {
		if err := b.land(is); err != nil {
			return err
		}
	}
	b.advance(time.Date(2026, 11, 8, 9, 0, 0, 0, time.UTC))
	if err := b.promote(); err != nil {
		return err
	}
	if len(by[onProduction]) > 0 || hot != nil {
		if err := b.git(deployBot, "tag", PreviousRelease, "production"); err != nil {
			return err
		}
	}

	// Sprint 47: merged to master since the last deploy.
	b.advance(time.Date(2026, 11, 9, 9, 30, 0, 0, time.UTC))
	for _, is := range by[onMaster] {
		if err := b.land(is); err != nil {
			return err
		}
	}

	// Open work: every card in review has a branch; in progress, most do.
	b.advance(time.Date(2026, 11, 16, 9, 30, 0, 0, time.UTC))
	started := 0
	for _, is := range by[nowhere] {
		switch is.Status {
		case StatusCodeReview:
			if err := b.open(is, 3); err != nil {
				return err
			}
		case StatusInProgress, StatusReopened:
			started++
			if started%3 == 0 {
				continue // picked up today, nothing pushed yet
			}
			if err := b.open(is, 2); err != nil {
				return err
			}
		}
	}
	return nil
}
