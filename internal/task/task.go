package task

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status is the outcome of a task run, with Azure's names.
type Status string

// Task outcomes.
const (
	Succeeded           Status = "Succeeded"
	SucceededWithIssues Status = "SucceededWithIssues"
	Failed              Status = "Failed"
)

// Result is what a task returns when it ran: its status and a short message
// for the user. A task returns an error instead only when the infrastructure
// failed (a process could not start, the disk is full); a failing user
// script is a Result with Status Failed.
type Result struct {
	Status  Status
	Message string
}

// Task is one built-in task.
type Task interface {
	// Run runs the task once. It returns when the task is done or ctx ends.
	Run(ctx context.Context, env *Env) (Result, error)
}

// Func adapts a function to the Task interface.
type Func func(ctx context.Context, env *Env) (Result, error)

// Run calls f.
func (f Func) Run(ctx context.Context, env *Env) (Result, error) { return f(ctx, env) }

// Dirs are the directories of a job's workspace, as Azure's agent lays them
// out.
type Dirs struct {
	Work            string // Agent.WorkFolder: the root of every workspace
	Pipeline        string // Pipeline.Workspace / Agent.BuildDirectory: <work>/<n>
	Sources         string // Build.SourcesDirectory: <n>/s
	ArtifactStaging string // Build.ArtifactStagingDirectory: <n>/a
	Binaries        string // Build.BinariesDirectory: <n>/b
	TestResults     string // Common.TestResultsDirectory: <n>/TestResults
	Temp            string // Agent.TempDirectory
	Tools           string // Agent.ToolsDirectory
	// Artifacts is where this run's pipeline artifacts are kept
	// (<data>/artifacts/<run>); one sub-directory per artifact.
	Artifacts string
}

// Command is a process a task asks the executor to run.
type Command struct {
	Path string
	Args []string
	Dir  string
	// Env is the full environment of the process; nil means Env.Environ.
	Env []string
	// FailOnStderr makes Exec report whether anything was written to stderr.
	SeparateStderr bool
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code int
	// Stderr is true when the process wrote to its standard error (only
	// tracked when Command.SeparateStderr is set).
	Stderr bool
	// Signaled is true when the process was killed by a signal (timeout or
	// cancellation).
	Signaled bool
}

// VarOptions qualify a variable set by a task (the flags of
// ##vso[task.setvariable]).
type VarOptions struct {
	Output   bool
	Secret   bool
	Readonly bool
}

// Env is what a task gets to run: its inputs with macros expanded, the job's
// variables, its workspace and the callbacks of its executor. The executor
// fills every field; a task treats it as read-only.
type Env struct {
	// Task is the Name@Major being run.
	Task string
	// Inputs are the step's inputs, macros expanded.
	Inputs map[string]string
	// Variables are the job's variables visible to this step (secrets
	// included, for tasks that need them; never log them).
	Variables map[string]string
	// Environ is the process environment for processes of this step.
	Environ []string
	// Dirs is the job's workspace.
	Dirs Dirs
	// Log receives the task's own messages, one line per Write call or
	// newline; it goes through the masker to the step's log.
	Log io.Writer
	// Exec runs a process whose output goes to the step's log; it returns
	// when the process ended, or with an error when it could not run.
	Exec func(ctx context.Context, c Command) (ExitStatus, error)
	// SetVariable sets a variable for the steps after this one.
	SetVariable func(name, value string, opts VarOptions) error
	// AddSummary adds markdown text to the run's summary.
	AddSummary func(text string)
	// Now is the clock.
	Now func() time.Time
	// Services are the registries, clusters and vaults of conveyor.yaml;
	// nil when the runner has none (see NeedServices).
	Services *Services
}

// Input returns the input named name (case-insensitive), or def when unset
// or empty.
func (e *Env) Input(name, def string) string {
	if v, ok := e.Inputs[name]; ok && v != "" {
		return v
	}
	for k, v := range e.Inputs {
		if strings.EqualFold(k, name) && v != "" {
			return v
		}
	}
	return def
}

// BoolInput returns the boolean input named name, or def when unset. Azure
// accepts true/false in any case.
func (e *Env) BoolInput(name string, def bool) (bool, error) {
	v := e.Input(name, "")
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
	if err != nil {
		return false, fmt.Errorf("input %s: %q is not a boolean: use true or false", name, v)
	}
	return b, nil
}

// Logf writes one formatted line to the step's log.
func (e *Env) Logf(format string, a ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", a...)
	}
}

// builtins lists the built-in tasks by their canonical Name@Major. A new
// task adds one line here (and its file).
var builtins = map[string]Task{
	"CmdLine@2":                  Func(runCmdLine),
	"Bash@3":                     Func(runBash),
	"PublishPipelineArtifact@1":  Func(runPublishPipelineArtifact),
	"DownloadPipelineArtifact@2": Func(runDownloadPipelineArtifact),
	"PublishTestResults@2":       Func(runPublishTestResults),
	"CopyFiles@2":                Func(runCopyFiles),
	"ArchiveFiles@2":             Func(runArchiveFiles),
	"HelmDeploy@0":               Func(runHelmDeploy),
	"HelmDeploy@1":               Func(runHelmDeploy),
	"KubernetesManifest@1":       Func(runKubernetesManifest),
	"Kubernetes@1":               Func(runKubernetes),
	"Docker@2":                   Func(runDocker),
	"PromoteImage@1":             Func(runPromoteImage),
	CheckoutTask:                 Func(runCheckout),
	"ContainerScan@1":            Func(runContainerScan),
	"SecretScan@1":               Func(runSecretScan),
	"PublishSarif@1":             Func(runPublishSarif),
	"ManualValidation@0":         Func(runManualValidation),
	ManualValidationTask:         Func(runManualValidation),
	"AzureKeyVault@2":            Func(runAzureKeyVault),
}

// registry maps lower-case Name@Major to the built-in tasks, each warning
// about inputs it does not have (see UnknownInputs).
var registry = func() map[string]Task {
	m := make(map[string]Task, len(builtins))
	for name, t := range builtins {
		m[strings.ToLower(name)] = warnUnknownInputs(name, t)
	}
	return m
}()

// CheckoutTask is the internal task the engine runs for a checkout step. It
// is not a name users write: Known reports false for it.
const CheckoutTask = "__Checkout@1"

// Lookup returns the built-in task named name ("Name@Major", case-insensitive).
func Lookup(name string) (Task, bool) {
	t, ok := registry[strings.ToLower(strings.TrimSpace(name))]
	return t, ok
}

// Known reports whether name is a built-in task users may write in a
// pipeline.
func Known(name string) bool {
	if strings.HasPrefix(strings.TrimSpace(name), "__") {
		return false
	}
	_, ok := Lookup(name)
	return ok
}

// Names lists the user-visible built-in tasks, sorted, with their canonical
// spelling.
func Names() []string {
	var out []string
	for name := range builtins {
		if !strings.HasPrefix(name, "__") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
