package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runPublishPipelineArtifact is PublishPipelineArtifact@1 (and `publish:`):
// inputs targetPath (alias path), artifact (alias artifactName). The file or
// directory is copied to <data>/artifacts/<run>/<artifact>.
func runPublishPipelineArtifact(_ context.Context, env *Env) (Result, error) {
	src := env.Input("targetPath", env.Input("path", env.Dirs.Sources))
	if !filepath.IsAbs(src) {
		src = filepath.Join(env.Dirs.Sources, src)
	}
	name := env.Input("artifact", env.Input("artifactName", "drop"))
	if strings.ContainsAny(name, `/\:*?"<>|`) || name == "." || name == ".." {
		return Result{Status: Failed, Message: fmt.Sprintf("artifact name %q is not valid: use letters, digits, '-', '_' and '.'", name)}, nil
	}
	if _, err := os.Stat(src); err != nil {
		return Result{Status: Failed, Message: fmt.Sprintf("path to publish %s not found", src)}, nil
	}
	dst := filepath.Join(env.Dirs.Artifacts, name)
	if err := os.MkdirAll(env.Dirs.Artifacts, 0o755); err != nil {
		return Result{}, fmt.Errorf("publish artifact %s: %w", name, err)
	}
	// Mkdir is the claim on the name: artifacts of a run are immutable.
	if err := os.Mkdir(dst, 0o755); err != nil {
		if os.IsExist(err) {
			return Result{Status: Failed, Message: fmt.Sprintf("artifact %s already exists in this run: give each published artifact its own name", name)}, nil
		}
		return Result{}, fmt.Errorf("publish artifact %s: %w", name, err)
	}
	st, _ := os.Stat(src)
	target := dst
	if !st.IsDir() {
		target = filepath.Join(dst, filepath.Base(src))
	}
	n, err := copyTree(src, target)
	if err != nil {
		return Result{}, fmt.Errorf("publish artifact %s: %w", name, err)
	}
	env.Logf("Uploaded %d file(s) from %s to artifact %s", n, src, name)
	return Result{Status: Succeeded}, nil
}
