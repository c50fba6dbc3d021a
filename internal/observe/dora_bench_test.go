package observe_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// doraStore is a SQLite store with n deployment outcomes over the last 30
// days: 3 environments, 10 pipelines, one in ten failed.
func doraStore(b *testing.B, n int) (*store.SQLite, time.Time) {
	b.Helper()
	st := storetest.NewTestStore(b)
	now := time.Now().UTC()
	envs := []string{"staging", "production", "qa"}
	for i := range n {
		status := store.DeploySucceeded
		if i%10 == 0 {
			status = store.DeployFailed
		}
		finished := now.Add(-time.Duration(n-i) * 30 * 24 * time.Hour / time.Duration(n))
		o := store.DeployOutcome{Environment: envs[i%3], Pipeline: fmt.Sprintf("svc-%d", i%10), RunID: fmt.Sprintf("r%d", i), Job: "Deploy.Web",
			Commit: "c", CommitAt: finished.Add(-time.Hour), Status: status, FinishedAt: finished}
		if err := st.RecordDeployOutcome(b.Context(), &o); err != nil {
			b.Fatal(err)
		}
	}
	return st, now
}

// BenchmarkReportDORA is GET /api/v1/dora's work: one environment's
// report over 30 days among 10,000 outcomes.
func BenchmarkReportDORA(b *testing.B) {
	st, now := doraStore(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		r, err := observe.ReportDORA(b.Context(), st, observe.Query{Environment: "production", Window: 30 * 24 * time.Hour, Now: now})
		if err != nil || len(r.Environments) != 1 {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkDORACollect is a scrape's work when the computation is not
// reused: every environment and pipeline over 10,000 outcomes.
func BenchmarkDORACollect(b *testing.B) {
	st, now := doraStore(b, 10000)
	reg := prometheus.NewRegistry()
	reg.MustRegister(observe.NewDORACollector(st, observe.WithDORARefresh(0), observe.WithDORAClock(func() time.Time { return now })))
	b.ResetTimer()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil || len(mfs) == 0 {
			b.Fatal(err)
		}
	}
}
