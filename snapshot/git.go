package snapshot

import (
	"fmt"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// GitBranch is one deploy branch as the clone knows it.
type GitBranch struct {
	Name string
	// Local and Remote are the commit ids of refs/heads/<name> and
	// refs/remotes/<remote>/<name>; either may be empty.
	Local, Remote string
	Head          string // Local, or Remote when there is no local branch
	Subject       string // of Head
	At            time.Time
	// Ahead and Behind compare the local branch with the remote one:
	// commits only local (unpushed) and only remote (not pulled).
	Ahead, Behind int
	Commits       int // commits in the branch's history
	// Keys are the issue keys named anywhere in the history of the local
	// or the remote branch: commit subjects and bodies, and the branch names
	// merge commits carry.
	Keys map[string]bool
}

// GitPair compares two neighbouring deploy branches, Upper (e.g. master)
// and Lower (staging), which code flows from Upper into Lower.
type GitPair struct {
	Upper, Lower string
	Pending      int // commits on Upper not yet on Lower: what the next deploy takes
	Unmerged     int // commits on Lower not on Upper: hotfixes not merged back up
}

// GitInfo is one reading of the clone.
type GitInfo struct {
	Repo, Remote string
	Branches     []GitBranch // in config order
	Pairs        []GitPair
	Commits      int // distinct commits read
}

// Branch returns the named branch, or nil.
func (g *GitInfo) Branch(name string) *GitBranch {
	if g == nil {
		return nil
	}
	for i := range g.Branches {
		if g.Branches[i].Name == name {
			return &g.Branches[i]
		}
	}
	return nil
}

// Where lists the branches whose history names key, in config order.
func (g *GitInfo) Where(key string) []string {
	if g == nil {
		return nil
	}
	var out []string
	for _, b := range g.Branches {
		if b.Keys[key] {
			out = append(out, b.Name)
		}
	}
	return out
}

// Facts publishes git.branches_in_sync.
func (g GitInfo) Facts() gates.Facts {
	var off []string
	for _, b := range g.Branches {
		if b.Ahead > 0 {
			off = append(off, fmt.Sprintf("%s %d unpushed", b.Name, b.Ahead))
		}
		if b.Behind > 0 {
			off = append(off, fmt.Sprintf("%s %d behind %s", b.Name, b.Behind, g.Remote))
		}
	}
	for _, p := range g.Pairs {
		if p.Unmerged > 0 {
			off = append(off, fmt.Sprintf("%s has %d commits not merged into %s", p.Lower, p.Unmerged, p.Upper))
		}
	}
	detail := "all branches in sync"
	if len(off) > 0 {
		detail = strings.Join(off, ", ")
	}
	return gates.Facts{"git.branches_in_sync": {Known: true, Bool: len(off) == 0, Detail: detail}}
}
