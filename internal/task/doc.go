// Package task holds the built-in tasks, registered by Name@Major
// (Bash@3, CmdLine@2, PublishPipelineArtifact@1, ...).
//
// A task runs one step of a job. It gets everything it needs through the
// task.Env it is given (inputs, variables, workspace directories, a log
// writer, a process runner and a set-variable callback), so the same task
// runs under any executor.
//
// Inputs follow Azure's task reference: names and aliases compare without
// case, defaults are Azure's, and an input a task does not have is ignored
// with a warning in the step's log naming the closest one (documentedInputs
// in inputs.go). File-matching inputs use Azure's pattern dialect (match.go).
//
// A task must not import the engine, the executors or the server. It reaches
// the store only through the small interfaces of Services (deployment
// revisions for rollback), using the store's record types.
package task
