package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

type failingLister struct{ err error }

func (f failingLister) ListDeployOutcomes(context.Context, store.DeployOutcomeFilter) ([]store.DeployOutcome, error) {
	return nil, f.err
}

func TestDORACollector(t *testing.T) {
	st := storetest.NewTestStore(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i, o := range []store.DeployOutcome{
		{Environment: "production", Pipeline: "cd", Status: store.DeploySucceeded, CommitAt: now.Add(-50 * time.Hour), FinishedAt: now.Add(-48 * time.Hour)},
		{Environment: "production", Pipeline: "cd", Status: store.DeployFailed, FinishedAt: now.Add(-24 * time.Hour)},
		{Environment: "production", Pipeline: "cd", Status: store.DeploySucceeded, CommitAt: now.Add(-24 * time.Hour), FinishedAt: now.Add(-23 * time.Hour)},
		{Environment: "production", Pipeline: "cd", Status: store.DeploySucceeded, FinishedAt: now.Add(-40 * 24 * time.Hour)}, // outside the window
	} {
		o.RunID, o.Job = "r"+string(rune('a'+i)), "Deploy.Web"
		if err := st.RecordDeployOutcome(t.Context(), &o); err != nil {
			t.Fatal(err)
		}
	}
	m := observe.NewMetrics(observe.WithoutProcessMetrics())
	if err := m.Register(observe.NewDORACollector(st, observe.WithDORAClock(func() time.Time { return now }))); err != nil {
		t.Fatal(err)
	}
	text := gatherText(t, m)
	for _, line := range []string{
		`conveyor_dora_deployments{environment="production",pipeline="cd"} 2`,
		`conveyor_dora_deployment_attempts{environment="production",pipeline="cd"} 3`,
		`conveyor_dora_failed_deployments{environment="production",pipeline="cd"} 1`,
		`conveyor_dora_change_failure_rate{environment="production",pipeline="cd"} 0.3333333333333333`,
		`conveyor_dora_deployment_frequency_per_day{environment="production",pipeline="cd"} 0.06666666666666667`,
		`conveyor_dora_unrestored_failures{environment="production",pipeline="cd"} 0`,
		`conveyor_dora_lead_time_seconds_bucket{environment="production",pipeline="cd",le="3600"} 1`,
		`conveyor_dora_lead_time_seconds_bucket{environment="production",pipeline="cd",le="10800"} 2`,
		`conveyor_dora_lead_time_seconds_count{environment="production",pipeline="cd"} 2`,
		`conveyor_dora_time_to_restore_seconds_sum{environment="production",pipeline="cd"} 3600`,
		`conveyor_dora_window_seconds 2.592e+06`,
		`conveyor_dora_up 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks %q:\n%s", line, text)
		}
	}

	broken := observe.NewMetrics(observe.WithoutProcessMetrics())
	if err := broken.Register(observe.NewDORACollector(failingLister{errors.New("database is locked")})); err != nil {
		t.Fatal(err)
	}
	if text := gatherText(t, broken); !strings.Contains(text, "conveyor_dora_up 0\n") {
		t.Errorf("a failing store does not set conveyor_dora_up to 0:\n%s", text)
	}
}
