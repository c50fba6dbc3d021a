package task

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// runPublishPipelineArtifact is PublishPipelineArtifact@1 (and `publish:`):
// inputs targetPath (alias path; default $(Pipeline.Workspace)), artifact
// (alias artifactName; default the job's identifier, System.JobIdentifier,
// a name unique to the job as Azure's is), publishLocation (alias
// artifactType: pipeline or filepath, with fileSharePath). The file or directory is copied to
// <data>/artifacts/<run>/<artifact>, or to <fileSharePath>/<artifact>; files
// matched by a .artifactignore at the root of a published directory are left
// out.
func runPublishPipelineArtifact(_ context.Context, env *Env) (Result, error) {
	src := env.Input("targetPath", env.Input("path", env.Dirs.Pipeline))
	if !filepath.IsAbs(src) {
		src = filepath.Join(env.Dirs.Sources, src)
	}
	name := env.Input("artifact", env.Input("artifactName", ""))
	if name == "" {
		// Azure: "if not set, the default is a unique ID scoped to the job".
		name = "drop"
		if id := lookupVar(env, "System.JobIdentifier"); id != "" {
			name = strings.Map(func(r rune) rune {
				if strings.ContainsRune(`/\:*?"<>|`, r) {
					return '_'
				}
				return r
			}, id)
		}
		env.Logf("No artifact name given: publishing as %s", name)
	}
	if strings.ContainsAny(name, `/\:*?"<>|`) || name == "." || name == ".." {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishPipelineArtifact@1: input artifact: name %q is not valid: use letters, digits, '-', '_' and '.'", name)}, nil
	}
	if _, err := os.Stat(src); err != nil {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishPipelineArtifact@1: input targetPath: %s not found", src)}, nil
	}
	store := env.Dirs.Artifacts
	switch loc := strings.ToLower(env.Input("publishLocation", env.Input("artifactType", "pipeline"))); loc {
	case "pipeline":
	case "filepath":
		store = env.Input("fileSharePath", "")
		if store == "" {
			return Result{Status: Failed, Message: "PublishPipelineArtifact@1: input fileSharePath is required when publishLocation is filepath"}, nil
		}
		if !filepath.IsAbs(store) {
			store = filepath.Join(env.Dirs.Sources, store)
		}
	default:
		return Result{Status: Failed, Message: fmt.Sprintf("PublishPipelineArtifact@1: input publishLocation: %q is not allowed: use pipeline or filepath", loc)}, nil
	}
	dst := filepath.Join(store, name)
	if rel, err := filepath.Rel(src, dst); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishPipelineArtifact@1: input fileSharePath: %s is inside targetPath %s: publish to a folder outside it", store, src)}, nil
	}
	if err := os.MkdirAll(store, 0o755); err != nil {
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
	var n int
	var err error
	if st.IsDir() {
		n, err = copyPublished(src, target)
	} else {
		n, err = copyTree(src, target)
	}
	if err != nil {
		return Result{}, fmt.Errorf("publish artifact %s: %w", name, err)
	}
	env.Logf("Uploaded %d file(s) from %s to artifact %s", n, src, name)
	return Result{Status: Succeeded}, nil
}

// copyPublished copies the directory src to dst, leaving out what
// src/.artifactignore names. The file follows .gitignore syntax: a pattern
// without a slash matches at any depth, a trailing / matches directories
// only, ! re-includes, and the last matching line decides. Without the
// file, .gitignore files are left out, as in Azure.
func copyPublished(src, dst string) (int, error) {
	data, err := os.ReadFile(filepath.Join(src, ".artifactignore"))
	if os.IsNotExist(err) {
		// Without a .artifactignore, .gitignore files are left out (an
		// empty .artifactignore publishes them).
		data, err = []byte(".gitignore\n"), nil
	}
	if err != nil {
		return 0, err
	}
	var pats []filePattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		dirOnly := strings.HasSuffix(line, "/")
		line = strings.Trim(line, "/")
		if !strings.Contains(line, "/") {
			line = "**/" + line
		}
		segs := strings.Split(line, "/")
		pats = append(pats, filePattern{segs: append(segs, "**"), exclude: neg})
		if !dirOnly {
			pats = append(pats, filePattern{segs: segs, exclude: neg})
		}
	}
	ignored := func(rel string) bool {
		name := strings.Split(rel, "/")
		out := false
		for _, p := range pats {
			if matchSegs(p.segs, name) {
				out = !p.exclude
			}
		}
		return out
	}
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || rel == ".artifactignore" || ignored(filepath.ToSlash(rel)) {
			return nil
		}
		n++
		return copyFile(p, filepath.Join(dst, rel))
	})
	return n, err
}
