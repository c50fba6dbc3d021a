// Package engine runs a plan.Plan: it schedules stages and jobs by their
// dependency graph, evaluates conditions and runtime variables, hands each
// job's steps to an executor, parses logging commands from step output and
// records every state change in a store.
//
// The same engine serves `conveyor run` and the server. It declares the
// small interfaces it needs of a store and an executor and is given their
// implementations; it must not import cmd, internal/server or an executor
// backend (internal/executor/local).
package engine
