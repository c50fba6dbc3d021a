package server

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"conveyor.dev/conveyor/internal/config"
)

// git runs git with args in dir and returns its trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// checkout returns the tree of commit (or of branch's head, or of the
// default branch's) of repo, fetching the mirror when it lacks it. A
// commit on a branch that the local repository local (the trigger's
// mirror; may be "") has is read from there, without a fetch.
func (g *gitCache) checkout(ctx context.Context, repo config.Repository, branch, commit, local string) (sourceTree, error) {
	if local != "" && branch != "" && len(commit) == 40 && hasCommit(ctx, local, commit) {
		if !strings.HasPrefix(branch, "refs/") {
			branch = "refs/heads/" + branch
		}
		dir := filepath.Join(g.sources, commit)
		if _, err := os.Stat(dir); err == nil {
			return sourceTree{dir: dir, commit: commit, branch: branch}, nil
		}
		if err := g.export(ctx, local, commit, dir); err == nil {
			return sourceTree{dir: dir, commit: commit, branch: branch}, nil
		}
		// Fall back on the runner's own mirror.
	}
	unlock := g.lock(repo.Name)
	defer unlock()
	mirror := filepath.Join(g.repos, url.PathEscape(repo.Name)+".git")
	subject := fmt.Sprintf("repository %s (%s)", repo.Name, repo.URL)
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err != nil {
		if err := os.MkdirAll(g.repos, 0o755); err != nil {
			return sourceTree{}, fmt.Errorf("%s: %w", subject, err)
		}
		tmp, err := os.MkdirTemp(g.repos, ".clone-")
		if err != nil {
			return sourceTree{}, fmt.Errorf("%s: %w", subject, err)
		}
		defer os.RemoveAll(tmp)
		if _, err := git(ctx, g.repos, "clone", "--mirror", "--quiet", repo.URL, tmp); err != nil {
			return sourceTree{}, fmt.Errorf("%s: clone: %w", subject, err)
		}
		if err := os.Rename(tmp, mirror); err != nil {
			return sourceTree{}, fmt.Errorf("%s: %w", subject, err)
		}
	} else if commit == "" || !hasCommit(ctx, mirror, commit) {
		if _, err := git(ctx, mirror, "fetch", "--prune", "--quiet", "origin"); err != nil {
			return sourceTree{}, fmt.Errorf("%s: fetch: %w", subject, err)
		}
	}
	if branch == "" {
		head, err := git(ctx, mirror, "symbolic-ref", "HEAD")
		if err != nil {
			return sourceTree{}, fmt.Errorf("%s: default branch: %w", subject, err)
		}
		branch = head
	}
	if !strings.HasPrefix(branch, "refs/") {
		branch = "refs/heads/" + branch
	}
	if commit == "" {
		c, err := git(ctx, mirror, "rev-parse", "--verify", "--quiet", branch+"^{commit}")
		if err != nil {
			return sourceTree{}, fmt.Errorf("%s: branch %s: %w: push it first, or name another branch", subject, branch, errNoCommit)
		}
		commit = c
	} else {
		c, err := git(ctx, mirror, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
		if err != nil {
			return sourceTree{}, fmt.Errorf("%s: commit %s: %w", subject, commit, errNoCommit)
		}
		commit = c
	}
	dir := filepath.Join(g.sources, commit)
	if _, err := os.Stat(dir); err == nil {
		return sourceTree{dir: dir, commit: commit, branch: branch}, nil
	}
	if err := g.export(ctx, mirror, commit, dir); err != nil {
		return sourceTree{}, fmt.Errorf("%s: export %.12s: %w", subject, commit, err)
	}
	return sourceTree{dir: dir, commit: commit, branch: branch}, nil
}

func hasCommit(ctx context.Context, mirror, commit string) bool {
	_, err := git(ctx, mirror, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// export writes the files of commit to dir (via a temporary folder, so a
// tree that exists is whole).
func (g *gitCache) export(ctx context.Context, mirror, commit, dir string) error {
	if err := os.MkdirAll(g.sources, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(g.sources, ".export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	cmd.Dir = mirror
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	terr := untar(out, tmp)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if terr != nil {
		return terr
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another export of the same commit won
		}
		return err
	}
	return nil
}

// untar extracts regular files, directories and symbolic links of a git
// archive under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			continue
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}
