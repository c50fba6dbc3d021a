package store_test

import (
	"fmt"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// The hot paths of a server, on SQLite and on PostgreSQL side by side
// (go test -bench Hot -run ^$ ./internal/store/). PostgreSQL is the test
// cluster of pgtest on loopback TCP (synchronous_commit=off, as SQLite's
// synchronous=NORMAL; fsync=off, which only spares its checkpoints), so
// the figures include a network round trip per statement.

var hotDBs = []struct {
	name string
	open storetest.Opener
}{
	{"sqlite", storetest.NewTestStore},
	{"postgres", storetest.NewPostgresStore},
}

// BenchmarkHotRunWithSteps is one run of a job of five steps as the engine
// records it: CreateRun, the job's and each step's record (started, then
// finished), the run's end.
func BenchmarkHotRunWithSteps(b *testing.B) {
	for _, db := range hotDBs {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b)
			ctx := b.Context()
			now := time.Now()
			for b.Loop() {
				r := store.Run{Pipeline: "ci", State: store.StateRunning, StartedAt: now}
				if err := s.CreateRun(ctx, &r); err != nil {
					b.Fatal(err)
				}
				job := store.Record{RunID: r.ID, ID: "Build.Job", Type: store.RecordJob, Name: "Job", Attempt: 1, State: store.StateRunning, StartedAt: now}
				if err := s.UpsertRecord(ctx, job); err != nil {
					b.Fatal(err)
				}
				for i := range 5 {
					step := store.Record{RunID: r.ID, ID: fmt.Sprint("Build.Job.step", i), ParentID: "Build.Job", Type: store.RecordStep,
						Order: i, Attempt: 1, State: store.StateRunning, StartedAt: now}
					if err := s.UpsertRecord(ctx, step); err != nil {
						b.Fatal(err)
					}
					step.State, step.Result, step.FinishedAt, step.LogLines = store.StateCompleted, store.ResultSucceeded, now, 42
					if err := s.UpsertRecord(ctx, step); err != nil {
						b.Fatal(err)
					}
				}
				job.State, job.Result, job.FinishedAt = store.StateCompleted, store.ResultSucceeded, now
				if err := s.UpsertRecord(ctx, job); err != nil {
					b.Fatal(err)
				}
				if err := s.UpdateRun(ctx, r.ID, func(x *store.Run) error {
					x.State, x.Result, x.FinishedAt = store.StateCompleted, store.ResultSucceeded, now
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}

// BenchmarkHotLease is one job handed to an agent: enqueued, acquired,
// renewed once, finished; with 8 agents at once (RunParallel), each
// acquiring its own job.
func BenchmarkHotLease(b *testing.B) {
	for _, db := range hotDBs {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b)
			ctx := b.Context()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l := store.Lease{RunID: "R", JobID: "Build.Job", Spec: []byte(`{"jobId":"Build.Job"}`)}
					if err := s.EnqueueLease(ctx, &l); err != nil {
						b.Fatal(err)
					}
					exp := time.Now().Add(time.Minute)
					if _, err := s.AcquireLease(ctx, l.ID, "agent", "tok", exp); err != nil {
						b.Fatal(err)
					}
					if err := s.RenewLease(ctx, l.ID, "tok", exp.Add(time.Minute)); err != nil {
						b.Fatal(err)
					}
					if err := s.FinishLease(ctx, l.ID, "tok", store.LeaseDone); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkHotListRecords reads the timeline of a run of 50 records, as the
// web UI and the API do on every refresh.
func BenchmarkHotListRecords(b *testing.B) {
	for _, db := range hotDBs {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b)
			ctx := b.Context()
			r := store.Run{Pipeline: "ci", State: store.StateRunning}
			if err := s.CreateRun(ctx, &r); err != nil {
				b.Fatal(err)
			}
			for i := range 50 {
				if err := s.UpsertRecord(ctx, store.Record{RunID: r.ID, ID: fmt.Sprint("S.J.step", i), Attempt: 1, Order: i,
					Outputs: map[string]string{"out": "value"}}); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				recs, err := s.ListRecords(ctx, r.ID)
				if err != nil || len(recs) != 50 {
					b.Fatalf("ListRecords = %d records, %v", len(recs), err)
				}
			}
		})
	}
}
