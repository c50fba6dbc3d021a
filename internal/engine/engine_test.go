package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

func TestStepsRunInOrderWithVariablesAndOutputs(t *testing.T) {
	h := newHarness(t)
	p := single(job("J",
		script("a", "echo one\necho '##vso[task.setvariable variable=plain]pv'\necho '##vso[task.setvariable variable=out;isOutput=true]ov'\necho 'same step: $(plain)'"),
		script("b", "echo \"plain=$(plain) env=$PLAIN out=$(a.out) env=$A_OUT\""),
	))
	out, recs := h.run(p)
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	if diff := cmp.Diff([]string{"one", "same step: $(plain)"}, h.log(out.RunID, "__default.J.a", 1)); diff != "" {
		t.Errorf("log of a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"plain=pv env=pv out=ov env=ov"}, h.log(out.RunID, "__default.J.b", 1)); diff != "" {
		t.Errorf("log of b (-want +got):\n%s", diff)
	}
	if got := recs["__default.J"].Outputs["a.out"]; got != "ov" {
		t.Errorf("job outputs: a.out = %q, want ov", got)
	}
	if a, b := recs["__default.J.a"], recs["__default.J.b"]; a.Order >= b.Order || b.StartedAt.Before(a.FinishedAt) {
		t.Errorf("step order: a %d %v..%v, b %d %v", a.Order, a.StartedAt, a.FinishedAt, b.Order, b.StartedAt)
	}
}

func TestFailurePropagation(t *testing.T) {
	h := newHarness(t)
	p := &plan.Plan{File: "p.yml", Stages: []plan.Stage{
		{Name: "A", Jobs: []plan.Job{
			job("J1", script("ok", "true"), script("bad", "exit 3"), script("after", "echo never"),
				func() plan.Step { s := script("cleanup", "echo cleanup"); s.Condition = "always()"; return s }(),
				func() plan.Step { s := script("onfail", "echo failed"); s.Condition = "failed()"; return s }()),
			func() plan.Job { j := job("J2", script("s", "true")); j.DependsOn = []string{"J1"}; return j }(),
			func() plan.Job {
				j := job("J3", script("s", "true"))
				j.DependsOn, j.Condition = []string{"J1"}, "failed()"
				return j
			}(),
		}},
		{Name: "B", DependsOn: []string{"A"}, Jobs: []plan.Job{job("K", script("s", "true"))}},
		{Name: "C", DependsOn: []string{"A"}, Condition: "failed()", Jobs: []plan.Job{job("K", script("s", "true"))}},
	}}
	out, recs := h.run(p)
	want := map[string]store.Result{
		"A": store.ResultFailed, "A.J1": store.ResultFailed,
		"A.J1.ok": store.ResultSucceeded, "A.J1.bad": store.ResultFailed, "A.J1.after": store.ResultSkipped,
		"A.J1.cleanup": store.ResultSucceeded, "A.J1.onfail": store.ResultSucceeded,
		"A.J2": store.ResultSkipped, "A.J3": store.ResultSucceeded,
		"B": store.ResultSkipped, "B.K": store.ResultSkipped,
		"C": store.ResultSucceeded, "C.K": store.ResultSucceeded,
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	if diff := cmp.Diff(want, results(recs, ids...)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if out.Result != store.ResultFailed {
		t.Errorf("run result %s, want failed", out.Result)
	}
	if r := recs["A.J1.bad"]; r.ErrorCount == 0 {
		t.Errorf("failed step has no error issue: %+v", r)
	}
}

func TestContinueOnErrorAndRetry(t *testing.T) {
	h := newHarness(t)
	counter := filepath.Join(t.TempDir(), "count")
	coeCounter := filepath.Join(t.TempDir(), "coe")
	coe := script("coe", "echo x >> "+coeCounter+"; exit 1")
	coe.ContinueOnError = true
	coe.RetryCountOnTaskFailure = 1
	retry := script("retry", "n=$(cat "+counter+" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "+counter+"; echo attempt $n; [ $n -ge 3 ]")
	retry.RetryCountOnTaskFailure = 3
	out, recs := h.run(single(job("J", coe, retry, script("next", "echo next"))))
	if diff := cmp.Diff(map[string]store.Result{
		"__default.J.coe": store.ResultSucceededWithIssues, "__default.J.retry": store.ResultSucceeded,
		"__default.J.next": store.ResultSucceeded, "__default.J": store.ResultSucceededWithIssues,
	}, results(recs, "__default.J.coe", "__default.J.retry", "__default.J.next", "__default.J")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if out.Result != store.ResultSucceededWithIssues {
		t.Errorf("run result %s, want succeededWithIssues", out.Result)
	}
	if b, _ := os.ReadFile(coeCounter); string(b) != "x\nx\n" {
		t.Errorf("a continueOnError step with a retry ran %q times, want twice", b)
	}
	if got := recs["__default.J.retry"].Attempt; got != 3 {
		t.Errorf("retry attempts = %d, want 3", got)
	}
	for i, want := range [][]string{
		{"attempt 1", "##[error]bash exited with code 1"},
		{"attempt 2", "##[error]bash exited with code 1"},
		{"attempt 3"},
	} {
		if diff := cmp.Diff(want, h.log(out.RunID, "__default.J.retry", i+1)); diff != "" {
			t.Errorf("attempt %d log (-want +got):\n%s", i, diff)
		}
	}
}

func TestCancellation(t *testing.T) {
	h := newHarness(t)
	fifo := filepath.Join(t.TempDir(), "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "term")
	long := script("long", "trap 'echo got TERM > "+marker+"; exit 143' TERM\necho ready > "+fifo+"\nwhile true; do sleep 0.05; done")
	always := script("always", "echo cleanup ran")
	always.Condition = "always()"
	p := single(job("J", long, script("after", "echo no"), always),
		func() plan.Job { j := job("Later", script("s", "true")); j.DependsOn = []string{"J"}; return j }(),
		func() plan.Job {
			j := job("LaterAlways", script("s", "echo later always"))
			j.DependsOn, j.Condition = []string{"J"}, "always()"
			return j
		}())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Opening blocks until the step opens it for writing; reading the
		// whole line keeps the step from a SIGPIPE.
		if b, err := os.ReadFile(fifo); err != nil || string(b) != "ready\n" {
			t.Errorf("ready fifo: %v %q", err, b)
		}
		cancel()
	}()
	out, recs := h.runCtx(ctx, p, h.input())
	if out.Result != store.ResultCanceled {
		t.Errorf("run result %s, want canceled", out.Result)
	}
	if diff := cmp.Diff(map[string]store.Result{
		"__default.J.long": store.ResultCanceled, "__default.J.after": store.ResultSkipped,
		"__default.J.always": store.ResultSucceeded, "__default.J": store.ResultCanceled,
		"__default.Later": store.ResultSkipped, "__default.LaterAlways": store.ResultSucceeded,
	}, results(recs, "__default.J.long", "__default.J.after", "__default.J.always", "__default.J", "__default.Later", "__default.LaterAlways")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), "TERM") {
		t.Errorf("step did not get SIGTERM: %v %q; log %q", err, b, h.log(out.RunID, "__default.J.long", 1))
	}
}

func TestRuntimeVariableErrorFailsJob(t *testing.T) {
	h := newHarness(t)
	j := job("J", script("s", "echo no"))
	j.Variables = []plan.Variable{{Name: "bad", Value: "$[ eq(1 ]"}}
	out, recs := h.run(single(j))
	if out.Result != store.ResultFailed {
		t.Errorf("result %s, want failed", out.Result)
	}
	r := recs["__default.J"]
	if r.Result != store.ResultFailed || len(r.Issues) == 0 || !strings.Contains(r.Issues[0].Message, "variable bad") {
		t.Errorf("job record %+v", r)
	}
	if _, ran := recs["__default.J.s"]; ran {
		t.Error("a step of the failed job ran")
	}
}
