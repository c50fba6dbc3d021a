// Package engine runs a plan.Plan: it schedules stages and jobs by their
// dependency graph, evaluates conditions and runtime variables, hands jobs to
// an executor and records every state change in a store.
//
// It declares the small interfaces it needs of a store and an executor; it
// must not import their implementations.
package engine
