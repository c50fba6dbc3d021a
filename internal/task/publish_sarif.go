package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/supplychain"
)

// runPublishSarif is PublishSarif@1: any tool's SARIF 2.1.0 results shown
// as a findings summary in the run, failing on a level.
//
// Inputs:
//   - sarifFiles: patterns of the files, one per line, relative to
//     searchFolder (default **/*.sarif).
//   - searchFolder: default $(Build.SourcesDirectory).
//   - failOnLevel: error, warning, note or none: the task fails when a
//     result is at or above it (default error). A result without a level
//     takes its rule's default level, else warning (as SARIF says).
//   - maxFindings: rows of the findings table in the log (default 50, 0 for
//     all).
//   - publish: copy the files into the run's artifacts under
//     CodeAnalysisLogs (default true).
//
// It sets the output variable failing (the count at or above failOnLevel).
func runPublishSarif(_ context.Context, env *Env) (Result, error) {
	folder := env.Input("searchFolder", env.Dirs.Sources)
	patterns := env.Input("sarifFiles", "**/*.sarif")
	failLevel := strings.ToLower(env.Input("failOnLevel", "error"))
	if _, ok := supplychain.SARIFLevels[failLevel]; !ok {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishSarif@1: input failOnLevel %q: use error, warning, note or none", failLevel)}, nil
	}
	maxRows, err := strconv.Atoi(env.Input("maxFindings", "50"))
	if err != nil || maxRows < 0 {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishSarif@1: input maxFindings %q: use a number, 0 for all", env.Input("maxFindings", ""))}, nil
	}
	publish, err := env.BoolInput("publish", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	files, err := matchFiles(folder, patterns)
	if err != nil && !os.IsNotExist(err) {
		return Result{}, fmt.Errorf("publish sarif: %w", err)
	}
	if len(files) == 0 {
		return Result{Status: Failed, Message: fmt.Sprintf("PublishSarif@1: no file matches %q in %s", patterns, folder)}, nil
	}
	failing, total := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(folder, filepath.FromSlash(f)))
		if err != nil {
			return Result{}, fmt.Errorf("publish sarif: %w", err)
		}
		s, err := supplychain.ReadSARIF(data)
		if err != nil {
			return Result{Status: Failed, Message: fmt.Sprintf("PublishSarif@1: %s: %v", f, err)}, nil
		}
		counts, n := s.Summarize(failLevel)
		failing += n
		var parts []string
		for i, c := range counts {
			total += c.Count
			part := fmt.Sprintf("%d %s", c.Count, c.Level)
			if i == 0 || counts[i-1].Tool != c.Tool {
				part = c.Tool + ": " + part
			}
			parts = append(parts, part)
		}
		if len(parts) == 0 {
			parts = []string{"no results"}
		}
		line := f + ": " + strings.Join(parts, ", ")
		env.Logf("%s", line)
		if env.AddSummary != nil {
			env.AddSummary(line)
		}
		if env.Log != nil && len(counts) > 0 {
			s.WriteFindings(env.Log, maxRows)
		}
		if publish {
			dst := filepath.Join(artifactsDir(env), "CodeAnalysisLogs", filepath.Base(filepath.FromSlash(f)))
			if err := writeFile(dst, data); err != nil {
				return Result{}, fmt.Errorf("publish sarif: %w", err)
			}
		}
	}
	if env.SetVariable != nil {
		_ = env.SetVariable("failing", strconv.Itoa(failing), VarOptions{Output: true})
	}
	if failing > 0 {
		return Result{Status: Failed, Message: fmt.Sprintf("%d of %d SARIF result(s) at or above %s", failing, total, failLevel)}, nil
	}
	return Result{Status: Succeeded}, nil
}
