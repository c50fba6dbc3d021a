package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/secret"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/services"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

func init() {
	// Lint and plan reject tasks that are not built in, naming them.
	validateTask = func(name string) error {
		if task.Known(name) {
			return nil
		}
		return fmt.Errorf("unknown task: %s is not a built-in task (built in: %s)", name, strings.Join(task.Names(), ", "))
	}
}

// runOptions are the flags of `conveyor run`.
type runOptions struct {
	file, event, branch, target, output, data string
	config                                    string
	vars, params                              []string
	maxParallel                               int
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a pipeline of the current git repository locally",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "pipeline file (default azure-pipelines.yml in the current directory or the git root)")
	f.StringVar(&o.event, "event", "push", "event that starts the run: push or pr")
	f.StringVar(&o.branch, "branch", "", "source branch (default: the checked-out branch)")
	f.StringVar(&o.target, "target-branch", "", "target branch of a pull request (default main)")
	f.StringArrayVar(&o.vars, "var", nil, "variable value K=V (repeatable)")
	f.StringArrayVar(&o.params, "param", nil, "runtime parameter value K=V (repeatable)")
	f.StringVar(&o.output, "output", "text", "output format: text or json")
	f.StringVar(&o.data, "data", "", "data folder (default .conveyor in the repository root)")
	f.StringVar(&o.config, "config", "", "configuration file (default conveyor.yaml in the repository root, else the embedded defaults)")
	f.IntVar(&o.maxParallel, "max-parallel", 0, "how many jobs run at once (default: the number of CPUs)")
	return cmd
}

// gitOutput runs git in dir and returns its trimmed output.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// runPipeline is `conveyor run`: compile, run with the SQLite store and
// the local executor, show progress, and turn the result into an exit code.
func runPipeline(ctx context.Context, stdout, stderr io.Writer, o runOptions) error {
	switch o.event {
	case pipeline.EventPush, pipeline.EventPR, pipeline.EventManual:
	default:
		return usageError("--event %q: want push or pr", o.event)
	}
	if o.output != "text" && o.output != "json" {
		return usageError("--output %q: want text or json", o.output)
	}
	vars, err := keyValues("--var", o.vars)
	if err != nil {
		return err
	}
	params, err := keyValues("--param", o.params)
	if err != nil {
		return err
	}
	root, rel, err := locatePipeline(o.file)
	if err != nil {
		return &exitError{code: exitBadUser, err: err}
	}
	commit, err := gitOutput(root, "rev-parse", "HEAD")
	if err != nil {
		return &exitError{code: exitBadUser, err: fmt.Errorf("%s is not a git repository with a commit: conveyor run builds the checked-out commit: %w", root, err)}
	}
	if dirty, err := gitOutput(root, "status", "--porcelain", "--untracked-files=no"); err == nil && dirty != "" {
		fmt.Fprintf(stderr, "conveyor: note: the run builds commit %.12s; uncommitted changes are not included (commit them to run them)\n", commit)
	}
	branch := o.branch
	if branch == "" {
		if b, err := gitOutput(root, "symbolic-ref", "--short", "-q", "HEAD"); err == nil && b != "" {
			branch = b
		} else {
			branch = "main"
		}
	}
	target := o.target
	if o.event == pipeline.EventPR && target == "" {
		target = "main"
	}
	repoName := filepath.Base(root)
	message, _ := gitOutput(root, "log", "-1", "--format=%B", commit)
	requester, _ := gitOutput(root, "config", "user.name")
	email, _ := gitOutput(root, "config", "user.email")
	// Template expressions see the predefined variables that are known
	// before the run starts, with the values the run gives them.
	p, err := pipeline.Compile(os.DirFS(root), rel, pipeline.Options{
		Input: pipeline.Input{
			Event: o.event, Branch: branch, TargetBranch: target, Params: params, Vars: vars,
			Predefined: map[string]string{
				"Build.Repository.Name":     repoName,
				"Build.Repository.Uri":      root,
				"Build.Repository.Provider": "Git",
				"Build.SourceVersion":       commit,
				"Build.DefinitionName":      repoName,
				"System.DefinitionName":     repoName,
				"System.TeamProject":        repoName,
				"Build.RequestedFor":        requester,
				"Build.RequestedForEmail":   email,
			},
		},
		ValidateTask: validateTask,
	})
	if err != nil {
		var list pipeline.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stderr, e.Error())
			}
			return &exitError{code: exitBadUser}
		}
		return &exitError{code: exitBadUser, err: err}
	}

	data := o.data
	if data == "" {
		data = filepath.Join(root, ".conveyor")
		// Keep the data folder out of the repository's git status.
		if err := os.MkdirAll(data, 0o755); err == nil {
			ignore := filepath.Join(data, ".gitignore")
			if _, err := os.Stat(ignore); err != nil {
				_ = os.WriteFile(ignore, []byte("*\n"), 0o644)
			}
		}
	}
	cfg, err := loadConfig(root, o.config)
	if err != nil {
		return err
	}
	ev := store.EventPush
	switch o.event {
	case pipeline.EventPR:
		ev = store.EventPR
	case pipeline.EventManual:
		ev = store.EventManual
	}
	vaultDir := o.data
	if vaultDir == "" {
		if vaultDir, err = defaultUserData(); err != nil {
			vaultDir = data
		}
	}
	rt, err := services.Start(ctx, cfg, services.Options{DataDir: data, VaultDir: vaultDir, OpenVault: vault.Opener(vaultDir)})
	if err != nil {
		return err
	}
	defer rt.Close()
	return executePlan(ctx, stdout, stderr, o, data, rt.Services, p, engine.Input{
		Pipeline: repoName, Repository: root, RepositoryName: repoName, Commit: commit, CommitMessage: message, Branch: branch,
		Event: ev, TargetBranch: target, Variables: vars, Params: params,
		RequestedFor: requester, RequestedForEmail: email,
	})
}

// executePlan runs a compiled plan with the SQLite store and the local
// executor of the data folder, shows progress, and turns the result into an
// exit code.
func executePlan(ctx context.Context, stdout, stderr io.Writer, o runOptions, data string, svc *task.Services, p *plan.Plan, in engine.Input) error {
	st, err := store.Open(ctx, filepath.Join(data, "conveyor.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if svc != nil {
		svc.Revisions = st
	}
	ex, err := local.New(data, local.WithServices(svc))
	if err != nil {
		return err
	}
	viewOut := stdout
	if o.output == "json" {
		viewOut = stderr
	}
	var view progressView = newLiveView(viewOut, false)
	if isTerminal(viewOut) {
		view = newTTYView(viewOut)
	}
	observer, stopTracing, err := withTracer(ctx, svc, view)
	if err != nil {
		return err
	}
	defer stopTracing()
	opts := []engine.Option{
		engine.WithObserver(observer),
		engine.WithCounters(engine.NewFileCounters(filepath.Join(data, "counters.json"))),
		engine.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}
	if o.maxParallel > 0 {
		opts = append(opts, engine.WithMaxParallel(o.maxParallel))
	}
	if svc != nil && svc.Config != nil {
		// Environment checks hold a local run too: `conveyor approve` in
		// another terminal decides (seen within the poll interval).
		approvals, err := approval.NewService(st, approval.WithUsers(approval.UsersOf(svc.Config)), approval.WithPoll(time.Second))
		if err != nil {
			return err
		}
		opts = append(opts, engine.WithApprovals(approvals), engine.WithEnvironments(approval.EnvironmentsOf(svc.Config)))
		opts = append(opts, engine.WithVariableGroups(secret.NewGroups(svc.Config, svc.Secrets)))
	}
	eng, err := engine.New(st, ex, opts...)
	if err != nil {
		return err
	}
	out, err := eng.Run(ctx, p, in)
	if err != nil {
		return err
	}
	recs, err := st.ListRecords(context.WithoutCancel(ctx), out.RunID)
	if err != nil {
		return err
	}
	if o.output == "json" {
		if err := writeRunJSON(stdout, out, recs); err != nil {
			return err
		}
	} else {
		view.finish(out)
	}
	switch out.Result {
	case store.ResultSucceeded, store.ResultSucceededWithIssues:
		return nil
	}
	return &exitError{code: exitFailed}
}

// runSummary is the JSON printed by `conveyor run --output json`.
type runSummary struct {
	RunID     string          `json:"runId"`
	Number    int64           `json:"number"`
	Result    store.Result    `json:"result"`
	Summaries []string        `json:"summaries,omitempty"`
	Stages    []recordSummary `json:"stages"`
}

type recordSummary struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	DisplayName string            `json:"displayName,omitempty"`
	Type        store.RecordType  `json:"type"`
	State       store.State       `json:"state"`
	Result      store.Result      `json:"result"`
	Attempt     int               `json:"attempt"`
	DurationMS  int64             `json:"durationMs"`
	Duration    string            `json:"duration"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	Errors      int               `json:"errors,omitempty"`
	Warnings    int               `json:"warnings,omitempty"`
	Issues      []store.Issue     `json:"issues,omitempty"`
	Jobs        []recordSummary   `json:"jobs,omitempty"`
	Steps       []recordSummary   `json:"steps,omitempty"`
}

// recordTree builds the stage → job → step tree of a run's records (the
// latest attempt of each; hook phases fold their steps into the job).
func recordTree(recs []store.Record) []recordSummary {
	latest := map[string]store.Record{}
	var order []string
	for _, r := range recs {
		if old, ok := latest[r.ID]; !ok {
			order = append(order, r.ID)
		} else if r.Attempt < old.Attempt {
			continue
		}
		latest[r.ID] = r
	}
	sum := func(r store.Record) recordSummary {
		d := time.Duration(0)
		if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
			d = r.FinishedAt.Sub(r.StartedAt)
		}
		out := recordSummary{ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, Type: r.Type, State: r.State, Result: r.Result,
			Attempt: r.Attempt, DurationMS: d.Milliseconds(), Duration: d.Round(time.Millisecond).String(),
			Errors: r.ErrorCount, Warnings: r.WarningCount, Issues: r.Issues}
		if len(r.Outputs) > 0 {
			out.Outputs = r.Outputs
		}
		return out
	}
	var stages []recordSummary
	jobOf := map[string][2]int{}
	phaseJob := map[string]string{}
	for _, id := range order {
		r := latest[id]
		switch r.Type {
		case store.RecordStage:
			stages = append(stages, sum(r))
		case store.RecordJob:
			for i := range stages {
				if stages[i].ID == r.ParentID {
					stages[i].Jobs = append(stages[i].Jobs, sum(r))
					jobOf[r.ID] = [2]int{i, len(stages[i].Jobs) - 1}
				}
			}
		case store.RecordPhase:
			phaseJob[r.ID] = r.ParentID
		case store.RecordStep:
			parent := r.ParentID
			if j, ok := phaseJob[parent]; ok {
				parent = j
			}
			if at, ok := jobOf[parent]; ok {
				stages[at[0]].Jobs[at[1]].Steps = append(stages[at[0]].Jobs[at[1]].Steps, sum(r))
			}
		}
	}
	return stages
}

func writeRunJSON(w io.Writer, out *engine.Outcome, recs []store.Record) error {
	s := runSummary{RunID: out.RunID, Number: out.Number, Result: out.Result, Summaries: out.Summaries, Stages: recordTree(recs)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// liveView prints the progress of a run: a line per stage, job and step as
// it starts and ends (indented as a tree, with durations) and the output of
// running steps. On a terminal it uses colour and marks; otherwise plain
// lines.
type liveView struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func newLiveView(w io.Writer, tty bool) *liveView { return &liveView{w: w, tty: tty} }

var _ engine.Observer = (*liveView)(nil)

func (v *liveView) RunChanged(r store.Run) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.State == store.StateRunning {
		fmt.Fprintf(v.w, "run %s #%d of %s at %.12s (%s)\n", r.ID, r.Number, r.Pipeline, r.Commit, r.Branch)
	}
}

func depth(rec store.Record) int {
	switch rec.Type {
	case store.RecordStage:
		return 0
	case store.RecordJob:
		return 1
	case store.RecordPhase:
		return 2
	}
	return 2 + strings.Count(rec.ParentID, ".") - 1
}

func (v *liveView) label(rec store.Record) string {
	name := rec.DisplayName
	if name == "" {
		name = rec.Name
	}
	if rec.Type == store.RecordStage && rec.Name == "__default" {
		name = "(pipeline)"
	}
	return name
}

func (v *liveView) RecordChanged(rec store.Record) {
	v.mu.Lock()
	defer v.mu.Unlock()
	indent := strings.Repeat("  ", depth(rec))
	switch rec.State {
	case store.StateRunning:
		attempt := ""
		if rec.Attempt > 1 {
			attempt = fmt.Sprintf(" (attempt %d)", rec.Attempt)
		}
		if v.tty {
			fmt.Fprintf(v.w, "%s\x1b[36m▶\x1b[0m %s%s\n", indent, v.label(rec), attempt)
		} else {
			fmt.Fprintf(v.w, "%s%s %s: started%s\n", indent, rec.Type, v.label(rec), attempt)
		}
	case store.StateCompleted:
		d := rec.FinishedAt.Sub(rec.StartedAt).Round(time.Millisecond)
		if rec.StartedAt.IsZero() {
			d = 0
		}
		if v.tty {
			mark, colour := "✓", "32"
			switch rec.Result {
			case store.ResultFailed:
				mark, colour = "✗", "31"
			case store.ResultCanceled:
				mark, colour = "⊘", "33"
			case store.ResultSkipped:
				mark, colour = "–", "90"
			case store.ResultSucceededWithIssues:
				mark, colour = "!", "33"
			}
			fmt.Fprintf(v.w, "%s\x1b[%sm%s\x1b[0m %s \x1b[90m%s %s\x1b[0m\n", indent, colour, mark, v.label(rec), rec.Result, d)
		} else {
			fmt.Fprintf(v.w, "%s%s %s: %s (%s)\n", indent, rec.Type, v.label(rec), rec.Result, d)
		}
		for _, is := range rec.Issues {
			if rec.Type == store.RecordStep || rec.Type == store.RecordJob {
				fmt.Fprintf(v.w, "%s  %s: %s\n", indent, is.Type, is.Message)
			}
		}
	}
}

func (v *liveView) Line(rec store.Record, _ time.Time, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	indent := strings.Repeat("  ", depth(rec)+1)
	if f, ok := engine.ParseFormat(text); ok {
		switch f.Kind {
		case "group":
			text = "▼ " + f.Text
		case "endgroup":
			return
		case "section":
			text = "── " + f.Text
		case "warning":
			text = "warning: " + f.Text
			if v.tty {
				text = "\x1b[33m" + text + "\x1b[0m"
			}
		case "error":
			text = "error: " + f.Text
			if v.tty {
				text = "\x1b[31m" + text + "\x1b[0m"
			}
		case "command":
			text = "$ " + f.Text
			if v.tty {
				text = "\x1b[34m" + text + "\x1b[0m"
			}
		case "debug":
			return
		}
	}
	fmt.Fprintf(v.w, "%s│ %s\n", indent, text)
}

func (v *liveView) finish(out *engine.Outcome) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range out.Summaries {
		fmt.Fprintf(v.w, "summary: %s\n", strings.TrimSpace(s))
	}
	fmt.Fprintf(v.w, "run %s #%d: %s\n", out.RunID, out.Number, out.Result)
}

// dataDir returns the data folder of the runs commands: --data, else
// .conveyor in the git root of the current directory.
func dataDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := gitRoot(wd)
	if root == "" {
		root = wd
	}
	return filepath.Join(root, ".conveyor"), nil
}

// openLocalStore opens the store of the data folder, which must exist, and
// marks the runs of processes that died (SIGKILL, a crash) as interrupted, so
// every reader sees them as such. The caller must Close the store.
func openLocalStore(ctx context.Context, flag string) (*store.DB, error) {
	data, err := dataDir(flag)
	if err != nil {
		return nil, err
	}
	db := filepath.Join(data, "conveyor.db")
	if _, err := os.Stat(db); err != nil {
		return nil, &exitError{code: exitBadUser, err: fmt.Errorf("no runs in %s: run a pipeline with conveyor run first, or pass --data", data)}
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	if _, err := st.ReconcileOrphans(ctx, store.LocalOwnerAlive); err != nil {
		st.Close()
		return nil, fmt.Errorf("reconcile runs of dead processes in %s: %w", data, err)
	}
	return st, nil
}

// openRun opens the local store and finds run ref in it. The caller must
// Close the store.
func openRun(ctx context.Context, data, ref string) (*store.DB, store.Run, error) {
	st, err := openLocalStore(ctx, data)
	if err != nil {
		return nil, store.Run{}, err
	}
	r, err := findRun(ctx, st, ref)
	if err != nil {
		st.Close()
		return nil, store.Run{}, err
	}
	return st, r, nil
}

// openRunRecords opens the local store and reads run ref with its timeline
// records. The caller must Close the store.
func openRunRecords(ctx context.Context, data, ref string) (*store.DB, store.Run, []store.Record, error) {
	st, r, err := openRun(ctx, data, ref)
	if err != nil {
		return nil, store.Run{}, nil, err
	}
	recs, err := st.ListRecords(ctx, r.ID)
	if err != nil {
		st.Close()
		return nil, store.Run{}, nil, err
	}
	return st, r, recs, nil
}

// findRun resolves RUN: a run ID, or a run number (of the only pipeline, or
// the latest run with that number).
func findRun(ctx context.Context, st *store.DB, ref string) (store.Run, error) {
	if r, err := st.GetRun(ctx, ref); err == nil {
		return r, nil
	}
	runs, err := st.ListRuns(ctx, store.RunFilter{})
	if err != nil {
		return store.Run{}, err
	}
	refs := make([]runRef, len(runs))
	for i, r := range runs {
		refs[i] = runRef{ID: r.ID, Pipeline: r.Pipeline, Number: r.Number}
	}
	i, err := pickRun(ref, refs)
	if err != nil {
		return store.Run{}, err
	}
	return runs[i], nil
}

func newRunsCmd() *cobra.Command {
	var data, output string
	cmd := &cobra.Command{Use: "runs", Short: "Operate runs"}
	cmd.PersistentFlags().StringVar(&data, "data", "", "data folder (default .conveyor in the repository root)")
	cmd.PersistentFlags().StringVar(&output, "output", "text", "output format: text or json")
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openLocalStore(ctx, data)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(ctx, store.RunFilter{})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				type row struct {
					ID, Pipeline, Branch, Commit, Event string
					Number                              int64
					State                               store.State
					Result                              store.Result
					CreatedAt, FinishedAt               time.Time
					Tags                                []string
				}
				rows := []row{}
				for _, r := range runs {
					rows = append(rows, row{ID: r.ID, Pipeline: r.Pipeline, Branch: r.Branch, Commit: r.Commit, Event: string(r.Event),
						Number: r.Number, State: r.State, Result: r.Result, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt, Tags: r.Tags})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			fmt.Fprintf(w, "%-26s  %-5s  %-20s  %-10s  %-20s  %-20s  %s\n", "ID", "#", "PIPELINE", "STATE", "RESULT", "BRANCH", "CREATED")
			for _, r := range runs {
				fmt.Fprintf(w, "%-26s  %-5d  %-20s  %-10s  %-20s  %-20s  %s\n", r.ID, r.Number, r.Pipeline, r.State, orDash(string(r.Result)), r.Branch, r.CreatedAt.Local().Format(time.DateTime))
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, r, recs, err := openRunRecords(ctx, data, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			if output == "json" {
				return writeRunJSON(w, &engine.Outcome{RunID: r.ID, Number: r.Number, Result: r.Result}, recs)
			}
			fmt.Fprintf(w, "run %s #%d of %s: %s %s\n", r.ID, r.Number, r.Pipeline, r.State, orDash(string(r.Result)))
			fmt.Fprintf(w, "commit %s on %s (%s)\n", r.Commit, r.Branch, r.Event)
			if len(r.Tags) > 0 {
				fmt.Fprintf(w, "tags: %s\n", strings.Join(r.Tags, ", "))
			}
			for _, s := range recordTree(recs) {
				fmt.Fprintf(w, "%s: %s (%s)\n", s.Name, orDash(string(s.Result)), s.Duration)
				writeIssues(w, "  ", s.Issues)
				for _, j := range s.Jobs {
					fmt.Fprintf(w, "  %s: %s (%s)\n", j.Name, orDash(string(j.Result)), j.Duration)
					writeIssues(w, "    ", j.Issues)
					for _, step := range j.Steps {
						fmt.Fprintf(w, "    %s: %s (%s)\n", orDash(step.DisplayName), orDash(string(step.Result)), step.Duration)
						writeIssues(w, "      ", step.Issues)
					}
				}
			}
			return nil
		},
	}
	var record string
	logs := &cobra.Command{
		Use:   "logs RUN",
		Short: "Print a run's logs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, r, recs, err := openRunRecords(ctx, data, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			for _, rec := range recs {
				if rec.Type != store.RecordStep || (record != "" && rec.ID != record) {
					continue
				}
				lines, err := st.ReadLog(ctx, r.ID, rec.ID, rec.Attempt, 0)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "== %s (attempt %d): %s\n", rec.ID, rec.Attempt, orDash(string(rec.Result)))
				for _, l := range lines {
					fmt.Fprintf(w, "%s %s\n", l.Time.Local().Format("15:04:05.000"), l.Text)
				}
			}
			return nil
		},
	}
	logs.Flags().StringVar(&record, "record", "", "only the step with this record ID (e.g. Build.Job1.step2)")
	cancel := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run (a local run is sent SIGINT, as Ctrl-C does)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, r, err := openRun(cmd.Context(), data, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if r.State == store.StateCompleted {
				return &exitError{code: exitBadUser, err: fmt.Errorf("run %s already ended: %s", r.ID, r.Result)}
			}
			pid, host, _ := strings.Cut(r.Owner, "@")
			local, _ := os.Hostname()
			n, err := strconv.Atoi(pid)
			if host != local || err != nil {
				return &exitError{code: exitBadUser, err: fmt.Errorf("run %s is executed by %s, not by a process of this machine: cancel it on its server", r.ID, r.Owner)}
			}
			if err := syscall.Kill(n, syscall.SIGINT); err != nil {
				return fmt.Errorf("cancel run %s: signal process %d: %w", r.ID, n, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: cancel requested\n", r.ID)
			return nil
		},
	}
	retry := &cobra.Command{
		Use:   "retry RUN",
		Short: "Run a run's plan again, on the same commit, as a new run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := dataDir(data)
			if err != nil {
				return err
			}
			st, r, err := openRun(ctx, data, args[0])
			if err != nil {
				return err
			}
			st.Close()
			var p plan.Plan
			if err := json.Unmarshal(r.Plan, &p); err != nil {
				return fmt.Errorf("retry run %s: its plan: %w", r.ID, err)
			}
			cfg, err := loadConfig(r.Repository, "")
			if err != nil {
				return err
			}
			vaultDir := data
			if vaultDir == "" {
				if vaultDir, err = defaultUserData(); err != nil {
					vaultDir = d
				}
			}
			rt, err := services.Start(ctx, cfg, services.Options{DataDir: d, VaultDir: vaultDir, OpenVault: vault.Opener(vaultDir)})
			if err != nil {
				return err
			}
			defer rt.Close()
			return executePlan(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), runOptions{output: output}, d, rt.Services, &p, engine.Input{
				Pipeline: r.Pipeline, Repository: r.Repository, Commit: r.Commit, Branch: r.Branch,
				Event: r.Event, Variables: r.Variables, Params: r.Params,
			})
		},
	}
	cmd.AddCommand(list, show, logs, cancel, retry, newRunsStartCmd())
	addServerMode(cmd)
	return cmd
}

// writeIssues prints a record's errors and warnings under it, so that a
// failed record says why.
func writeIssues(w io.Writer, indent string, issues []store.Issue) {
	for _, is := range issues {
		fmt.Fprintf(w, "%s%s: %s\n", indent, is.Type, is.Message)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressView is how `conveyor run` shows progress.
type progressView interface {
	engine.Observer
	finish(out *engine.Outcome)
}

// ttyView redraws a tree of stages, jobs and steps with their durations and
// the last lines of the running steps' output, on a terminal.
type ttyView struct {
	mu      sync.Mutex
	w       io.Writer
	header  string
	recs    map[string]store.Record
	order   []string
	tails   map[string][]string
	drawn   int
	dirty   bool
	stop    chan struct{}
	stopped chan struct{}
}

const tailLines = 5

func newTTYView(w io.Writer) *ttyView {
	v := &ttyView{w: w, recs: map[string]store.Record{}, tails: map[string][]string{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(v.stopped)
		t := time.NewTicker(100 * time.Millisecond) // a redraw rate, not synchronisation
		defer t.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-t.C:
				v.mu.Lock()
				if v.dirty {
					v.render()
				}
				v.mu.Unlock()
			}
		}
	}()
	return v
}

func (v *ttyView) RunChanged(r store.Run) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.State == store.StateRunning {
		v.header = fmt.Sprintf("run %s #%d of %s at %.12s (%s)", r.ID, r.Number, r.Pipeline, r.Commit, r.Branch)
		v.dirty = true
	}
}

func (v *ttyView) RecordChanged(rec store.Record) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.recs[rec.ID]; !ok {
		v.order = append(v.order, rec.ID)
	}
	v.recs[rec.ID] = rec
	if rec.State == store.StateRunning && rec.Type == store.RecordStep {
		delete(v.tails, rec.ID)
	}
	v.dirty = true
}

func (v *ttyView) Line(rec store.Record, _ time.Time, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f, ok := engine.ParseFormat(text); ok {
		switch f.Kind {
		case "endgroup", "debug":
			return
		case "error":
			text = "\x1b[31merror: " + f.Text + "\x1b[0m"
		case "warning":
			text = "\x1b[33mwarning: " + f.Text + "\x1b[0m"
		case "command":
			text = "\x1b[34m$ " + f.Text + "\x1b[0m"
		default:
			text = f.Text
		}
	}
	t := append(v.tails[rec.ID], text)
	if len(t) > tailLines {
		t = t[len(t)-tailLines:]
	}
	v.tails[rec.ID] = t
	v.dirty = true
}

func ttyMark(rec store.Record) string {
	if rec.State != store.StateCompleted {
		if rec.State == store.StateRunning {
			return "\x1b[36m▶\x1b[0m"
		}
		return "\x1b[90m·\x1b[0m"
	}
	switch rec.Result {
	case store.ResultFailed:
		return "\x1b[31m✗\x1b[0m"
	case store.ResultCanceled:
		return "\x1b[33m⊘\x1b[0m"
	case store.ResultSkipped:
		return "\x1b[90m–\x1b[0m"
	case store.ResultSucceededWithIssues:
		return "\x1b[33m!\x1b[0m"
	}
	return "\x1b[32m✓\x1b[0m"
}

// render redraws the tree over the previous drawing. The caller holds mu.
func (v *ttyView) render() {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.drawn)
	}
	lines := []string{v.header}
	now := time.Now()
	children := map[string][]string{}
	for _, id := range v.order {
		r := v.recs[id]
		children[r.ParentID] = append(children[r.ParentID], id)
	}
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, id := range children[parent] {
			r := v.recs[id]
			d := time.Duration(0)
			switch {
			case r.State == store.StateRunning:
				d = now.Sub(r.StartedAt)
			case !r.StartedAt.IsZero():
				d = r.FinishedAt.Sub(r.StartedAt)
			}
			name := r.DisplayName
			if name == "" {
				name = r.Name
			}
			if r.Type == store.RecordStage && r.Name == "__default" {
				name = "(pipeline)"
			}
			dur := ""
			if d > 0 {
				round := 100 * time.Millisecond
				if d < time.Second {
					round = time.Millisecond
				}
				dur = " \x1b[90m" + d.Round(round).String() + "\x1b[0m"
			}
			lines = append(lines, fmt.Sprintf("%s%s %s%s", strings.Repeat("  ", depth), ttyMark(r), name, dur))
			if r.Type == store.RecordStep && r.State == store.StateRunning {
				for _, l := range v.tails[id] {
					lines = append(lines, strings.Repeat("  ", depth+1)+"│ "+l)
				}
			}
			// The steps of a finished job fold away unless one failed.
			if r.Type == store.RecordJob && r.State == store.StateCompleted && r.Result != store.ResultFailed {
				continue
			}
			walk(id, depth+1)
		}
	}
	walk("", 0)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	v.drawn = len(lines)
	v.dirty = false
	io.WriteString(v.w, b.String())
}

func (v *ttyView) finish(out *engine.Outcome) {
	close(v.stop)
	<-v.stopped
	v.mu.Lock()
	defer v.mu.Unlock()
	v.render()
	for _, s := range out.Summaries {
		fmt.Fprintf(v.w, "summary: %s\n", strings.TrimSpace(s))
	}
	fmt.Fprintf(v.w, "run %s #%d: %s\n", out.RunID, out.Number, out.Result)
}

// loadConfig reads --config, else conveyor.yaml in the repository root, else
// the embedded defaults. A bad file is bad input (exit 2), every problem on
// its own line.
func loadConfig(root, file string) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if file != "" {
		cfg, err = config.Load(file)
	} else {
		cfg, err = config.Find(root)
	}
	if err != nil {
		return nil, &exitError{code: exitBadUser, err: err}
	}
	return cfg, nil
}

// defaultUserData is the user's data folder, shared with `conveyor secret`:
// ~/.local/share/conveyor.
func defaultUserData() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "conveyor"), nil
}
