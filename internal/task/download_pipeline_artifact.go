package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runDownloadPipelineArtifact is DownloadPipelineArtifact@2 (and `download:`):
// inputs buildType (alias source: current, or specific with pipeline naming
// a resources.pipelines alias — its run is resources.pipeline.<alias>.runID —
// or pipelineId (aliases runId, buildId) naming a run of this runner), artifact
// (alias artifactName; empty: all), targetPath (aliases path, downloadPath;
// default $(Pipeline.Workspace)), itemPattern (alias patterns; default **).
// A named artifact lands in targetPath (the download shorthand's
// $(Pipeline.Workspace) meaning $(Pipeline.Workspace)/<name>); with no name
// each artifact lands in targetPath/<name>. It sets the output BuildNumber.
func runDownloadPipelineArtifact(_ context.Context, env *Env) (Result, error) {
	artifacts := env.Dirs.Artifacts
	where := "this run"
	buildNumber := lookupVar(env, "Build.BuildNumber")
	switch bt := env.Input("buildType", env.Input("source", "current")); strings.ToLower(strings.TrimSpace(bt)) {
	case "current":
	case "specific":
		run, number, err := specificRun(env)
		if err != nil {
			return Result{Status: Failed, Message: "DownloadPipelineArtifact@2: " + err.Error()}, nil
		}
		buildNumber = number
		artifacts = filepath.Join(filepath.Dir(env.Dirs.Artifacts), run)
		where = "run " + run
	default:
		return Result{Status: Failed, Message: fmt.Sprintf("DownloadPipelineArtifact@2: input buildType: %q is not allowed: use current or specific", bt)}, nil
	}
	name := env.Input("artifact", env.Input("artifactName", ""))
	target := env.Input("targetPath", env.Input("path", env.Input("downloadPath", "")))
	patterns := env.Input("itemPattern", env.Input("patterns", "**"))
	var names []string
	if name != "" {
		names = []string{name}
		// The task without a targetPath puts a named artifact's files in
		// $(Pipeline.Workspace) itself, as Azure's does; the download
		// shorthand, which names $(Pipeline.Workspace), puts them in
		// $(Pipeline.Workspace)/<name>.
		if target == "" {
			target = env.Dirs.Pipeline
		} else if filepath.Clean(target) == filepath.Clean(env.Dirs.Pipeline) {
			target = filepath.Join(env.Dirs.Pipeline, name)
		} else if alias := env.Input("pipeline", ""); alias != "" && filepath.Clean(target) == filepath.Join(env.Dirs.Pipeline, alias) {
			// `download: <alias>` puts artifacts of a pipeline resource in
			// $(Pipeline.Workspace)/<alias>/<artifact>.
			target = filepath.Join(target, name)
		}
	} else {
		if target == "" {
			target = env.Dirs.Pipeline
		}
		entries, err := os.ReadDir(artifacts)
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
		src := filepath.Join(artifacts, n)
		if _, err := os.Stat(src); err != nil {
			if where != "this run" {
				return Result{Status: Failed, Message: fmt.Sprintf("artifact %s not found in %s: check that run published it", n, where)}, nil
			}
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
		env.Logf("##[warning]No artifacts found in %s", where)
	}
	// The documented output: the build number of the run downloaded from.
	if env.SetVariable != nil && buildNumber != "" {
		if err := env.SetVariable("BuildNumber", buildNumber, VarOptions{Output: true}); err != nil {
			return Result{}, fmt.Errorf("download artifacts: set BuildNumber: %w", err)
		}
	}
	return Result{Status: Succeeded}, nil
}

// lookupVar returns the variable named name, case-insensitively.
func lookupVar(env *Env, name string) string {
	if v, ok := env.Variables[name]; ok {
		return v
	}
	for k, v := range env.Variables {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// specificRun returns the run whose artifacts a specific download reads and
// its build number: the pipelineId (runId, buildId) input, else the run of
// the pipeline resource named by the pipeline input
// (resources.pipeline.<alias>.runID, numbered runName).
func specificRun(env *Env) (run, number string, err error) {
	run = env.Input("pipelineId", env.Input("runId", env.Input("buildId", "")))
	number = run
	if run == "" {
		alias := env.Input("pipeline", env.Input("definition", ""))
		if alias == "" {
			return "", "", fmt.Errorf("buildType specific: name the pipeline resource (pipeline: <alias>) or the run (runId)")
		}
		run = lookupVar(env, "resources.pipeline."+alias+".runID")
		number = lookupVar(env, "resources.pipeline."+alias+".runName")
		if number == "" {
			number = run
		}
		if run == "" {
			return "", "", fmt.Errorf("download %s: this run was not triggered by pipeline resource %s and no runId was given, so there is no run to download from (run the pipeline through its resource trigger, or set runId)", alias, alias)
		}
	}
	if run != filepath.Base(run) || run == "." || run == ".." {
		return "", "", fmt.Errorf("pipelineId %q is not a run id", run)
	}
	return run, number, nil
}
