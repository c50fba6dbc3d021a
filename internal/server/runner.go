package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
	"conveyor.dev/conveyor/internal/trigger"
)

// Engine is what the runner needs of the engine.
type Engine interface {
	Start(ctx context.Context, p *plan.Plan, in engine.Input) (*engine.Started, error)
}

// RunStore is what the runner reads of runs.
type RunStore interface {
	GetRun(ctx context.Context, id string) (store.Run, error)
}

// Runner starts runs of the configured repositories' pipelines on the
// engine: it fetches the commit into a mirror of the repository, compiles
// the pipeline file at that commit and starts the plan. It implements
// trigger.Starter and the API's Runs. Safe for concurrent use.
type Runner struct {
	eng     Engine
	st      RunStore
	repos   []config.Repository
	dataDir string
	git     *gitCache
	log     *slog.Logger
	// users are conveyor.yaml's user names, which requesters map to.
	users []string
	// builtin are the capabilities of the built-in agents.
	builtin []map[string]string

	// base is the context every run lives in: the server's, not a
	// request's.
	base context.Context

	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	prs     map[string]int // run → pull request number, of PR runs started here
	wg      sync.WaitGroup
}

var _ trigger.Starter = (*Runner)(nil)

// NewRunner returns a runner of repos keeping git mirrors and sources under
// dataDir; runs live in base (ending it cancels them).
func NewRunner(base context.Context, eng Engine, st RunStore, repos []config.Repository, dataDir string, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{eng: eng, st: st, repos: repos, dataDir: dataDir, log: log, base: base,
		git: newGitCache(filepath.Join(dataDir, "repos"), filepath.Join(dataDir, "sources")), cancels: map[string]context.CancelFunc{}, prs: map[string]int{}}
}

// repository finds the configured repository named name (any one when
// there is only one and name is empty).
func (r *Runner) repository(name string) (config.Repository, error) {
	if name == "" && len(r.repos) == 1 {
		return r.repos[0], nil
	}
	var names []string
	for _, repo := range r.repos {
		if repo.Name == name {
			return repo, nil
		}
		names = append(names, repo.Name)
	}
	if name == "" {
		return config.Repository{}, fmt.Errorf("repository: %w: name one of the repositories of conveyor.yaml: %s", ErrBadRequest, strings.Join(names, ", "))
	}
	return config.Repository{}, fmt.Errorf("repository %q: %w: not in conveyor.yaml (repositories: %s)", name, store.ErrNotFound, strings.Join(names, ", "))
}

// SetBuiltinAgents gives the runner the capabilities of the server's
// built-in agents: the jobs whose tasks need the server's services and
// whose demands a built-in agent meets are sent to them
// (ServicesCapability).
func (r *Runner) SetBuiltinAgents(caps []map[string]string) { r.builtin = caps }

// SetUsers gives the runner conveyor.yaml's user names: the requester of a
// run (a forge's pusher, a pull request's author) is recorded as the user
// of the same name (Requester).
func (r *Runner) SetUsers(names []string) { r.users = names }

// Requester maps who a forge says acted to a conveyor.yaml user: the user
// of the same name, case aside; else, for an e-mail or user principal name
// (Azure Repos' uniqueName), the user named as its part before @; else the
// name as it is. Approval policies compare it with the approver's token
// user, so requesterCannotApprove holds across spellings.
func Requester(forgeUser string, users []string) string {
	for _, u := range users {
		if strings.EqualFold(u, forgeUser) {
			return u
		}
	}
	if local, _, ok := strings.Cut(forgeUser, "@"); ok && local != "" {
		for _, u := range users {
			if strings.EqualFold(u, local) {
				return u
			}
		}
	}
	return forgeUser
}

// StartManual starts a manual run asked for through the API.
func (r *Runner) StartManual(ctx context.Context, m ManualRun) (string, error) {
	return r.Start(ctx, trigger.Request{Repository: m.Repository, Pipeline: m.Pipeline, Event: pipeline.EventManual,
		Branch: m.Branch, Commit: m.Commit, Variables: m.Variables, Requester: m.Requester,
		Reason: "manual run by " + m.Requester})
}

// Start checks out the request's commit, compiles its pipeline and starts
// the run; it returns once the run is recorded.
func (r *Runner) Start(ctx context.Context, req trigger.Request) (string, error) {
	repo, err := r.repository(req.Repository)
	if err != nil {
		return "", err
	}
	file := req.File
	if file == "" {
		f, ok := repo.Pipelines[req.Pipeline]
		if !ok {
			var names []string
			for n := range repo.Pipelines {
				names = append(names, n)
			}
			return "", fmt.Errorf("pipeline %q of repository %s: %w: not in its pipelines in conveyor.yaml (%s)", req.Pipeline, repo.Name, store.ErrNotFound, strings.Join(names, ", "))
		}
		file = f
	}
	name := req.Pipeline
	if name == "" {
		name = strings.TrimSuffix(path.Base(file), path.Ext(file))
	}
	src, err := r.git.checkout(ctx, repo, req.Branch, req.Commit, req.GitDir)
	if err != nil {
		return "", err
	}
	event := req.Event
	if event == "" {
		event = pipeline.EventManual
	}
	branch := src.branch
	vars := map[string]string{}
	for k, v := range req.Variables {
		vars[k] = v
	}
	maps.Copy(vars, trigger.ResourceVariables(req))
	p, err := pipeline.Compile(os.DirFS(src.dir), file, pipeline.Options{
		Input: pipeline.Input{
			Event: event, Branch: branch, TargetBranch: req.TargetBranch, PullRequest: req.PullRequest, Vars: req.Variables,
			Predefined: map[string]string{"Build.Repository.Name": repo.Name, "Build.SourceVersion": src.commit,
				"Build.DefinitionName": name, "System.DefinitionName": name, "System.TeamProject": repo.Name},
		},
		ValidateTask: func(name string) error {
			if task.Known(name) {
				return nil
			}
			return fmt.Errorf("unknown task: %s is not a built-in task", name)
		},
	})
	if err != nil {
		return "", fmt.Errorf("pipeline %s of %s at %.12s: %w: %w", name, repo.Name, src.commit, ErrBadRequest, err)
	}
	routeToServices(p, r.builtin)
	id, err := r.startPlan(p, engine.Input{
		Pipeline: name, Repository: repo.URL, RepositoryName: repo.Name, Commit: src.commit, Branch: branch,
		Event: store.Event(event), TargetBranch: req.TargetBranch, PullRequestID: req.PullRequest,
		Variables: vars, RequestedFor: Requester(req.Requester, r.users),
	})
	if err == nil {
		r.mu.Lock()
		if req.PullRequest > 0 {
			r.prs[id] = req.PullRequest
		}
		r.mu.Unlock()
	}
	return id, err
}

// startPlan starts p in the runner's base context and tracks its cancel.
func (r *Runner) startPlan(p *plan.Plan, in engine.Input) (string, error) {
	ctx, cancel := context.WithCancel(r.base)
	st, err := r.eng.Start(ctx, p, in)
	if err != nil {
		cancel()
		return "", err
	}
	r.track(st, cancel)
	return st.RunID, nil
}

// track remembers a started run until it ends; cancel cancels it (nil for
// a run resumed by the engine with a context of its own).
func (r *Runner) track(st *engine.Started, cancel context.CancelFunc) {
	r.mu.Lock()
	if cancel != nil {
		r.cancels[st.RunID] = cancel
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		out := st.Wait()
		r.mu.Lock()
		delete(r.cancels, st.RunID)
		delete(r.prs, st.RunID)
		r.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		r.log.Info("run ended", slog.String("run", out.RunID), slog.String("result", string(out.Result)))
	}()
}

// Cancel cancels a run this server executes.
func (r *Runner) Cancel(ctx context.Context, runID string) error {
	run, err := r.st.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	cancel := r.cancels[runID]
	r.mu.Unlock()
	if cancel == nil {
		if run.State == store.StateCompleted {
			return fmt.Errorf("cancel run %s: %w: it already ended %s", runID, ErrConflict, run.Result)
		}
		return fmt.Errorf("cancel run %s: %w: it is not executed by this server (owner %s)", runID, ErrConflict, run.Owner)
	}
	cancel()
	return nil
}

// Retry starts the plan of a run again, on the same commit, as a new run.
func (r *Runner) Retry(ctx context.Context, runID, requester string) (string, error) {
	run, err := r.st.GetRun(ctx, runID)
	if err != nil {
		return "", err
	}
	var p plan.Plan
	if err := json.Unmarshal(run.Plan, &p); err != nil {
		return "", fmt.Errorf("retry run %s: its plan: %w", runID, err)
	}
	name := ""
	for _, repo := range r.repos {
		if repo.URL == run.Repository {
			name = repo.Name
		}
	}
	return r.startPlan(&p, engine.Input{
		Pipeline: run.Pipeline, Repository: run.Repository, RepositoryName: name, Commit: run.Commit, Branch: run.Branch,
		Event: run.Event, Variables: run.Variables, Params: run.Params, RequestedFor: requester,
	})
}

// Running returns the IDs of the runs this runner executes.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.cancels))
	for id := range r.cancels {
		out = append(out, id)
	}
	return out
}

// Wait waits until every run started here has ended, or ctx ends.
func (r *Runner) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errNoCommit is wrapped when a branch or commit does not exist.
var errNoCommit = errors.New("no such commit")

// sourceTree is a commit's files exported for compiling.
type sourceTree struct {
	dir, commit, branch string
}

// gitCache keeps a bare mirror of each repository and the exported trees of
// the commits compiled.
type gitCache struct {
	repos, sources string
	mu             sync.Mutex
	locks          map[string]*sync.Mutex
}

func newGitCache(repos, sources string) *gitCache {
	return &gitCache{repos: repos, sources: sources, locks: map[string]*sync.Mutex{}}
}

func (g *gitCache) lock(name string) func() {
	g.mu.Lock()
	l := g.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		g.locks[name] = l
	}
	g.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// ResumeStore lists the runs a stopped process may have left.
type ResumeStore interface {
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
}

// Resumer is the engine's resume API.
type Resumer interface {
	Resume(ctx context.Context, runID string) (*engine.Started, error)
}

// ResumeOrphans continues, on the engine, every running or waiting run whose
// owner is not alive (a server killed or stopped), and returns their IDs.
func (r *Runner) ResumeOrphans(ctx context.Context, st ResumeStore, alive func(owner string) bool) ([]string, error) {
	res, ok := r.eng.(Resumer)
	if !ok {
		return nil, fmt.Errorf("resume runs: the engine cannot resume")
	}
	var ids []string
	var errs []error
	for _, state := range []store.State{store.StateRunning, store.StateWaiting} {
		runs, err := st.ListRuns(ctx, store.RunFilter{State: state})
		if err != nil {
			return ids, err
		}
		for _, run := range runs {
			if alive(run.Owner) {
				continue
			}
			rctx, cancel := context.WithCancel(r.base)
			started, err := res.Resume(rctx, run.ID)
			if err != nil {
				cancel()
				errs = append(errs, err)
				continue
			}
			r.track(started, cancel)
			ids = append(ids, run.ID)
		}
	}
	return ids, errors.Join(errs...)
}

// CancelPullRequest cancels this server's runs of pipeline in repository for
// pull request pr except the run except (trigger autoCancel).
func (r *Runner) CancelPullRequest(ctx context.Context, repository, pipelineName string, pr int, except string) (int, error) {
	r.mu.Lock()
	var ids []string
	for id, n := range r.prs {
		if n == pr {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	repo, err := r.repository(repository)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if id == except {
			continue
		}
		run, err := r.st.GetRun(ctx, id)
		if err != nil || run.Pipeline != pipelineName || run.Repository != repo.URL {
			continue
		}
		if r.Cancel(ctx, id) == nil {
			n++
		}
	}
	return n, nil
}

// Active reports whether this server runs pipeline of repository on branch
// (trigger batch).
func (r *Runner) Active(ctx context.Context, repository, pipelineName, branch string) (bool, error) {
	repo, err := r.repository(repository)
	if err != nil {
		return false, err
	}
	for _, id := range r.Running() {
		run, err := r.st.GetRun(ctx, id)
		if err != nil {
			continue
		}
		b := run.Branch
		if !strings.HasPrefix(b, "refs/") {
			b = "refs/heads/" + b
		}
		if run.Pipeline == pipelineName && run.Repository == repo.URL && b == branch {
			return true, nil
		}
	}
	return false, nil
}
