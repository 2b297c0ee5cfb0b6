package sources

import (
	"bytes"
	"context"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// ProbeGit checks that the repository exists and has the configured branches,
// locally or on the remote. It never fetches: that is an action.
func ProbeGit(ctx context.Context, g *config.Git) snapshot.Reach {
	r := snapshot.Reach{Target: g.Repo}
	if _, err := gitOutput(ctx, g.Repo, "rev-parse", "--git-dir"); err != nil {
		r.Err = err
		return r
	}
	var missing []string
	for _, b := range g.Branches {
		if _, err := gitOutput(ctx, g.Repo, "rev-parse", "--verify", "--quiet", "refs/heads/"+b); err == nil {
			continue
		}
		if _, err := gitOutput(ctx, g.Repo, "rev-parse", "--verify", "--quiet", "refs/remotes/"+g.Remote+"/"+b); err == nil {
			continue
		}
		missing = append(missing, b)
	}
	if len(missing) > 0 {
		r.Err = fmt.Errorf("branch %s not found locally or on %s: check [git] branches", strings.Join(missing, ", "), g.Remote)
		return r
	}
	r.Detail = "branches " + strings.Join(g.Branches, ", ")
	return r
}

// gitEnviron keeps git from prompting (a source must never hang on a
// password nobody will type) and from translating the output it parses.
func gitEnviron() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	if os.Getenv("GIT_SSH_COMMAND") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return env
}

// gitCmd runs git read-only on repo: --no-optional-locks stops even the
// index refresh that `git status` would write, so the deployer's own git
// commands never meet a lock taken by the cockpit.
func gitCmd(ctx context.Context, repo string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--no-optional-locks", "-C", repo}, args...)...)
	cmd.Env = gitEnviron()
	return cmd
}

func gitOutput(ctx context.Context, repo string, args ...string) (string, error) {
	out, err := gitBytes(ctx, repo, args...)
	return strings.TrimSpace(string(out)), err
}

func gitBytes(ctx context.Context, repo string, args ...string) ([]byte, error) {
	cmd := gitCmd(ctx, repo, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			msg = snapshot.OneLine(s)
		}
		if ctx.Err() != nil {
			msg = ctx.Err().Error()
		}
		return nil, fmt.Errorf("git %s in %s: %s", strings.Join(args, " "), repo, msg)
	}
	return out, nil
}

// KeyPattern finds one project's issue keys in free text, whatever their
// case: branch names are often written in lower case. It scans for the
// project prefix by hand; a case-insensitive regular expression costs
// several times as much over a long history.
type KeyPattern struct {
	lower []byte // "acme-"
	upper string // "ACME-"
}

// GitKeyPattern returns the key pattern of project.
func GitKeyPattern(project string) KeyPattern {
	return KeyPattern{lower: []byte(strings.ToLower(project) + "-"), upper: strings.ToUpper(project) + "-"}
}

// FindKeys appends to dst the issue keys in text, upper-cased. A key must
// not continue a longer word ("XACME-1" is not ACME-1) and must have digits.
func FindKeys(dst []string, p KeyPattern, text []byte) []string {
	n := len(p.lower)
	if n <= 1 {
		return dst
	}
	for i := 0; i+n < len(text); {
		j := indexFold(text[i:], p.lower)
		if j < 0 {
			break
		}
		at := i + j
		end := at + n
		for end < len(text) && text[end] >= '0' && text[end] <= '9' {
			end++
		}
		if end > at+n && (at == 0 || !isAlnum(text[at-1])) {
			dst = append(dst, p.upper+string(text[at+n:end]))
		}
		i = max(end, at+1)
	}
	return dst
}

// indexFold is bytes.Index ignoring ASCII case; lower is already lower case.
func indexFold(s, lower []byte) int {
	first := lower[0]
	firstUp := first
	if first >= 'a' && first <= 'z' {
		firstUp = first - 'a' + 'A'
	}
	for i := 0; i+len(lower) <= len(s); i++ {
		c := s[i]
		if c != first && c != firstUp {
			continue
		}
		ok := true
		for k := 1; k < len(lower); k++ {
			c := s[i+k]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[k] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ReadGit reads the deploy branches of the clone: heads, how they compare
// with the remote and with each other, and which of project's issue keys
// each one's history names. It reads refs and objects only; it never
// fetches, checks out or writes anything.
func ReadGit(ctx context.Context, g *config.Git, project string) (snapshot.GitInfo, error) {
	info := snapshot.GitInfo{Repo: g.Repo, Remote: g.Remote}
	refs, err := gitBytes(ctx, g.Repo, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(committerdate:unix)%00%(subject)",
		"refs/heads/", "refs/remotes/"+g.Remote+"/")
	if err != nil {
		return info, err
	}
	type refInfo struct {
		id, subject string
		at          time.Time
	}
	byRef := map[string]refInfo{}
	for line := range strings.SplitSeq(string(refs), "\n") {
		f := strings.SplitN(line, "\x00", 4)
		if len(f) != 4 {
			continue
		}
		secs, _ := strconv.ParseInt(f[2], 10, 64)
		byRef[f[0]] = refInfo{id: f[1], subject: f[3], at: time.Unix(secs, 0)}
	}
	var missing []string
	var tips []string
	for _, name := range g.Branches {
		b := snapshot.GitBranch{Name: name, Keys: map[string]bool{}}
		l, hasL := byRef["refs/heads/"+name]
		r, hasR := byRef["refs/remotes/"+g.Remote+"/"+name]
		switch {
		case hasL:
			b.Local, b.Head, b.Subject, b.At = l.id, l.id, l.subject, l.at
		case hasR:
			b.Head, b.Subject, b.At = r.id, r.subject, r.at
		default:
			missing = append(missing, name)
		}
		if hasR {
			b.Remote = r.id
		}
		for _, id := range []string{b.Local, b.Remote} {
			if id != "" && !slices.Contains(tips, id) {
				tips = append(tips, id)
			}
		}
		info.Branches = append(info.Branches, b)
	}
	if len(missing) > 0 {
		return info, fmt.Errorf("branch %s not found in %s, locally or on %s: check [git] branches, or fetch", strings.Join(missing, ", "), g.Repo, g.Remote)
	}
	if len(tips) == 0 {
		return info, nil
	}

	// One walk over the union of the histories gives every commit's
	// parents and message; reachability per tip is then worked out here
	// rather than by one rev-list per branch and pair.
	args := append([]string{"log", "--no-color", "--no-notes", "--no-show-signature", "--format=%H %P%x00%B%x1e"}, tips...)
	out, err := gitBytes(ctx, g.Repo, append(args, "--")...)
	if err != nil {
		return info, err
	}
	h := parseGitHistory(out, GitKeyPattern(project))
	info.Commits = len(h.ids)
	reach := map[string][]uint64{}
	for _, t := range tips {
		reach[t] = h.reach(t)
	}
	union := func(ids ...string) []uint64 {
		out := make([]uint64, (len(h.ids)+63)/64)
		for _, id := range ids {
			for i, w := range reach[id] {
				out[i] |= w
			}
		}
		return out
	}
	sets := make([][]uint64, len(info.Branches))
	for i := range info.Branches {
		b := &info.Branches[i]
		var ids []string
		for _, id := range []string{b.Local, b.Remote} {
			if id != "" {
				ids = append(ids, id)
			}
		}
		sets[i] = union(ids...)
		b.Commits = popcount(sets[i])
		if b.Local != "" && b.Remote != "" {
			b.Ahead = countAndNot(reach[b.Local], reach[b.Remote])
			b.Behind = countAndNot(reach[b.Remote], reach[b.Local])
		}
		for _, kc := range h.keyed {
			if sets[i][kc.idx/64]&(1<<(kc.idx%64)) != 0 {
				for _, k := range kc.keys {
					b.Keys[k] = true
				}
			}
		}
	}
	for i := 0; i+1 < len(info.Branches); i++ {
		info.Pairs = append(info.Pairs, snapshot.GitPair{
			Upper: info.Branches[i].Name, Lower: info.Branches[i+1].Name,
			Pending:  countAndNot(sets[i], sets[i+1]),
			Unmerged: countAndNot(sets[i+1], sets[i]),
		})
	}
	return info, nil
}

// gitHistory is a commit graph held as indices, so that reachability is a
// walk over ints rather than over commit ids.
type gitHistory struct {
	ids     []string
	index   map[string]int
	parents [][]int32
	keyed   []keyedCommit
}

type keyedCommit struct {
	idx  int
	keys []string
}

func parseGitHistory(out []byte, keys KeyPattern) *gitHistory {
	h := &gitHistory{index: map[string]int{}}
	var parentIDs [][]string
	for len(out) > 0 {
		rec := out
		if i := bytes.IndexByte(out, 0x1e); i >= 0 {
			rec, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		rec = bytes.TrimLeft(rec, "\n")
		head, msg, ok := bytes.Cut(rec, []byte{0})
		if !ok {
			continue
		}
		fields := strings.Fields(string(head))
		if len(fields) == 0 {
			continue
		}
		idx := len(h.ids)
		h.index[fields[0]] = idx
		h.ids = append(h.ids, fields[0])
		parentIDs = append(parentIDs, fields[1:])
		if found := FindKeys(nil, keys, msg); len(found) > 0 {
			slices.Sort(found)
			h.keyed = append(h.keyed, keyedCommit{idx: idx, keys: slices.Compact(found)})
		}
	}
	h.parents = make([][]int32, len(h.ids))
	for i, ps := range parentIDs {
		for _, p := range ps {
			// A shallow clone's boundary commits have parents git never
			// sent; their history simply ends there.
			if j, ok := h.index[p]; ok {
				h.parents[i] = append(h.parents[i], int32(j))
			}
		}
	}
	return h
}

// reach returns the set of commits reachable from id, as a bitset.
func (h *gitHistory) reach(id string) []uint64 {
	set := make([]uint64, (len(h.ids)+63)/64)
	start, ok := h.index[id]
	if !ok {
		return set
	}
	stack := []int32{int32(start)}
	set[start/64] |= 1 << (start % 64)
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range h.parents[c] {
			if set[p/64]&(1<<(p%64)) == 0 {
				set[p/64] |= 1 << (p % 64)
				stack = append(stack, p)
			}
		}
	}
	return set
}

func popcount(s []uint64) int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// countAndNot counts the commits in a that are not in b.
func countAndNot(a, b []uint64) int {
	n := 0
	for i, w := range a {
		if i < len(b) {
			w &^= b[i]
		}
		n += bits.OnesCount64(w)
	}
	return n
}

// GitFetch fetches the remote into the clone's remote-tracking branches. It
// moves no local branch and touches no working tree; the output is git's
// own account, for the action's result.
func GitFetch(ctx context.Context, g *config.Git) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", g.Repo, "fetch", "--prune", g.Remote)
	cmd.Env = gitEnviron()
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		if ctx.Err() != nil {
			return text, fmt.Errorf("git fetch %s in %s: %w", g.Remote, g.Repo, ctx.Err())
		}
		msg := snapshot.OneLine(text)
		if msg == "" {
			msg = err.Error()
		}
		return text, fmt.Errorf("git fetch %s in %s failed: %s: check the remote's URL and credentials (git remote -v)", g.Remote, g.Repo, msg)
	}
	return text, nil
}
