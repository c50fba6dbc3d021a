// Package store persists runs, stages, jobs, steps, attempts, logs,
// approvals and audit records. SQLite is the default implementation.
//
// It must not import the engine or anything above it in the flow.
package store
