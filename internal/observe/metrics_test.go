package observe_test

import (
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
)

// TestApprovalWait: a stage held by its checks from the first waiting
// record to the next state counts once, with the wait by the metrics'
// clock.
func TestApprovalWait(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	m := observe.NewMetrics(observe.WithoutProcessMetrics(), observe.WithMetricsClock(func() time.Time { return now }))
	m.RunChanged(store.Run{ID: "r1", Pipeline: "cd", State: store.StateRunning, CreatedAt: now})
	stage := store.Record{RunID: "r1", ID: "Production", Type: store.RecordStage, State: store.StateWaiting, Attempt: 1}
	m.RecordChanged(stage)
	now = now.Add(90 * time.Second)
	m.RecordChanged(stage) // still waiting: not a second wait
	now = now.Add(10 * time.Minute)
	stage.State = store.StateRunning
	m.RecordChanged(stage)
	text := gatherText(t, m)
	for _, line := range []string{
		`conveyor_approval_wait_seconds_count{pipeline="cd"} 1`,
		`conveyor_approval_wait_seconds_sum{pipeline="cd"} 690`,
		`conveyor_approval_wait_seconds_bucket{pipeline="cd",le="300"} 0`,
		`conveyor_approval_wait_seconds_bucket{pipeline="cd",le="900"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, text)
		}
	}
}
