package kubernetes_test

import (
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// BenchmarkJobStartClose measures a job's pod from create to running, and
// its deletion until gone, on the real node.
func BenchmarkJobStartClose(b *testing.B) {
	e := newExecutor(b, namespace(b))
	for b.Loop() {
		j, err := e.StartJob(b.Context(), executor.JobSpec{RunID: "bench", Pipeline: "p", JobID: "Bench.Job"})
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Close(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepRoundTrip measures one script step exec'd into a running
// job pod: exec, runner start, bash, result.
func BenchmarkStepRoundTrip(b *testing.B) {
	e := newExecutor(b, namespace(b))
	j, err := e.StartJob(b.Context(), executor.JobSpec{RunID: "bench", Pipeline: "p", JobID: "Bench.Steps"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close(b.Context()) })
	s := executor.Step{ID: "s", Task: "CmdLine@2", Inputs: map[string]string{"script": "echo hi"}, KillGrace: time.Second,
		Output: func(time.Time, string) {}}
	for b.Loop() {
		res, err := j.RunStep(b.Context(), s)
		if err != nil || res.Status != task.Succeeded {
			b.Fatal(res, err)
		}
	}
}
