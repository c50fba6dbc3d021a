// Package executor holds the backends that run one job's steps.
package executor
