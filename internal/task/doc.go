// Package task holds the built-in tasks, registered by Name@Major
// (Bash@3, CmdLine@2, PublishPipelineArtifact@1, ...).
//
// A task must not import the engine; it gets what it needs through the
// task.Env it is given.
package task
