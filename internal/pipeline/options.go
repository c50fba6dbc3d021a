package pipeline

import (
	"fmt"
	"io/fs"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// Events that start a pipeline run.
const (
	EventPush     = "push"
	EventPR       = "pr"
	EventManual   = "manual"
	EventSchedule = "schedule"
	EventPipeline = "pipeline"
)

// Input is what a run is started with: the event, branches, parameter
// values and variable overrides. It decides the compile-time context.
type Input struct {
	// Event is push, pr, manual, schedule or pipeline; empty means push.
	Event string
	// Branch is the source branch, "refs/heads/x" or short "x"; "refs/tags/v1"
	// for tags. Empty means "main".
	Branch string
	// TargetBranch is the pull request's target branch (event pr).
	TargetBranch string
	// PullRequest is the pull request number (event pr); 0 means 1.
	PullRequest int
	// Params are runtime parameter values as given with --param K=V.
	Params map[string]string
	// Vars override or add pipeline variables (--var K=V); they are also
	// visible to compile-time expressions.
	Vars map[string]string
	// Predefined adds or overrides predefined variables
	// (Build.Repository.Name, Build.SourceVersion, …).
	Predefined map[string]string
}

// RepositoryResolver gives the files of a repository declared in
// resources.repositories, for templates referenced as path@alias.
type RepositoryResolver interface {
	Resolve(alias string, repo plan.RepositoryResource) (fs.FS, error)
}

// RepositoryResolverFunc adapts a function to RepositoryResolver.
type RepositoryResolverFunc func(alias string, repo plan.RepositoryResource) (fs.FS, error)

// Resolve calls f.
func (f RepositoryResolverFunc) Resolve(alias string, repo plan.RepositoryResource) (fs.FS, error) {
	return f(alias, repo)
}

// TaskValidator checks a task reference "Name@Major"; a non-nil error is
// reported at the step as the problem with the task.
type TaskValidator func(task string) error

// Options configure one compile.
type Options struct {
	Input
	// Repositories resolves path@alias templates; nil allows only @self.
	Repositories RepositoryResolver
	// ValidateTask, when set, is called for every task step.
	ValidateTask TaskValidator
}

// Reasons as Build.Reason shows them.
func buildReason(event string) string {
	switch event {
	case EventPR:
		return "PullRequest"
	case EventManual:
		return "Manual"
	case EventSchedule:
		return "Schedule"
	case EventPipeline:
		return "ResourceTrigger"
	}
	return "IndividualCI"
}

// fullRef turns a short branch name into refs/heads/<name>; full refs are
// kept.
func fullRef(b string) string {
	if b == "" {
		return ""
	}
	if strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}

// shortRef is the last path element of a ref, as Build.SourceBranchName.
func shortRef(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// predefinedVariables are the compile-time known variables of a run.
func predefinedVariables(in Input) *expr.Object {
	o := expr.NewObject()
	event := in.Event
	if event == "" {
		event = EventPush
	}
	branch := fullRef(in.Branch)
	if branch == "" {
		branch = "refs/heads/main"
	}
	o.Set("Build.Reason", buildReason(event))
	if event == EventPR {
		target := fullRef(in.TargetBranch)
		if target == "" {
			target = "refs/heads/main"
		}
		n := in.PullRequest
		if n <= 0 {
			n = 1
		}
		// As Azure Pipelines does, a PR build runs on the merge ref.
		merge := fmt.Sprintf("refs/pull/%d/merge", n)
		o.Set("Build.SourceBranch", merge)
		o.Set("Build.SourceBranchName", "merge")
		o.Set("System.PullRequest.PullRequestId", fmt.Sprint(n))
		o.Set("System.PullRequest.PullRequestNumber", fmt.Sprint(n))
		o.Set("System.PullRequest.SourceBranch", branch)
		o.Set("System.PullRequest.TargetBranch", target)
		o.Set("System.PullRequest.TargetBranchName", shortRef(target))
	} else {
		o.Set("Build.SourceBranch", branch)
		o.Set("Build.SourceBranchName", shortRef(branch))
	}
	o.Set("Build.Repository.Name", "self")
	o.Set("System.TeamProject", "conveyor")
	o.Set("Agent.OS", "Linux")
	for k, v := range in.Predefined {
		o.Set(k, v)
	}
	return o
}

func validEvent(e string) error {
	switch e {
	case "", EventPush, EventPR, EventManual, EventSchedule, EventPipeline:
		return nil
	}
	return fmt.Errorf("event %q: want push, pr, manual, schedule or pipeline", e)
}
