package observe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// CommitTimeFunc returns when commit of repository (a run's Repository:
// its clone URL or path) was committed.
type CommitTimeFunc func(ctx context.Context, repository, commit string) (time.Time, error)

// GitCommitTime reads the committer date of commit in the git repository
// (or bare mirror) dir with git.
func GitCommitTime(ctx context.Context, dir, commit string) (time.Time, error) {
	if commit == "" || strings.HasPrefix(commit, "-") {
		return time.Time{}, fmt.Errorf("commit time: %q is not a commit", commit)
	}
	cmd := exec.CommandContext(ctx, "git", "show", "-s", "--format=%cI", commit, "--")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time of %s in %s: %w: %s", commit, dir, err, strings.TrimSpace(stderr.String()))
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time of %s in %s: %w", commit, dir, err)
	}
	return t.UTC(), nil
}
