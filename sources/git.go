package sources

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// ProbeGit checks that the repository exists and has the configured branches,
// locally or on the remote. It never fetches: that is an action.
func ProbeGit(ctx context.Context, g *config.Git) Reach {
	r := Reach{Target: g.Repo}
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

func gitOutput(ctx context.Context, repo string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("git %s in %s: %s", strings.Join(args, " "), repo, msg)
	}
	return strings.TrimSpace(string(out)), nil
}
