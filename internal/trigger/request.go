package trigger

import "context"

// Event names of a Request.
const (
	EventPush     = "push"
	EventPR       = "pr"
	EventManual   = "manual"
	EventPipeline = "pipeline"
	EventSchedule = "schedule"
)

// Request asks for one run of one pipeline of a repository.
type Request struct {
	// Repository is the repository's name in conveyor.yaml.
	Repository string
	// Pipeline is the pipeline's name in the repository's pipelines map.
	Pipeline string
	// File is the pipeline file, relative to the repository root.
	File string
	// Event is push, pr, manual, pipeline or schedule.
	Event string
	// Commit is the full commit id to build (for a PR: its head).
	Commit string
	// Branch is the source branch, full ref (refs/heads/main) or short.
	Branch string
	// TargetBranch is the target of a pull request.
	TargetBranch string
	// PullRequest is the pull request's number; 0 for other events.
	PullRequest int
	// Title is the PR title or commit message's first line.
	Title string
	// Requester names who caused the run (pusher, PR author, API user).
	Requester string
	// Reason says why in words ("push to main", "PR #4 opened").
	Reason string
	// DeliveryID identifies the webhook delivery (replay protection).
	DeliveryID string
	// Variables are queue-time variables.
	Variables map[string]string
	// Resources are the pipeline resources that triggered this run, by
	// alias (resources.pipelines).
	Resources map[string]PipelineResource
	// GitDir is a local git repository that has Commit (the trigger's
	// mirror), which a Starter may read the commit from instead of
	// fetching it again; "" when none. It may have been pruned since: a
	// Starter checks.
	GitDir string `json:",omitempty"`
}

// PipelineResource is the run of another pipeline that a pipeline resource
// refers to.
type PipelineResource struct {
	Repository   string // the source pipeline's repository in conveyor.yaml
	Pipeline     string
	RunID        string
	RunName      string
	SourceBranch string
	SourceCommit string
	RequestedFor string
}

// Starter starts runs; the server implements it.
type Starter interface {
	// Start queues the run and returns its id.
	Start(ctx context.Context, r Request) (runID string, err error)
}
