package expr

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Status functions: Expressions, "Job status check functions", and
// Conditions ("Condition outcomes when a build is canceled").
func TestStatusFuncs(t *testing.T) {
	results := map[string]Result{
		"ok":      ResultSucceeded,
		"issues":  ResultSucceededWithIssues,
		"bad":     ResultFailed,
		"skipped": ResultSkipped,
		"stopped": ResultCanceled,
	}
	lookup := func(name string) (Result, bool) {
		r, ok := results[strings.ToLower(name)]
		return r, ok
	}
	job := func(canceled bool, deps ...string) Status {
		return Status{Canceled: canceled, Dependencies: deps, Result: lookup}
	}
	step := func(canceled bool, r Result) Status {
		return Status{Canceled: canceled, Step: true, JobStatus: r, Result: lookup}
	}
	tests := []struct {
		name string
		s    Status
		src  string
		want string
		err  string
	}{
		// always: True even when canceled.
		{name: "always", s: job(false, "bad"), src: "always()", want: "true"},
		{name: "always canceled", s: job(true, "bad"), src: "always()", want: "true"},
		// canceled
		{name: "canceled no", s: job(false), src: "canceled()", want: "false"},
		{name: "canceled yes", s: job(true), src: "canceled()", want: "true"},
		// succeeded (job): all previous jobs succeeded or partially succeeded; False when canceled.
		{name: "succeeded no deps", s: job(false), src: "succeeded()", want: "true"},
		{name: "succeeded all ok", s: job(false, "ok", "issues"), src: "succeeded()", want: "true"},
		{name: "succeeded one failed", s: job(false, "ok", "bad"), src: "succeeded()", want: "false"},
		{name: "succeeded one skipped", s: job(false, "ok", "skipped"), src: "succeeded()", want: "false"},
		{name: "succeeded canceled", s: job(true, "ok"), src: "succeeded()", want: "false"},
		{name: "succeeded named", s: job(false, "bad"), src: "succeeded('ok', 'Issues')", want: "true"},
		{name: "succeeded named failed", s: job(false), src: "succeeded('ok', 'bad')", want: "false"},
		{name: "succeeded unknown name", s: job(false), src: "succeeded('nope')", err: `succeeded(): "nope" is not a dependency: add it to dependsOn`},
		// failed (job): any previous job failed.
		{name: "failed no deps", s: job(false), src: "failed()", want: "false"},
		{name: "failed one failed", s: job(false, "ok", "bad"), src: "failed()", want: "true"},
		{name: "failed none failed", s: job(false, "ok", "skipped", "stopped"), src: "failed()", want: "false"},
		{name: "failed named", s: job(false, "ok"), src: "failed('bad')", want: "true"},
		{name: "failed named ok", s: job(false, "bad"), src: "failed('ok')", want: "false"},
		{name: "failed canceled", s: job(true, "bad"), src: "failed()", want: "false"},
		// succeededOrFailed (job): like always() but False when canceled;
		// a skipped dependency makes it False (hence not(canceled())).
		{name: "succeededOrFailed mixed", s: job(false, "ok", "bad", "issues"), src: "succeededOrFailed()", want: "true"},
		{name: "succeededOrFailed skipped", s: job(false, "ok", "skipped"), src: "succeededOrFailed()", want: "false"},
		{name: "succeededOrFailed canceled", s: job(true, "ok"), src: "succeededOrFailed()", want: "false"},
		{name: "succeededOrFailed named", s: job(false, "skipped"), src: "succeededOrFailed('bad')", want: "true"},
		{name: "not canceled with skipped", s: job(false, "skipped"), src: "not(canceled())", want: "true"},
		// Steps: Agent.JobStatus.
		{name: "step succeeded", s: step(false, ResultSucceeded), src: "succeeded()", want: "true"},
		{name: "step succeeded with issues", s: step(false, ResultSucceededWithIssues), src: "succeeded()", want: "true"},
		{name: "step succeeded after failure", s: step(false, ResultFailed), src: "succeeded()", want: "false"},
		{name: "step failed", s: step(false, ResultFailed), src: "failed()", want: "true"},
		{name: "step failed when ok", s: step(false, ResultSucceeded), src: "failed()", want: "false"},
		{name: "step succeededOrFailed", s: step(false, ResultFailed), src: "succeededOrFailed()", want: "true"},
		{name: "step canceled", s: step(true, ResultCanceled), src: "succeededOrFailed()", want: "false"},
		{name: "step always canceled", s: step(true, ResultCanceled), src: "always()", want: "true"},
		{name: "step named job", s: step(false, ResultSucceeded), src: "failed('bad')", want: "true"},
		// Combined with other functions, as in "Condition settings for various outcomes".
		{name: "and succeeded branch", s: job(false, "ok"), src: "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))", want: "true"},
		{name: "and failed PR", s: job(false, "bad"), src: "and(failed(), eq(variables['Build.Reason'], 'PullRequest'))", want: "true"},
		{name: "always takes no args", s: job(false), src: "always('x')", err: "always() takes 0 arguments, got 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Context{Named: testNamed(), Funcs: StatusFuncs(tc.s), Mode: Condition}
			got, err := MustParse(tc.src).Eval(c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Eval(%q) = %s, %v; want error %q", tc.src, show(got), err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("Eval(%q) (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

func TestStatusMissingDependencyResult(t *testing.T) {
	c := &Context{Funcs: StatusFuncs(Status{Dependencies: []string{"a"}}), Mode: Condition}
	_, err := MustParse("succeeded()").Eval(c)
	if err == nil || !strings.Contains(err.Error(), `no result for dependency "a"`) {
		t.Fatalf("err = %v", err)
	}
}
