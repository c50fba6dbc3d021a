package executor

import (
	"context"
	"errors"
	"runtime"
	"time"

	"conveyor.dev/conveyor/internal/task"
)

// JobSpec asks a backend for the workspace of one job.
type JobSpec struct {
	// RunID is the run the job belongs to.
	RunID string
	// Pipeline identifies the pipeline; a backend that reuses workspaces
	// between runs (as Azure's agent does) keys them by it.
	Pipeline string
	// JobID is the job's record id, e.g. "Build.Compile".
	JobID string
	// WorkspaceClean is the job's workspace.clean: "", outputs, resources
	// or all.
	WorkspaceClean string
	// Container is the image of the job's container: (Azure's container
	// jobs), empty when it has none. A backend that runs jobs in containers
	// runs the steps in it; others run them on their host.
	Container string `json:",omitempty"`
}

// Step is one step handed to a Job: a task with its inputs already
// expanded.
type Step struct {
	// ID is the step's record id.
	ID string
	// Task is the task to run, "Name@Major".
	Task string
	// Inputs are the task's inputs, macros expanded.
	Inputs map[string]string
	// Variables are the job's variables visible to the step, by name.
	Variables map[string]string
	// Env is added to the backend's base environment: every non-secret
	// variable in its environment form plus the step's env mapping.
	Env map[string]string
	// PathPrepend lists directories prepended to PATH, first one first.
	PathPrepend []string
	// KillGrace is how long a process gets between SIGTERM and SIGKILL
	// after ctx ends.
	KillGrace time.Duration
	// Output receives every line the step writes, with the time it was
	// read; calls are sequential.
	Output func(ts time.Time, line string)
	// SetVariable is called when the task sets a variable through its Env.
	SetVariable func(name, value string, opts task.VarOptions) error
	// AddSummary adds text to the run summary.
	AddSummary func(text string)
}

// StepSpec is a Step without its callbacks: what crosses a process or
// network boundary (to a remote agent, to a step runner in a pod).
type StepSpec struct {
	ID          string            `json:"id"`
	Task        string            `json:"task"`
	Inputs      map[string]string `json:"inputs,omitempty"`
	Variables   map[string]string `json:"variables,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	PathPrepend []string          `json:"pathPrepend,omitempty"`
	KillGrace   time.Duration     `json:"killGrace,omitempty"`
}

// Spec returns s without its callbacks.
func (s Step) Spec() StepSpec {
	return StepSpec{ID: s.ID, Task: s.Task, Inputs: s.Inputs, Variables: s.Variables, Env: s.Env,
		PathPrepend: s.PathPrepend, KillGrace: s.KillGrace}
}

// Step returns the step sp describes, without callbacks; the caller sets
// Output, SetVariable and AddSummary.
func (sp StepSpec) Step() Step {
	return Step{ID: sp.ID, Task: sp.Task, Inputs: sp.Inputs, Variables: sp.Variables, Env: sp.Env,
		PathPrepend: sp.PathPrepend, KillGrace: sp.KillGrace}
}

// Job is one job's workspace on a backend. The engine calls Dirs and
// RunStep, one step at a time, then Close exactly once.
type Job interface {
	// Dirs are the job's workspace directories as the steps see them.
	Dirs() task.Dirs
	// RunStep runs one step to its end. A failed step is a Result; an error
	// is an infrastructure failure (an *InfraError when the backend can
	// tell). When ctx ends the step's processes get SIGTERM, then SIGKILL
	// after Step.KillGrace.
	RunStep(ctx context.Context, s Step) (task.Result, error)
	// Close releases the workspace.
	Close(ctx context.Context) error
}

// InfraError is a failure of the infrastructure a backend runs a job on (a
// pod that cannot be scheduled, an image that cannot be pulled), as opposed
// to the user's step failing. Its message says what to do.
type InfraError struct {
	// Job is the job's record id.
	Job string
	// Msg says what failed and what to do about it.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *InfraError) Error() string {
	s := "job " + e.Job + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *InfraError) Unwrap() error { return e.Err }

// ContainerJob is implemented by a Job whose steps run in the job's
// container: (JobSpec.Container) when it has one.
type ContainerJob interface {
	RunsInContainer() bool
}

// ErrUnknownTask is returned by RunStep for a task no backend knows.
var ErrUnknownTask = errors.New("unknown task")

// AgentOS is Agent.OS as Azure names this machine's system: Linux, Darwin
// or Windows_NT.
func AgentOS() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Darwin"
	case "windows":
		return "Windows_NT"
	}
	return runtime.GOOS
}

// AgentArch is Agent.OSArchitecture as Azure names this machine's
// processor: X64, ARM64, X86 or ARM.
func AgentArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X64"
	case "arm64":
		return "ARM64"
	case "386":
		return "X86"
	case "arm":
		return "ARM"
	}
	return runtime.GOARCH
}
