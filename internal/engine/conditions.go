package engine

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// Evaluator evaluates runtime expressions: conditions and the $[ ] values
// of variables. The engine is given one (the pipeline's expression
// language); it handles bare status-function conditions itself.
type Evaluator interface {
	// Condition evaluates a condition to a boolean.
	Condition(src string, s *Scope) (bool, error)
	// Value evaluates the expression inside $[ ] to a string.
	Value(src string, s *Scope) (string, error)
}

// Scope is what a runtime expression can see.
type Scope struct {
	// Variables are the variables visible at that point, by name.
	Variables map[string]string
	// Dependencies are, for a job, the jobs of its stage it depends on
	// (name → {"result": ..., "outputs": {"step.var": ...}}); for a stage,
	// the stages it depends on (outputs keyed "job.step.var").
	Dependencies map[string]any
	// StageDependencies are, for a job, the finished stages (stage → job →
	// {"result", "outputs"}).
	StageDependencies map[string]any
	// Status answers a status function: succeeded, failed,
	// succeededOrFailed, canceled, always, with its arguments.
	Status func(name string, args []string) (bool, error)
	// Counter answers counter(prefix, seed) in runtime expressions.
	Counter func(prefix string, seed int64) (int64, error)
	// StartTime is pipeline.startTime, when the run was queued; zero
	// leaves pipeline undefined.
	StartTime time.Time
}

// depResult is the Azure spelling of a record result, as conditions and
// dependencies.<x>.result see it.
func depResult(r store.Result) string {
	switch r {
	case store.ResultSucceeded:
		return "Succeeded"
	case store.ResultSucceededWithIssues:
		return "SucceededWithIssues"
	case store.ResultFailed:
		return "Failed"
	case store.ResultCanceled:
		return "Canceled"
	case store.ResultSkipped:
		return "Skipped"
	}
	return string(r)
}

// graphStatus answers status functions for a stage or job: over the named
// dependencies, or over every dependency direct or indirect when no names
// are given.
type graphStatus struct {
	results  map[string]store.Result // every finished node of the graph
	all      []string                // the direct and indirect dependencies
	canceled bool
}

func (g *graphStatus) status(name string, args []string) (bool, error) {
	names := g.all
	if len(args) > 0 {
		names = args
	}
	get := func(n string) (store.Result, error) {
		for k, r := range g.results {
			if strings.EqualFold(k, n) {
				return r, nil
			}
		}
		return "", fmt.Errorf("%s('%s'): %s is not a dependency: add it to dependsOn", name, n, n)
	}
	// every: test must hold for each name; otherwise for any one of them.
	var test func(store.Result) bool
	every := true
	switch strings.ToLower(name) {
	case "always":
		return true, nil
	case "canceled":
		return g.canceled, nil
	case "succeeded":
		test = succeededResult
	case "failed":
		test, every = func(r store.Result) bool { return r == store.ResultFailed }, false
	case "succeededorfailed":
		test = func(r store.Result) bool { return succeededResult(r) || r == store.ResultFailed }
	default:
		return false, fmt.Errorf("unknown status function %s", name)
	}
	// A canceled run runs only what asks for always() or canceled(): the
	// other functions are false, with or without job names (Azure: "evaluates
	// to False if the pipeline is canceled").
	if g.canceled {
		return false, nil
	}
	for _, n := range names {
		r, err := get(n)
		if err != nil {
			return false, err
		}
		if test(r) != every {
			return !every, nil
		}
	}
	return every, nil
}

// succeededResult reports whether r counts as succeeded: Succeeded or
// SucceededWithIssues.
func succeededResult(r store.Result) bool {
	return r == store.ResultSucceeded || r == store.ResultSucceededWithIssues
}

// jobStatus answers status functions for a step: from the status of its
// job so far.
type jobStatus struct {
	result   store.Result // succeeded, succeededWithIssues, failed, canceled
	canceled bool
}

func (j *jobStatus) status(name string, args []string) (bool, error) {
	if len(args) > 0 {
		return false, fmt.Errorf("%s: a step's status functions take no arguments", name)
	}
	canceled := j.canceled || j.result == store.ResultCanceled
	switch strings.ToLower(name) {
	case "always":
		return true, nil
	case "canceled":
		return canceled, nil
	case "succeeded":
		return !canceled && succeededResult(j.result), nil
	case "failed":
		return !canceled && j.result == store.ResultFailed, nil
	case "succeededorfailed":
		return !canceled, nil
	}
	return false, fmt.Errorf("unknown status function %s", name)
}

// statusCall matches a condition that is one status function call with
// literal arguments: failed('A', 'B').
var statusCall = regexp.MustCompile(`(?i)^\s*(always|canceled|succeeded|failed|succeededOrFailed)\s*\(\s*((?:'[^']*'\s*(?:,\s*'[^']*'\s*)*)?)\)\s*$`)

// evalCondition evaluates a condition; empty means succeeded().
func evalCondition(ev Evaluator, cond string, s *Scope) (bool, error) {
	if strings.TrimSpace(cond) == "" {
		cond = "succeeded()"
	}
	if m := statusCall.FindStringSubmatch(cond); m != nil {
		var args []string
		for _, a := range strings.Split(m[2], ",") {
			if a = strings.TrimSpace(a); a != "" {
				args = append(args, strings.Trim(a, "'"))
			}
		}
		return s.Status(m[1], args)
	}
	if ev == nil {
		return false, fmt.Errorf("condition %q: no expression evaluator configured", cond)
	}
	ok, err := ev.Condition(cond, s)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", cond, err)
	}
	return ok, nil
}

// runtimeExpr returns the expression inside a "$[ ... ]" value.
func runtimeExpr(v string) (string, bool) {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "$[") && strings.HasSuffix(t, "]") {
		return strings.TrimSpace(t[2 : len(t)-1]), true
	}
	return "", false
}
