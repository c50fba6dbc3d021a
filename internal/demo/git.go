package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"conveyor.dev/conveyor/examples"
)

// repo is the demo's git repository: a bare "remote" the server clones
// from, and a work tree where the demo's developer commits.
type repo struct {
	bare, work string
	env        []string
}

// newRepo lays out examples/webapp under dir as a bare repository with one
// commit on main.
func newRepo(ctx context.Context, dir string) (*repo, error) {
	r := &repo{
		bare: filepath.Join(dir, "webapp.git"),
		work: filepath.Join(dir, "webapp"),
		env: append(os.Environ(),
			"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com",
			"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir),
	}
	if err := examples.Materialize("webapp", r.work); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"init", "-q", "--bare", "-b", "main", r.bare},
		{"-C", r.work, "init", "-q", "-b", "main"},
		{"-C", r.work, "add", "-A"},
		{"-C", r.work, "commit", "-q", "-m", "webapp: first version"},
		{"-C", r.work, "remote", "add", "origin", r.bare},
		{"-C", r.work, "push", "-q", "origin", "main"},
	}
	for _, s := range steps {
		if _, err := r.git(ctx, s...); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *repo) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// head returns the commit of ref.
func (r *repo) head(ctx context.Context, ref string) (string, error) {
	return r.git(ctx, "-C", r.work, "rev-parse", ref)
}

// openBranch commits a change on a new branch and pushes it; it returns the
// branch's commit.
func (r *repo) openBranch(ctx context.Context, branch, file, content, message string) (string, error) {
	if _, err := r.git(ctx, "-C", r.work, "checkout", "-q", "-b", branch); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(r.work, file), []byte(content), 0o644); err != nil {
		return "", err
	}
	for _, s := range [][]string{{"-C", r.work, "add", "-A"}, {"-C", r.work, "commit", "-q", "-m", message}, {"-C", r.work, "push", "-q", "origin", branch}} {
		if _, err := r.git(ctx, s...); err != nil {
			return "", err
		}
	}
	return r.head(ctx, "HEAD")
}

// merge merges branch into main with a merge commit and pushes main; it
// returns main's commit before and after.
func (r *repo) merge(ctx context.Context, branch, message string) (before, after string, err error) {
	if _, err = r.git(ctx, "-C", r.work, "checkout", "-q", "main"); err != nil {
		return "", "", err
	}
	if before, err = r.head(ctx, "main"); err != nil {
		return "", "", err
	}
	if _, err = r.git(ctx, "-C", r.work, "merge", "-q", "--no-ff", "-m", message, branch); err != nil {
		return "", "", err
	}
	if _, err = r.git(ctx, "-C", r.work, "push", "-q", "origin", "main"); err != nil {
		return "", "", err
	}
	after, err = r.head(ctx, "main")
	return before, after, err
}

// changedFiles lists the files changed between two commits.
func (r *repo) changedFiles(ctx context.Context, from, to string) ([]string, error) {
	out, err := r.git(ctx, "-C", r.work, "diff", "--name-only", from, to)
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}
