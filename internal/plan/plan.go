// Package plan holds the compiled form of a pipeline: plain data that the
// pipeline compiler produces and the engine runs.
//
// A Plan has every template expanded, every compile-time expression
// evaluated, matrices and parallel jobs expanded and deployment strategies
// flattened into hooks. What remains is decided at run time: conditions,
// runtime expressions ($[ ]) in variables, and macros ($(var)) in strings.
//
// This package imports only the standard library (an architecture test
// enforces it); it must not import any other package of Conveyor.
package plan

// Pos is a position in a source file. Line and Col are 1-based; a zero Pos
// means unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Plan is one pipeline, compiled.
type Plan struct {
	// Name is the pipeline's run-name format (the YAML `name:`), unexpanded.
	Name string `json:"name,omitempty"`
	// File is the pipeline file the plan was compiled from.
	File string `json:"file"`
	// AppendCommitMessage mirrors `appendCommitMessageToRunName`.
	AppendCommitMessage *bool `json:"appendCommitMessage,omitempty"`
	// Parameters are the resolved values of the pipeline's parameters.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Variables are the pipeline-level variables, in declaration order.
	Variables []Variable `json:"variables,omitempty"`
	// Triggers say which events start this pipeline.
	Triggers Triggers `json:"triggers"`
	// Resources are the repositories, pipelines and containers declared.
	Resources Resources `json:"resources"`
	// LockBehavior is the pipeline-level lockBehavior (sequential|runLatest).
	LockBehavior string `json:"lockBehavior,omitempty"`
	// Stages in declaration order. A pipeline written without stages has one
	// implicit stage named "__default".
	Stages []Stage `json:"stages"`
	// Warnings name features the pipeline uses that Conveyor parses but may
	// not run everywhere (see the pipeline package's doc).
	Warnings []Warning `json:"warnings,omitempty"`
}

// Warning is a note about the pipeline that does not stop it compiling.
type Warning struct {
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
	Pos  Pos    `json:"pos"`
}

// Variable is one variable definition. Value may hold macros and, for a
// runtime expression, the whole "$[ ... ]" text.
type Variable struct {
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
	Readonly bool   `json:"readonly,omitempty"`
	// Group names a variable group; then Name and Value are empty and the
	// group's variables are linked in at run time.
	Group string `json:"group,omitempty"`
	Pos   Pos    `json:"pos"`
}

// Stage is one stage of the plan.
type Stage struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// DependsOn lists stage names. The compiler applies the implicit rule: a
	// stage without dependsOn depends on the stage before it.
	DependsOn []string `json:"dependsOn"`
	// Condition is a runtime condition; empty means succeeded().
	Condition    string     `json:"condition,omitempty"`
	Variables    []Variable `json:"variables,omitempty"`
	LockBehavior string     `json:"lockBehavior,omitempty"`
	IsSkippable  *bool      `json:"isSkippable,omitempty"`
	// Trigger is "manual" for a stage that waits to be started by hand;
	// empty means automatic.
	Trigger string `json:"trigger,omitempty"`
	Pool    *Pool  `json:"pool,omitempty"`
	Jobs    []Job  `json:"jobs"`
	Pos     Pos    `json:"pos"`
}

// Job kinds.
const (
	KindJob        = "job"
	KindDeployment = "deployment"
)

// Job is one job after matrix and parallel expansion: each matrix leg is a
// Job of its own, named "<job>_<leg>" as Azure does (for parallel:
// "<job>_<n>"), with Matrix and Position set.
type Job struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Kind        string `json:"kind"` // KindJob or KindDeployment
	// DependsOn lists job names in the same stage. For expanded jobs the
	// names are of the expanded legs.
	DependsOn []string `json:"dependsOn"`
	// Condition is a runtime condition; empty means succeeded().
	Condition        string `json:"condition,omitempty"`
	ContinueOnError  bool   `json:"continueOnError,omitempty"`
	TimeoutInMinutes int    `json:"timeoutInMinutes,omitempty"` // 0: the default (60)
	// NoTimeout is timeoutInMinutes: 0 written out: the job has no time
	// limit, as on Azure's self-hosted agents.
	NoTimeout              bool       `json:"noTimeout,omitempty"`
	CancelTimeoutInMinutes int        `json:"cancelTimeoutInMinutes,omitempty"`
	Pool                   *Pool      `json:"pool,omitempty"`
	Container              *Container `json:"container,omitempty"`
	Services               []Service  `json:"services,omitempty"`
	WorkspaceClean         string     `json:"workspaceClean,omitempty"` // outputs | resources | all
	Variables              []Variable `json:"variables,omitempty"`
	Uses                   *Uses      `json:"uses,omitempty"`
	Templates              []string   `json:"templates,omitempty"` // template files this job came through, outermost first

	// Expansion: the leg of a matrix or parallel strategy this job is.
	Expansion *Expansion `json:"expansion,omitempty"`
	// RuntimeMatrix is a matrix given as a runtime expression, expanded
	// into legs when the job is about to run.
	RuntimeMatrix *RuntimeMatrix `json:"runtimeMatrix,omitempty"`

	// Steps of a regular job, in order.
	Steps []Step `json:"steps,omitempty"`

	// Deployment jobs.
	Environment *Environment `json:"environment,omitempty"`
	// Strategy is runOnce, rolling or canary.
	Strategy string `json:"strategy,omitempty"`
	// MaxParallel is a rolling strategy's batch size: a number of targets
	// or a percentage such as "25%".
	MaxParallel string `json:"maxParallel,omitempty"`
	// Hooks are the strategy's lifecycle hooks flattened in run order; the
	// On* hooks run last, one of them, on the result.
	Hooks []Hook `json:"hooks,omitempty"`

	Pos Pos `json:"pos"`
}

// RuntimeMatrix is strategy.matrix: $[ expr ]. The expression (its text
// inside $[ ]) evaluates to a JSON object of leg names to variables, as
// {'a': {'myvar': 'A'}, 'b': {'myvar': 'B'}}; each leg runs as the job
// named <job>_<leg>, and the job's result and outputs (<leg>.step.var) are
// its legs' together.
type RuntimeMatrix struct {
	Expr        string `json:"expr"`
	MaxParallel int    `json:"maxParallel,omitempty"`
}

// Expansion describes one leg of a matrix or parallel strategy.
type Expansion struct {
	// Job is the name of the job as written, before expansion.
	Job string `json:"job"`
	// Leg is the matrix leg name, or the 1-based index for parallel.
	Leg string `json:"leg"`
	// Position is 1-based (System.JobPositionInPhase); Total is
	// System.TotalJobsInPhase.
	Position int `json:"position"`
	Total    int `json:"total"`
	// MaxParallel bounds how many legs of Job run at once; 0 means no bound.
	MaxParallel int `json:"maxParallel,omitempty"`
}

// Pool says where a job runs. Server is true for agentless jobs (pool: server).
type Pool struct {
	Name    string   `json:"name,omitempty"`
	VMImage string   `json:"vmImage,omitempty"`
	Demands []string `json:"demands,omitempty"`
	Server  bool     `json:"server,omitempty"`
}

// Container is a job container or a container resource it names.
type Container struct {
	Alias    string            `json:"alias,omitempty"`
	Image    string            `json:"image"`
	Options  string            `json:"options,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Ports    []string          `json:"ports,omitempty"`
	Volumes  []string          `json:"volumes,omitempty"`
	Endpoint string            `json:"endpoint,omitempty"`
}

// Service is a sidecar service container of a job.
type Service struct {
	Name      string    `json:"name"`
	Container Container `json:"container"`
}

// Uses lists the resources a job declares it uses.
type Uses struct {
	Repositories []string `json:"repositories,omitempty"`
	Pools        []string `json:"pools,omitempty"`
}

// Environment is the target of a deployment job.
type Environment struct {
	Name         string `json:"name"`
	ResourceName string `json:"resourceName,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	Tags         string `json:"tags,omitempty"`
}

// Hook names, in the order a strategy runs them.
const (
	HookPreDeploy        = "preDeploy"
	HookDeploy           = "deploy"
	HookRouteTraffic     = "routeTraffic"
	HookPostRouteTraffic = "postRouteTraffic"
	HookOnFailure        = "on.failure"
	HookOnSuccess        = "on.success"
)

// Hook is one lifecycle hook of a deployment strategy. Canary increments and
// rolling batches repeat deploy/routeTraffic/postRouteTraffic, each repeat a
// Hook of its own with Increment set.
type Hook struct {
	Name string `json:"name"`
	// Increment is the canary percentage or rolling batch of this repeat; 0
	// when the strategy does not repeat.
	Increment int    `json:"increment,omitempty"`
	Pool      *Pool  `json:"pool,omitempty"`
	Steps     []Step `json:"steps"`
	Pos       Pos    `json:"pos"`
}

// Step kinds. Shorthand steps are compiled to tasks as Azure does: script →
// CmdLine@2, bash → Bash@3, pwsh/powershell → PowerShell@2, publish →
// PublishPipelineArtifact@1, download → DownloadPipelineArtifact@2,
// getPackage → DownloadPackage@1. Checkout stays its own kind.
const (
	StepTask     = "task"
	StepCheckout = "checkout"
)

// Step is one step of a job or hook.
type Step struct {
	Kind string `json:"kind"` // StepTask or StepCheckout
	// Name is the step's reference name (for output variables); empty when
	// the YAML gave none.
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// Task is "Name@Major", e.g. "Bash@3".
	Task   string            `json:"task,omitempty"`
	Inputs map[string]string `json:"inputs,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
	// Condition is a runtime condition; empty means succeeded().
	Condition               string    `json:"condition,omitempty"`
	ContinueOnError         bool      `json:"continueOnError,omitempty"`
	Enabled                 bool      `json:"enabled"`
	TimeoutInMinutes        int       `json:"timeoutInMinutes,omitempty"`
	RetryCountOnTaskFailure int       `json:"retryCountOnTaskFailure,omitempty"`
	Target                  *Target   `json:"target,omitempty"`
	Checkout                *Checkout `json:"checkout,omitempty"`
	Pos                     Pos       `json:"pos"`
}

// Target is a step's `target:` (host or a container, commands, settable variables).
type Target struct {
	Container         string   `json:"container,omitempty"`
	Commands          string   `json:"commands,omitempty"` // any | restricted
	SettableVariables []string `json:"settableVariables,omitempty"`
	// SettableNone is true for settableVariables: none.
	SettableNone bool `json:"settableNone,omitempty"`
}

// Checkout is a checkout step: Repository is "self", "none" or an alias from
// resources.repositories (or an inline repository reference).
type Checkout struct {
	Repository         string `json:"repository"`
	Clean              string `json:"clean,omitempty"`
	FetchDepth         int    `json:"fetchDepth,omitempty"`
	FetchTags          string `json:"fetchTags,omitempty"`
	Lfs                bool   `json:"lfs,omitempty"`
	Submodules         string `json:"submodules,omitempty"` // "", "true", "recursive"
	Path               string `json:"path,omitempty"`
	PersistCredentials bool   `json:"persistCredentials,omitempty"`
}

// Triggers say which events start the pipeline.
type Triggers struct {
	// CI is the push trigger; nil means the default (every branch).
	CI *Filter `json:"ci,omitempty"`
	// PR is the pull-request trigger; nil means the default (every branch).
	PR *Filter `json:"pr,omitempty"`
	// Schedules are cron schedules.
	Schedules []Schedule `json:"schedules,omitempty"`
}

// Filter is a trigger's include/exclude filter. None is true for `trigger:
// none`/`pr: none`.
type Filter struct {
	None            bool     `json:"none,omitempty"`
	Batch           bool     `json:"batch,omitempty"`
	AutoCancel      *bool    `json:"autoCancel,omitempty"`
	Drafts          *bool    `json:"drafts,omitempty"`
	BranchesInclude []string `json:"branchesInclude,omitempty"`
	BranchesExclude []string `json:"branchesExclude,omitempty"`
	PathsInclude    []string `json:"pathsInclude,omitempty"`
	PathsExclude    []string `json:"pathsExclude,omitempty"`
	TagsInclude     []string `json:"tagsInclude,omitempty"`
	TagsExclude     []string `json:"tagsExclude,omitempty"`
	StagesInclude   []string `json:"stages,omitempty"` // pipeline-resource triggers only
	Pos             Pos      `json:"pos"`
}

// Schedule is one cron schedule.
type Schedule struct {
	Cron            string   `json:"cron"`
	DisplayName     string   `json:"displayName,omitempty"`
	BranchesInclude []string `json:"branchesInclude,omitempty"`
	BranchesExclude []string `json:"branchesExclude,omitempty"`
	Batch           bool     `json:"batch,omitempty"`
	Always          bool     `json:"always,omitempty"`
	Pos             Pos      `json:"pos"`
}

// Resources are what the pipeline declares under `resources:`.
type Resources struct {
	Repositories []RepositoryResource `json:"repositories,omitempty"`
	Pipelines    []PipelineResource   `json:"pipelines,omitempty"`
	Containers   []Container          `json:"containers,omitempty"`
}

// RepositoryResource is one entry of resources.repositories.
type RepositoryResource struct {
	Alias    string  `json:"alias"`
	Type     string  `json:"type,omitempty"` // git | github | githubenterprise | bitbucket
	Name     string  `json:"name,omitempty"`
	Ref      string  `json:"ref,omitempty"`
	Endpoint string  `json:"endpoint,omitempty"`
	Trigger  *Filter `json:"trigger,omitempty"`
	Pos      Pos     `json:"pos"`
}

// PipelineResource is one entry of resources.pipelines: another pipeline
// whose completion can trigger this one.
type PipelineResource struct {
	Alias   string   `json:"alias"`
	Source  string   `json:"source"`
	Project string   `json:"project,omitempty"`
	Version string   `json:"version,omitempty"`
	Branch  string   `json:"branch,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// Trigger is nil when the resource does not trigger (the default).
	Trigger *Filter `json:"trigger,omitempty"`
	Pos     Pos     `json:"pos"`
}
