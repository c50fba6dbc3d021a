// Package pipeline reads pipelines written in the Azure Pipelines YAML dialect:
// it parses them with source positions, validates them, expands templates and
// compile-time expressions, and compiles them to a plan.Plan.
//
// It is pure: it reads files through an fs.FS and imports nothing of the
// runtime (engine, executor, store, task).
package pipeline
