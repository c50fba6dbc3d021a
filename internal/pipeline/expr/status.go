package expr

import (
	"fmt"
)

// Result is the outcome of a job or stage, as the dependencies context
// (dependencies.<name>.result) and the status functions see it.
type Result string

// Results, spelled as Azure Pipelines spells them.
const (
	ResultSucceeded           Result = "Succeeded"
	ResultSucceededWithIssues Result = "SucceededWithIssues"
	ResultFailed              Result = "Failed"
	ResultCanceled            Result = "Canceled"
	ResultSkipped             Result = "Skipped"
)

// Status is the run state the status functions read. There are two
// shapes, following Azure Pipelines' "Expressions" (job status check
// functions) and "Conditions" pages:
//
// For a job or stage condition, Dependencies names the jobs (or stages)
// before it in the dependency graph: its dependsOn and, recursively, theirs
// ("Conditions": the dependency requirement "applies to direct dependencies
// and to their indirect dependencies, computed recursively"). Result
// returns the result of any job or stage named in Dependencies or in a
// call.
//
// For a step condition, Step is true and JobStatus is the job's status so
// far (Agent.JobStatus: Succeeded, SucceededWithIssues or Failed).
type Status struct {
	// Canceled reports whether the run has been canceled.
	Canceled bool
	// Dependencies are the names the functions look at when called
	// without arguments (jobs and stages): the direct and indirect
	// dependencies.
	Dependencies []string
	// Result returns the result of the named job or stage (the name as
	// written in the call; match it ignoring case). ok false means the
	// name is not a dependency, which is an error naming it.
	Result func(name string) (r Result, ok bool)
	// Step selects step semantics: the functions without arguments look at
	// JobStatus.
	Step bool
	// JobStatus is Agent.JobStatus for step conditions.
	JobStatus Result
}

// StatusFuncs returns the status functions over s, to put in
// Context.Funcs for a condition. Their semantics:
//
//   - always(): true, even when the run is canceled.
//   - canceled(): true when the run is canceled.
//   - succeeded(): false when the run is canceled; otherwise true when
//     every dependency (or every job/stage named as an argument) has the
//     result Succeeded or SucceededWithIssues — vacuously true with no
//     dependencies. For a step: JobStatus is Succeeded or
//     SucceededWithIssues.
//   - failed(): false when the run is canceled; otherwise true when any
//     dependency (or any named job/stage) Failed — false with no
//     dependencies. For a step: JobStatus is Failed.
//   - succeededOrFailed(): false when the run is canceled; otherwise true
//     when every dependency (or named job/stage) Succeeded,
//     SucceededWithIssues or Failed — a Skipped or Canceled dependency
//     makes it false (the docs suggest not(canceled()) when dependencies
//     may be skipped). For a step: JobStatus is one of those three.
//
// Arguments are job or stage names (converted to strings); a name Result
// does not know is an error naming it. In a step condition names are
// looked up through Result when it is set, else they are an error.
func StatusFuncs(s Status) map[string]Func {
	results := func(args []any) ([]Result, error) {
		if len(args) == 0 {
			if s.Step {
				return []Result{s.JobStatus}, nil
			}
			out := make([]Result, 0, len(s.Dependencies))
			for _, d := range s.Dependencies {
				r, ok := s.result(d)
				if !ok {
					return nil, fmt.Errorf("no result for dependency %q", d)
				}
				out = append(out, r)
			}
			return out, nil
		}
		out := make([]Result, 0, len(args))
		for _, a := range args {
			name := ToString(a)
			r, ok := s.result(name)
			if !ok {
				return nil, fmt.Errorf("%q is not a dependency: add it to dependsOn", name)
			}
			out = append(out, r)
		}
		return out, nil
	}
	all := func(ok ...Result) func(args []any) (any, error) {
		return func(args []any) (any, error) {
			rs, err := results(args)
			if err != nil || s.Canceled {
				return false, err
			}
			for _, r := range rs {
				if !r.in(ok...) {
					return false, nil
				}
			}
			return true, nil
		}
	}
	return map[string]Func{
		"always": {MinArgs: 0, MaxArgs: 0, Call: func([]any) (any, error) { return true, nil }},
		"canceled": {MinArgs: 0, MaxArgs: 0, Call: func([]any) (any, error) {
			return s.Canceled, nil
		}},
		"succeeded":         {MinArgs: 0, MaxArgs: -1, Call: all(ResultSucceeded, ResultSucceededWithIssues)},
		"succeededOrFailed": {MinArgs: 0, MaxArgs: -1, Call: all(ResultSucceeded, ResultSucceededWithIssues, ResultFailed)},
		"failed": {MinArgs: 0, MaxArgs: -1, Call: func(args []any) (any, error) {
			rs, err := results(args)
			if err != nil || s.Canceled {
				return false, err
			}
			for _, r := range rs {
				if r.in(ResultFailed) {
					return true, nil
				}
			}
			return false, nil
		}},
	}
}

func (s Status) result(name string) (Result, bool) {
	if s.Result == nil {
		return "", false
	}
	return s.Result(name)
}

func (r Result) in(rs ...Result) bool {
	for _, x := range rs {
		if equalFoldASCII(string(r), string(x)) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool { return foldString(a) == foldString(b) }
