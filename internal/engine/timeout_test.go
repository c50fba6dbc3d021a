package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

func TestTimeouts(t *testing.T) {
	// A "minute" of 200ms keeps the test short.
	h := newHarness(t, engine.WithMinute(200*time.Millisecond))
	stepTO := script("slow", "sleep 30")
	stepTO.TimeoutInMinutes = 1
	after := script("after", "echo after")
	always := script("always", "echo always")
	always.Condition = "always()"
	jobTO := job("JobTimeout", script("forever", "sleep 30"), script("skipped", "echo no"), always)
	jobTO.TimeoutInMinutes = 5
	jobTO.CancelTimeoutInMinutes = 50 // room for always() steps on a slow machine
	// A step that ignores SIGTERM is killed after the cancel timeout.
	stubborn := job("Stubborn", func() plan.Step {
		s := script("ignores", "trap '' TERM; sleep 30")
		s.TimeoutInMinutes = 1
		return s
	}())
	stubborn.CancelTimeoutInMinutes = 1
	out, recs := h.run(single(job("StepTimeout", stepTO, after), jobTO, stubborn))
	if out.Result != store.ResultFailed {
		t.Errorf("run result %s, want failed", out.Result)
	}
	if diff := cmp.Diff(map[string]store.Result{
		"__default.StepTimeout.slow": store.ResultFailed, "__default.StepTimeout.after": store.ResultSkipped,
		"__default.StepTimeout": store.ResultFailed, "__default.JobTimeout.forever": store.ResultCanceled,
		"__default.JobTimeout": store.ResultFailed, "__default.Stubborn.ignores": store.ResultFailed,
		"__default.JobTimeout.skipped": store.ResultSkipped, "__default.JobTimeout.always": store.ResultSucceeded,
	}, results(recs, "__default.StepTimeout.slow", "__default.StepTimeout.after", "__default.StepTimeout",
		"__default.JobTimeout.forever", "__default.JobTimeout", "__default.Stubborn.ignores",
		"__default.JobTimeout.skipped", "__default.JobTimeout.always")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if r := recs["__default.StepTimeout.slow"]; len(r.Issues) == 0 || !strings.Contains(r.Issues[0].Message, "timed out") {
		t.Errorf("step timeout issue: %+v", r.Issues)
	}
	if r := recs["__default.JobTimeout"]; len(r.Issues) == 0 || !strings.Contains(r.Issues[0].Message, "maximum time") {
		t.Errorf("job timeout issue: %+v", r.Issues)
	}
	if d := recs["__default.Stubborn.ignores"].FinishedAt.Sub(recs["__default.Stubborn.ignores"].StartedAt); d > 5*time.Second {
		t.Errorf("a step ignoring SIGTERM ran %v: it should be killed after the cancel timeout", d)
	}
}

func TestParallelJobsAreBounded(t *testing.T) {
	dir := t.TempDir()
	// The bound is checked from the store's timestamps.
	h := newHarness(t, engine.WithMaxParallel(2))
	var jobs []plan.Job
	for _, n := range []string{"A", "B", "C", "D"} {
		jobs = append(jobs, job(n, script("s", "sleep 0.2; echo "+n+" >> "+filepath.Join(dir, "ran"))))
	}
	// A matrix with maxParallel 1 on top.
	for i, leg := range []string{"x", "y"} {
		j := job("M_"+leg, script("s", "sleep 0.1"))
		j.Expansion = &plan.Expansion{Job: "M", Leg: leg, Position: i + 1, Total: 2, MaxParallel: 1}
		jobs = append(jobs, j)
	}
	out, recs := h.run(single(jobs...))
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s", out.Result)
	}
	type span struct{ a, b time.Time }
	var spans []span
	for _, n := range []string{"A", "B", "C", "D", "M_x", "M_y"} {
		r := recs["__default."+n]
		spans = append(spans, span{r.StartedAt, r.FinishedAt})
	}
	for _, s := range spans {
		running := 0
		for _, o := range spans {
			if !o.a.After(s.a) && o.b.After(s.a) {
				running++
			}
		}
		if running > 2 {
			t.Errorf("%d jobs ran at once, want at most 2", running)
		}
	}
	x, y := recs["__default.M_x"], recs["__default.M_y"]
	if x.StartedAt.Before(y.FinishedAt) && y.StartedAt.Before(x.FinishedAt) {
		t.Errorf("matrix legs with maxParallel 1 overlapped: %v-%v and %v-%v", x.StartedAt, x.FinishedAt, y.StartedAt, y.FinishedAt)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ran"))
	if got := strings.Count(string(b), "\n"); got != 4 {
		t.Errorf("%d jobs ran, want 4", got)
	}
}

func TestWorkspaceClean(t *testing.T) {
	h := newHarness(t)
	write := script("write", "echo x > $(Build.BinariesDirectory)/old; echo x > $(Build.SourcesDirectory)/old; echo x > $(Build.ArtifactStagingDirectory)/old")
	check := script("check", "for d in $(Build.BinariesDirectory) $(Build.SourcesDirectory) $(Build.ArtifactStagingDirectory); do test -f $d/old && echo kept $(basename $d) || echo cleaned $(basename $d); done")
	for _, tc := range []struct {
		clean string
		want  []string
	}{
		{"", []string{"kept b", "kept s", "cleaned a"}},
		{"outputs", []string{"cleaned b", "kept s", "cleaned a"}},
		{"resources", []string{"kept b", "cleaned s", "cleaned a"}},
		{"all", []string{"cleaned b", "cleaned s", "cleaned a"}},
	} {
		t.Run("clean="+tc.clean, func(t *testing.T) {
			first := job("J", write)
			if out, _ := h.run(single(first)); out.Result != store.ResultSucceeded {
				t.Fatalf("first run: %s", out.Result)
			}
			second := job("J", check)
			second.WorkspaceClean = tc.clean
			out, _ := h.run(single(second))
			if diff := cmp.Diff(tc.want, h.log(out.RunID, "__default.J.check", 1)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoTimeout: "Jobs" says timeoutInMinutes: 0 lets a job run forever on
// a self-hosted agent, where the default is 60 minutes.
func TestNoTimeout(t *testing.T) {
	// A "minute" of 5ms: the default limit is 300ms, shorter than the work.
	h := newHarness(t, engine.WithMinute(5*time.Millisecond))
	limited := job("Default", script("work", "sleep 1"))
	free := job("Forever", script("work", "sleep 1"))
	free.NoTimeout = true
	_, recs := h.run(single(limited, free))
	if diff := cmp.Diff(map[string]store.Result{"__default.Default": store.ResultFailed, "__default.Forever": store.ResultSucceeded},
		results(recs, "__default.Default", "__default.Forever")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}
