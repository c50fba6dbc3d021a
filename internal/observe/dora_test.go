package observe

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"conveyor.dev/conveyor/internal/store"
)

func TestCompute(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	out := func(env, pipeline string, status store.DeployStatus, commitH, doneH float64) store.DeployOutcome {
		o := store.DeployOutcome{Environment: env, Pipeline: pipeline, Status: status, FinishedAt: at(doneH)}
		if commitH >= 0 {
			o.CommitAt = at(commitH)
		}
		return o
	}
	outcomes := []store.DeployOutcome{
		out("production", "web", store.DeploySucceeded, 0, 2),  // lead 2h
		out("production", "api", store.DeployFailed, 1, 3),     // api incident opens at 3h
		out("production", "web", store.DeployDegraded, 3, 4),   // lead 1h; web incident opens at 4h
		out("production", "web", store.DeployFailed, 4, 5),     // still the same web incident
		out("production", "api", store.DeploySucceeded, 1, 6),  // lead 5h; api restored after 3h
		out("production", "web", store.DeploySucceeded, -1, 8), // lead unknown; web restored after 4h
		out("production", "api", store.DeployFailed, 7, 9),     // api: unrestored
		out("staging", "web", store.DeploySucceeded, 0, 1),     // lead 1h
	}
	window := 10 * 24 * time.Hour
	got := Compute(outcomes, window, false)
	want := []DORA{
		{Environment: "production", Deployments: 4, Failures: 4, Total: 7, DeploymentsPerDay: 0.4,
			LeadTime:          Durations{Count: 3, MedianSeconds: 2 * 3600, P90Seconds: 5 * 3600, MeanSeconds: 8 * 3600 / 3.0},
			ChangeFailureRate: 4.0 / 7, TimeToRestore: Durations{Count: 2, MedianSeconds: 3 * 3600, P90Seconds: 4 * 3600, MeanSeconds: 3.5 * 3600},
			Unrestored: 1},
		{Environment: "staging", Deployments: 1, Total: 1, DeploymentsPerDay: 0.1, LeadTime: Durations{Count: 1, MedianSeconds: 3600, P90Seconds: 3600, MeanSeconds: 3600}},
	}
	opts := []cmp.Option{cmpopts.IgnoreUnexported(DORA{}), cmpopts.EquateApprox(0, 1e-9)}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("Compute by environment (-want +got):\n%s", diff)
	}

	byPipeline := Compute(outcomes, window, true)
	var names []string
	for _, d := range byPipeline {
		names = append(names, d.Environment+"/"+d.Pipeline)
	}
	if diff := cmp.Diff([]string{"production/api", "production/web", "staging/web"}, names); diff != "" {
		t.Fatalf("groups by pipeline (-want +got):\n%s", diff)
	}
	api, web := byPipeline[0], byPipeline[1]
	if api.Total != 3 || api.Failures != 2 || api.Unrestored != 1 || api.TimeToRestore.Count != 1 || api.TimeToRestore.MedianSeconds != 3*3600 {
		t.Errorf("production/api: %+v", api)
	}
	if web.Total != 4 || web.Failures != 2 || web.Unrestored != 0 || web.TimeToRestore.MedianSeconds != 4*3600 {
		t.Errorf("production/web: %+v", web)
	}
	if got := Compute(nil, window, true); len(got) != 0 {
		t.Errorf("Compute of nothing = %+v", got)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute} {
		got, err := ParseWindow(in)
		if err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-1d", "d", "soon", "100000d", "-5m"} {
		if _, err := ParseWindow(in); err == nil {
			t.Errorf("ParseWindow(%q) accepted", in)
		}
	}
	if got := FormatWindow(30 * 24 * time.Hour); got != "30d" {
		t.Errorf("FormatWindow(30 days) = %q", got)
	}
}
