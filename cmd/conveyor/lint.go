package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
)

// validateTask checks task references during lint and plan; nil accepts
// every well-formed Name@Major. The task registry (internal/task) sets it
// when it lands.
var validateTask pipeline.TaskValidator

const defaultPipelineFile = "azure-pipelines.yml"

func newLintCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Validate a pipeline; every problem as file:line:col: message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, rel, err := locatePipeline(file)
			if err != nil {
				return &exitError{code: exitBadUser, err: err}
			}
			problems, warnings := pipeline.Lint(os.DirFS(root), rel, pipeline.Options{ValidateTask: validateTask})
			out := cmd.OutOrStdout()
			// Warnings go to stderr: stdout holds the problems or "ok".
			for _, w := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d:%d: warning: %s\n", displayPath(root, w.Pos.File), w.Pos.Line, w.Pos.Col, w.Msg)
			}
			if len(problems) > 0 {
				for _, p := range problems {
					fmt.Fprintln(out, displayError(root, p))
				}
				return &exitError{code: exitFailed}
			}
			fmt.Fprintln(out, "ok")
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "pipeline file (default azure-pipelines.yml in the current directory or the git root)")
	return cmd
}

func newPlanCmd() *cobra.Command {
	var (
		file, event, branch, target, output string
		params, vars                        []string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the compiled plan of a pipeline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch event {
			case "", pipeline.EventPush, pipeline.EventPR, pipeline.EventManual, pipeline.EventSchedule, pipeline.EventPipeline:
			default:
				return usageError("--event %q: want push, pr, manual, schedule or pipeline", event)
			}
			if output != "text" && output != "json" {
				return usageError("--output %q: want text or json", output)
			}
			pm, err := keyValues("--param", params)
			if err != nil {
				return err
			}
			vm, err := keyValues("--var", vars)
			if err != nil {
				return err
			}
			root, rel, err := locatePipeline(file)
			if err != nil {
				return &exitError{code: exitBadUser, err: err}
			}
			opts := pipeline.Options{
				Input:        pipeline.Input{Event: event, Branch: branch, TargetBranch: target, Params: pm, Vars: vm},
				ValidateTask: validateTask,
			}
			p, err := pipeline.Compile(os.DirFS(root), rel, opts)
			if err != nil {
				var list pipeline.ErrorList
				if errors.As(err, &list) {
					for _, e := range list {
						fmt.Fprintln(cmd.ErrOrStderr(), displayError(root, e))
					}
					return &exitError{code: exitFailed}
				}
				return err
			}
			return writePlan(cmd.OutOrStdout(), output, p)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "pipeline file (default azure-pipelines.yml in the current directory or the git root)")
	f.StringVar(&event, "event", "push", "event that starts the run: push, pr, manual, schedule or pipeline")
	f.StringVar(&branch, "branch", "", "source branch (refs/heads/x or x; default main)")
	f.StringVar(&target, "target-branch", "", "target branch of a pull request (default main)")
	f.StringArrayVar(&params, "param", nil, "runtime parameter value K=V (repeatable)")
	f.StringArrayVar(&vars, "var", nil, "variable value K=V (repeatable)")
	f.StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func writePlan(w io.Writer, format string, p *plan.Plan) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return pipeline.WriteText(w, p)
}

// keyValues parses repeated K=V flags.
func keyValues(flag string, list []string) (map[string]string, error) {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageError("%s %q: want KEY=VALUE", flag, kv)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// locatePipeline finds the pipeline file and the repository root it lives
// in (the git root, or its directory outside git). It returns the root
// and the file's slash-separated path relative to it.
func locatePipeline(file string) (root, rel string, err error) {
	if file == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", fmt.Errorf("find pipeline: %w", err)
		}
		file = filepath.Join(wd, defaultPipelineFile)
		if _, err := os.Stat(file); err != nil {
			g := gitRoot(wd)
			if g == "" {
				return "", "", fmt.Errorf("no %s in %s: pass the pipeline file with -f", defaultPipelineFile, wd)
			}
			file = filepath.Join(g, defaultPipelineFile)
			if _, err := os.Stat(file); err != nil {
				return "", "", fmt.Errorf("no %s in %s or the git root %s: pass the pipeline file with -f", defaultPipelineFile, wd, g)
			}
		}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", "", fmt.Errorf("pipeline file %s: %w", file, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", "", fmt.Errorf("pipeline file %s: %w", file, err)
	}
	if st.IsDir() {
		return "", "", fmt.Errorf("pipeline file %s is a directory", file)
	}
	root = gitRoot(filepath.Dir(abs))
	if root == "" {
		root = filepath.Dir(abs)
	}
	r, err := filepath.Rel(root, abs)
	if err != nil {
		return "", "", fmt.Errorf("pipeline file %s: %w", file, err)
	}
	return root, filepath.ToSlash(r), nil
}

// gitRoot returns the nearest directory at or above dir holding .git, or "".
func gitRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// displayPath shows a file of the repository rooted at root relative to the
// current directory, so that file:line:col is clickable where the user is.
func displayPath(root, file string) string {
	if file == "" || strings.Contains(file, "@") {
		return file
	}
	wd, err := os.Getwd()
	if err != nil {
		return file
	}
	r, err := filepath.Rel(wd, filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return file
	}
	return r
}

func displayError(root string, e *pipeline.Error) string {
	c := *e
	c.File = displayPath(root, e.File)
	return c.Error()
}
