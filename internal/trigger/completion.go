package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/pipeline"
)

// CompletedRun is a run that finished, as resources.pipelines triggers and
// batched CI triggers see it.
type CompletedRun struct {
	Repository string // the repository's name in conveyor.yaml
	Pipeline   string // the pipeline's name
	RunID      string
	RunName    string // the run's display name (its number when unnamed)
	Branch     string // the run's source branch, refs/heads/…
	Commit     string
	Result     string   // succeeded, succeededWithIssues, failed, canceled, …
	Requester  string   // who the run was requested for
	Stages     []string // the stages that completed successfully
	Tags       []string
}

// succeeded reports whether the run's result lets resource triggers fire.
func (r CompletedRun) succeeded() bool {
	return r.Result == "succeeded" || r.Result == "succeededWithIssues"
}

// sourceMatches reports whether a resources.pipelines source names the
// completed run's pipeline: its name, or "<repository>/<pipeline>".
func sourceMatches(source string, run CompletedRun) bool {
	return strings.EqualFold(source, run.Pipeline) || strings.EqualFold(source, run.Repository+"/"+run.Pipeline)
}

// CompletionRequests returns the Requests for the pipelines of conveyor.yaml
// whose resources.pipelines entry names run's pipeline as source and whose
// trigger matches the run (branches, stages, tags; only successful runs
// trigger). A pipeline of the run's own repository is read at the run's
// commit and runs on the run's branch; a pipeline of another repository is
// read at its default branch (HEAD). Each Request carries the triggering
// run under the resource's alias in Resources.
func (d *Dispatcher) CompletionRequests(ctx context.Context, run CompletedRun) ([]Request, error) {
	if !run.succeeded() {
		return nil, nil
	}
	var out []Request
	for _, repo := range d.cfg.Repositories {
		commit, branch := run.Commit, run.Branch
		url := d.cloneURL(repo)
		if repo.Name != run.Repository {
			head, ref, err := d.defaultHead(ctx, url)
			if err != nil {
				return nil, fmt.Errorf("repository %s: %w", repo.Name, err)
			}
			commit, branch = head, ref
		}
		dir, err := d.git.Sync(ctx, url, commit)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", repo.Name, err)
		}
		for _, name := range pipelineNames(repo) {
			if repo.Name == run.Repository && name == run.Pipeline {
				continue // a pipeline does not trigger itself
			}
			file := repo.Pipelines[name]
			p, err := d.plan(ctx, dir, commit, file, pipeline.Input{Event: pipeline.EventPipeline, Branch: branch})
			if err != nil {
				continue // a broken pipeline elsewhere must not stop the others
			}
			resources := map[string]PipelineResource{}
			for _, res := range p.Resources.Pipelines {
				if !sourceMatches(res.Source, run) {
					continue
				}
				if !pipeline.MatchPipelineTrigger(res.Trigger, pipeline.PipelineRun{Branch: run.Branch, Stages: run.Stages, Tags: run.Tags}) {
					continue
				}
				resources[res.Alias] = PipelineResource{
					Repository: run.Repository, Pipeline: run.Pipeline, RunID: run.RunID, RunName: run.RunName,
					SourceBranch: run.Branch, SourceCommit: run.Commit, RequestedFor: run.Requester,
				}
			}
			if len(resources) == 0 {
				continue
			}
			out = append(out, Request{
				Repository: repo.Name, Pipeline: name, File: file, Event: pipeline.EventPipeline,
				Commit: commit, Branch: branch, Title: fmt.Sprintf("%s %s completed", run.Pipeline, cmpOr(run.RunName, run.RunID)),
				Requester: run.Requester, Reason: fmt.Sprintf("pipeline %s run %s %s", run.Pipeline, run.RunID, run.Result),
				Resources: resources, GitDir: dir,
			})
		}
	}
	return out, nil
}

// defaultHead returns the commit and ref of url's default branch.
func (d *Dispatcher) defaultHead(ctx context.Context, url string) (commit, ref string, err error) {
	out, err := runGit(ctx, "", "ls-remote", "--symref", url, "HEAD")
	if err != nil {
		return "", "", fmt.Errorf("default branch of %s: %w", redactURL(url), err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(l, "ref: "); ok {
			ref, _, _ = strings.Cut(r, "\t")
		} else if sha, name, ok := strings.Cut(l, "\t"); ok && name == "HEAD" {
			commit = sha
		}
	}
	if commit == "" {
		return "", "", fmt.Errorf("default branch of %s: the repository has no HEAD", redactURL(url))
	}
	return commit, cmpOr(ref, "refs/heads/main"), nil
}

// Finished is what the server calls when a run completes: it starts the
// push batched behind the run (trigger.batch), if any, and the pipelines
// the run triggers through resources.pipelines.
func (d *Dispatcher) Finished(ctx context.Context, run CompletedRun) (Outcome, error) {
	var out Outcome
	if d.o.state != nil {
		if err := d.startBatched(ctx, run, &out); err != nil {
			return out, err
		}
	}
	reqs, err := d.CompletionRequests(ctx, run)
	if err != nil {
		return out, err
	}
	for _, r := range reqs {
		id, err := d.starter.Start(ctx, r)
		if err != nil {
			return out, fmt.Errorf("start %s after %s: %w", r.Pipeline, run.Pipeline, err)
		}
		out.Started = append(out.Started, Started{r.Pipeline, id})
	}
	return out, nil
}

func (d *Dispatcher) startBatched(ctx context.Context, run CompletedRun, out *Outcome) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := batchKey(run.Repository, run.Pipeline, run.Branch)
	v, ok, err := d.o.state.GetTriggerState(ctx, key)
	if err != nil || !ok {
		return err
	}
	var req Request
	if err := json.Unmarshal([]byte(v), &req); err != nil {
		return fmt.Errorf("batched push of %s: %w", run.Pipeline, err)
	}
	id, err := d.starter.Start(ctx, req)
	if err != nil {
		return fmt.Errorf("start batched %s: %w", req.Pipeline, err)
	}
	out.Started = append(out.Started, Started{req.Pipeline, id})
	return d.o.state.DeleteTriggerState(ctx, key)
}

// Manual returns the Request for a run asked for by a person (API, CLI):
// the pipeline of repository at the head of branch (the default branch
// when empty), with variables.
func (d *Dispatcher) Manual(ctx context.Context, repository, pipelineName, branch, requester string, vars map[string]string) (Request, error) {
	var repo *config.Repository
	for i := range d.cfg.Repositories {
		if d.cfg.Repositories[i].Name == repository {
			repo = &d.cfg.Repositories[i]
		}
	}
	if repo == nil {
		return Request{}, fmt.Errorf("repository %q is not in conveyor.yaml: add it under repositories", repository)
	}
	file, ok := repo.Pipelines[pipelineName]
	if !ok {
		return Request{}, fmt.Errorf("repository %s has no pipeline %q: add it under its pipelines in conveyor.yaml", repository, pipelineName)
	}
	url := d.cloneURL(*repo)
	var commit string
	if branch == "" {
		c, ref, err := d.defaultHead(ctx, url)
		if err != nil {
			return Request{}, fmt.Errorf("repository %s: %w", repository, err)
		}
		commit, branch = c, ref
	} else {
		branch = branchRef(branch)
		refs, err := d.git.LsRemote(ctx, url)
		if err != nil {
			return Request{}, fmt.Errorf("repository %s: %w", repository, err)
		}
		if commit = refs[branch]; commit == "" {
			return Request{}, fmt.Errorf("repository %s has no branch %s", repository, branch)
		}
	}
	return Request{
		Repository: repository, Pipeline: pipelineName, File: file, Event: pipeline.EventManual,
		Commit: commit, Branch: branch, Requester: requester, Variables: vars,
		Reason: fmt.Sprintf("manual run by %s", cmpOr(requester, "unknown")),
	}, nil
}
