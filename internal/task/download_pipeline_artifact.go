package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// runDownloadPipelineArtifact is DownloadPipelineArtifact@2 (and `download:`)
// for artifacts of the current run: inputs buildType (current), artifact
// (alias artifactName; empty: all), targetPath (alias path; default
// $(Pipeline.Workspace)), itemPattern (alias patterns; default **). A named
// artifact lands in targetPath, or in $(Pipeline.Workspace)/<name> when no
// targetPath is given; with no name each artifact lands in targetPath/<name>.
func runDownloadPipelineArtifact(_ context.Context, env *Env) (Result, error) {
	if bt := env.Input("buildType", env.Input("source", "current")); bt != "current" {
		return Result{Status: Failed, Message: fmt.Sprintf("buildType %s is not supported: only artifacts of the current run can be downloaded", bt)}, nil
	}
	name := env.Input("artifact", env.Input("artifactName", ""))
	target := env.Input("targetPath", env.Input("path", env.Input("downloadPath", "")))
	patterns := env.Input("itemPattern", env.Input("patterns", "**"))
	var names []string
	if name != "" {
		names = []string{name}
		// The download shorthand puts a named artifact in
		// $(Pipeline.Workspace)/<name>.
		if target == "" || filepath.Clean(target) == filepath.Clean(env.Dirs.Pipeline) {
			target = filepath.Join(env.Dirs.Pipeline, name)
		}
	} else {
		if target == "" {
			target = env.Dirs.Pipeline
		}
		entries, err := os.ReadDir(env.Dirs.Artifacts)
		if err != nil && !os.IsNotExist(err) {
			return Result{}, fmt.Errorf("download artifacts: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(env.Dirs.Sources, target)
	}
	total := 0
	for _, n := range names {
		src := filepath.Join(env.Dirs.Artifacts, n)
		if _, err := os.Stat(src); err != nil {
			return Result{Status: Failed, Message: fmt.Sprintf("artifact %s not found in this run: publish it in an earlier job this job depends on", n)}, nil
		}
		dst := target
		if name == "" {
			dst = filepath.Join(target, n)
		}
		files, err := matchFiles(src, patterns)
		if err != nil {
			return Result{}, fmt.Errorf("download artifact %s: %w", n, err)
		}
		for _, f := range files {
			if err := copyFile(filepath.Join(src, filepath.FromSlash(f)), filepath.Join(dst, filepath.FromSlash(f))); err != nil {
				return Result{}, fmt.Errorf("download artifact %s: %w", n, err)
			}
		}
		total += len(files)
		env.Logf("Downloaded %d file(s) of artifact %s to %s", len(files), n, dst)
	}
	if total == 0 && name == "" {
		env.Logf("##[warning]No artifacts found in this run")
	}
	return Result{Status: Succeeded}, nil
}
