package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// runCopyFiles is CopyFiles@2: inputs SourceFolder (default
// $(Build.SourcesDirectory)), Contents (patterns, default **), TargetFolder
// (required), CleanTargetFolder, OverWrite, flattenFolders.
func runCopyFiles(_ context.Context, env *Env) (Result, error) {
	src := env.Input("SourceFolder", env.Dirs.Sources)
	if !filepath.IsAbs(src) {
		src = filepath.Join(env.Dirs.Sources, src)
	}
	dst := env.Input("TargetFolder", "")
	if dst == "" {
		return Result{Status: Failed, Message: "input TargetFolder is required"}, nil
	}
	if !filepath.IsAbs(dst) {
		dst = filepath.Join(env.Dirs.Sources, dst)
	}
	clean, err := env.BoolInput("CleanTargetFolder", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	overwrite, err := env.BoolInput("OverWrite", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	flatten, err := env.BoolInput("flattenFolders", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	if _, err := os.Stat(src); err != nil {
		return Result{Status: Failed, Message: fmt.Sprintf("source folder %s not found", src)}, nil
	}
	if clean {
		if err := os.RemoveAll(dst); err != nil {
			return Result{}, fmt.Errorf("copy files: clean %s: %w", dst, err)
		}
	}
	files, err := matchFiles(src, env.Input("Contents", "**"))
	if err != nil {
		return Result{}, fmt.Errorf("copy files: %w", err)
	}
	copied := 0
	for _, f := range files {
		to := filepath.Join(dst, filepath.FromSlash(f))
		if flatten {
			to = filepath.Join(dst, filepath.Base(f))
		}
		if !overwrite {
			if _, err := os.Stat(to); err == nil {
				env.Logf("skipping %s: it exists and OverWrite is false", to)
				continue
			}
		}
		if err := copyFile(filepath.Join(src, filepath.FromSlash(f)), to); err != nil {
			return Result{}, fmt.Errorf("copy files: %w", err)
		}
		copied++
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return Result{}, fmt.Errorf("copy files: %w", err)
	}
	env.Logf("Copied %d file(s) from %s to %s", copied, src, dst)
	return Result{Status: Succeeded}, nil
}
