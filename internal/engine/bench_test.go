package engine_test

import (
	"context"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// stepClock records when each step record completes.
type stepClock struct {
	mu   sync.Mutex
	ends []time.Time
}

func (c *stepClock) RunChanged(store.Run) {}
func (c *stepClock) RecordChanged(r store.Record) {
	if r.Type == store.RecordStep && r.State == store.StateCompleted {
		c.mu.Lock()
		c.ends = append(c.ends, time.Now())
		c.mu.Unlock()
	}
}
func (c *stepClock) Line(store.Record, time.Time, string) {}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkStepOverhead runs one job of 1000 `true` steps and reports what
// the engine adds per step (records, logs, process set-up) over a bare
// `sh -c true` loop measured in the same benchmark.
func BenchmarkStepOverhead(b *testing.B) {
	const steps = 1000
	var bare, perStep []time.Duration
	for b.Loop() {
		for range steps {
			t0 := time.Now()
			if err := exec.Command("sh", "-c", "true").Run(); err != nil {
				b.Fatal(err)
			}
			bare = append(bare, time.Since(t0))
		}
		st := storetest.NewTestStore(b)
		ex, err := local.New(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		clock := &stepClock{}
		eng, err := engine.New(st, ex, engine.WithObserver(clock))
		if err != nil {
			b.Fatal(err)
		}
		j := plan.Job{Name: "J", Kind: plan.KindJob}
		for range steps {
			j.Steps = append(j.Steps, plan.Step{Kind: plan.StepTask, Task: "CmdLine@2", Inputs: map[string]string{"script": "true"}, Enabled: true})
		}
		p := &plan.Plan{File: "bench.yml", Stages: []plan.Stage{{Name: "__default", Jobs: []plan.Job{j}}}}
		start := time.Now()
		out, err := eng.Run(context.Background(), p, engine.Input{Pipeline: "bench", Repository: "/nonexistent", Commit: "0", Branch: "main"})
		if err != nil || out.Result != store.ResultSucceeded {
			b.Fatalf("run: %v %+v", err, out)
		}
		prev := start
		for _, end := range clock.ends {
			perStep = append(perStep, end.Sub(prev))
			prev = end
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(bare, 0.5)), "bare-p50-ms")
	b.ReportMetric(ms(percentile(perStep, 0.5)), "step-p50-ms")
	b.ReportMetric(ms(percentile(perStep, 0.5)-percentile(bare, 0.5)), "overhead-p50-ms")
	b.ReportMetric(ms(percentile(perStep, 0.99)-percentile(bare, 0.99)), "overhead-p99-ms")
}
