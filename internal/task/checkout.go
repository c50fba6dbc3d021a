package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runCheckout is the checkout step: it fetches a git repository into a
// directory of the workspace with real git and checks out one commit or ref.
// Inputs (set by the engine): url, commit, ref, path, clean, fetchDepth,
// fetchTags, submodules.
func runCheckout(ctx context.Context, env *Env) (Result, error) {
	url := env.Input("url", "")
	dest := env.Input("path", env.Dirs.Sources)
	if url == "" {
		return Result{Status: Failed, Message: "checkout: no repository url"}, nil
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(env.Dirs.Pipeline, dest)
	}
	clean, err := env.BoolInput("clean", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	if clean {
		if err := os.RemoveAll(dest); err != nil {
			return Result{}, fmt.Errorf("checkout: clean %s: %w", dest, err)
		}
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return Result{}, fmt.Errorf("checkout: %s: %w", dest, err)
	}
	git := func(args ...string) (bool, error) {
		env.Logf("##[command]git %s", strings.Join(args, " "))
		st, err := env.Exec(ctx, Command{Path: "git", Args: args, Dir: dest})
		if err != nil {
			return false, err
		}
		return st.Code == 0, nil
	}
	if _, err := os.Stat(filepath.Join(dest, ".git")); err != nil {
		if ok, err := git("init", "--quiet", "."); err != nil || !ok {
			return failedGit("init", err)
		}
	}
	if ok, err := git("config", "remote.origin.url", url); err != nil || !ok {
		return failedGit("config remote.origin.url", err)
	}
	fetch := []string{"-c", "protocol.version=2", "fetch", "--force", "--prune", "--no-recurse-submodules"}
	if d := env.Input("fetchDepth", "0"); d != "0" && d != "" {
		fetch = append(fetch, "--depth="+d)
	}
	if t := env.Input("fetchTags", ""); strings.EqualFold(t, "false") {
		fetch = append(fetch, "--no-tags")
	} else {
		fetch = append(fetch, "--tags")
	}
	commit, ref := env.Input("commit", ""), env.Input("ref", "")
	refspecs := []string{"+refs/heads/*:refs/remotes/origin/*"}
	if ref == "" && commit == "" {
		refspecs = append(refspecs, "+HEAD:refs/remotes/origin/HEAD")
	}
	if ref != "" && !strings.HasPrefix(ref, "refs/heads/") && strings.HasPrefix(ref, "refs/") {
		refspecs = append(refspecs, "+"+ref+":refs/remotes/origin/"+strings.TrimPrefix(ref, "refs/"))
	}
	ok, err := git(append(append(fetch, "origin"), refspecs...)...)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return failedGit("fetch "+url, nil)
	}
	target := commit
	if target == "" {
		switch {
		case ref == "":
			target = "refs/remotes/origin/HEAD"
		case strings.HasPrefix(ref, "refs/heads/"):
			target = "refs/remotes/origin/" + strings.TrimPrefix(ref, "refs/heads/")
		case strings.HasPrefix(ref, "refs/"):
			target = "refs/remotes/origin/" + strings.TrimPrefix(ref, "refs/")
		default:
			target = "refs/remotes/origin/" + ref
		}
	} else if ok, err := git("cat-file", "-e", commit+"^{commit}"); err != nil {
		return Result{}, err
	} else if !ok {
		// A commit no branch points at (a detached HEAD): fetch it by id.
		if ok, err := git(append(fetch, "origin", commit)...); err != nil || !ok {
			return failedGit("fetch "+commit, err)
		}
	}
	if ok, err := git("-c", "advice.detachedHead=false", "checkout", "--progress", "--force", target); err != nil || !ok {
		return failedGit("checkout "+target, err)
	}
	if clean {
		if ok, err := git("clean", "-ffdx"); err != nil || !ok {
			return failedGit("clean", err)
		}
	}
	if sm := env.Input("submodules", ""); sm == "true" || sm == "recursive" {
		args := []string{"submodule", "update", "--init", "--force"}
		if sm == "recursive" {
			args = append(args, "--recursive")
		}
		if ok, err := git(args...); err != nil || !ok {
			return failedGit("submodule update", err)
		}
	}
	return Result{Status: Succeeded}, nil
}

func failedGit(what string, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	return Result{Status: Failed, Message: "git " + what + " failed"}, nil
}
