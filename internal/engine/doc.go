// Package engine runs a plan.Plan: it schedules stages and jobs by their
// dependency graph, evaluates conditions and runtime variables, hands each
// job's steps to an executor, parses logging commands from step output and
// records every state change in a store.
//
// Before a stage deploys to an environment it runs the environment's checks
// (branch control, approvals, exclusive lock, in that order) through an
// Approvals service; agentless jobs (pool: server, ManualValidation) run on
// the engine itself. A check that is not yet decided puts the stage or job
// and the run in state waiting and is asked again on the next change or
// after the time it names; all that state is in the store, so Resume
// continues a run a stopped process left.
//
// A stage with trigger: manual does not start with the run: it is skipped
// with a warning, and so are the stages that depend on it. A job whose
// matrix is a runtime expression is expanded into its legs when its
// condition has passed (matrix.go).
//
// The same engine serves `conveyor run` and the server. It declares the
// small interfaces it needs of a store, an executor and the approvals and
// is given their implementations; it must not import cmd, internal/server
// or an executor backend (internal/executor/local).
package engine
