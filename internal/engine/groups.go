package engine

import (
	"context"
	"fmt"
	"strings"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// VariableGroups resolves the variable groups a pipeline names
// (variables: - group: name). Implementations must be safe for concurrent
// use (jobs run in parallel) and keep secret values out of their errors.
type VariableGroups interface {
	// VariableGroup returns the plain and the secret variables of the
	// named group.
	VariableGroup(ctx context.Context, name string) (plain, secrets map[string]string, err error)
}

// WithVariableGroups sets where variable groups come from. Without it a
// group is not available: the job warns and runs without its variables.
func WithVariableGroups(g VariableGroups) Option {
	return func(e *Engine) error { e.groups = g; return nil }
}

// addVariableGroups defines the variables of the groups that the pipeline,
// the stage and the job name, in their place: a variable defined after the
// group (in the same list or a narrower scope) or at queue time wins over
// the group's. Secret values are registered with the masker before any
// step runs. A group that cannot be resolved fails the job (its steps are
// skipped by their default condition).
func (jr *jobRun) addVariableGroups() {
	rs := jr.rs
	var defs []plan.Variable
	for _, l := range [][]plan.Variable{rs.plan.Variables, jr.st.Variables, jr.j.Variables} {
		defs = append(defs, l...)
	}
	for i, d := range defs {
		if d.Group == "" {
			continue
		}
		if rs.e.groups == nil {
			jr.issues = append(jr.issues, store.Issue{Type: store.IssueWarning,
				Message: fmt.Sprintf("variable group %s is not available to this run: define it under variableGroups in conveyor.yaml, or pass its variables with --var", d.Group)})
			continue
		}
		plain, secrets, err := rs.e.groups.VariableGroup(jr.ctx, d.Group)
		if err != nil {
			jr.issues = append(jr.issues, store.Issue{Type: store.IssueError, Message: rs.mask(fmt.Sprintf("variable group %s: %v", d.Group, err))})
			jr.status = store.ResultFailed
			continue
		}
		for _, v := range secrets {
			rs.addSecret(v)
		}
		later := defs[i+1:]
		define := func(name, value string, secret bool) {
			if definedAfter(later, name) || rs.queueVariable(name) {
				return
			}
			jr.vars.set(variable{Name: name, Value: value, Secret: secret})
		}
		for name, v := range plain {
			define(name, v, false)
		}
		for name, v := range secrets {
			define(name, v, true)
		}
	}
}

// definedAfter reports whether a plain variable named name is among defs.
func definedAfter(defs []plan.Variable, name string) bool {
	for _, d := range defs {
		if d.Group == "" && strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

// queueVariable reports whether name was given at queue time.
func (rs *runState) queueVariable(name string) bool {
	for k := range rs.in.Variables {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
