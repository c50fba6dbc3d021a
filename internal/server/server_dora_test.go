package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
)

// TestDORAEndpointAndMetrics runs a deployment pipeline on a whole server
// and reads its DORA metrics from GET /api/v1/dora and GET /metrics.
func TestDORAEndpointAndMetrics(t *testing.T) {
	repo := gitRepo(t, map[string]string{"cd.yml": `
trigger: none
stages:
- stage: Production
  jobs:
  - deployment: Web
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deployed
`})
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"cd": "cd.yml"}}}, nil)
	token := app.AdminToken
	var run RunView
	if st := api(t, app, token, "POST", "/api/v1/runs", map[string]any{"pipeline": "cd"}, &run); st != http.StatusCreated {
		t.Fatalf("POST /api/v1/runs: %d", st)
	}
	if end := ends.wait(t, run.ID); end.Result != store.ResultSucceeded {
		t.Fatalf("run: %s", end.Result)
	}
	// The outcome is written in the background: poll with a deadline.
	var rep observe.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := api(t, app, token, "GET", "/api/v1/dora?environment=production&window=7d", nil, &rep); st != http.StatusOK {
			t.Fatalf("GET /api/v1/dora: %d", st)
		}
		if len(rep.Environments) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the condition, not synchronising
	}
	if rep.Window != "7d" || len(rep.Environments) != 1 {
		t.Fatalf("report %+v, want one environment over 7d", rep)
	}
	if d := rep.Environments[0]; d.Environment != "production" || d.Deployments != 1 || d.Total != 1 || d.ChangeFailureRate != 0 || d.LeadTime.Count != 1 {
		t.Errorf("production: %+v, want one successful deployment with its lead time", d)
	}
	var none observe.Report
	if st := api(t, app, token, "GET", "/api/v1/dora?environment=staging", nil, &none); st != http.StatusOK || none.Window != "30d" || len(none.Environments) != 0 {
		t.Errorf("staging (no deployment): %d %+v, want an empty 30d report", st, none)
	}
	if st := api(t, app, token, "GET", "/api/v1/dora?window=soon", nil, nil); st != http.StatusBadRequest {
		t.Errorf("window=soon: %d, want 400", st)
	}
	if st := api(t, app, "", "GET", "/api/v1/dora", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", st)
	}

	resp, err := http.Get(app.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`conveyor_dora_deployments{environment="production",pipeline="cd"} 1`,
		`conveyor_dora_change_failure_rate{environment="production",pipeline="cd"} 0`,
		`conveyor_dora_lead_time_seconds_count{environment="production",pipeline="cd"} 1`,
		`conveyor_deployments_total{environment="production",pipeline="cd",status="succeeded"} 1`,
		`conveyor_runs_finished_total{pipeline="cd",result="succeeded"} 1`,
		`conveyor_dora_up 1`,
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}
