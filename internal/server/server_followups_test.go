package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/forge"
	"conveyor.dev/conveyor/internal/store"
)

// stuckReporter blocks on the completed status of a pipeline's run until
// its context ends: a server that stops (or dies) after a run completed
// and before its follow-ups ran.
type stuckReporter struct {
	pipeline string
	stuck    chan string
}

func (s *stuckReporter) RunChanged(ctx context.Context, run forge.Run) error {
	if run.Pipeline == s.pipeline && run.State == string(store.StateCompleted) {
		s.stuck <- run.RunID
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

const cdAfterCI = `trigger: none
pr: none
resources:
  pipelines:
  - pipeline: ci
    source: ci
    trigger: true
steps:
- script: echo deploying $(resources.pipeline.ci.runID)
  displayName: deploy
`

// TestCompletionTriggerSurvivesAStop stops a server after a CI run
// completed but before its completion trigger started CD: the next start
// on the same data folder starts CD for it, once.
func TestCompletionTriggerSurvivesAStop(t *testing.T) {
	repo := gitRepo(t, map[string]string{"ci.yml": "trigger: none\nsteps:\n- script: echo built\n", "cd.yml": cdAfterCI})
	cfg := config.Default()
	cfg.Repositories = []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "ci.yml", "cd": "cd.yml"}}}
	data := t.TempDir()
	stuck := &stuckReporter{pipeline: "ci", stuck: make(chan string, 1)}
	first := newAllRuns()
	app, err := Start(t.Context(), Options{Config: cfg, DataDir: data, Listen: "127.0.0.1:0", Observer: first, LocalAgents: 1, Reporter: stuck})
	if err != nil {
		t.Fatal(err)
	}
	var ci RunView
	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &ci); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	if id := <-stuck.stuck; id != ci.ID {
		t.Fatalf("stuck on run %s, want %s", id, ci.ID)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if n := first.count("cd"); n != 0 {
		t.Fatalf("%d CD runs before the stop, want none (the test stops the server before)", n)
	}

	second := newAllRuns()
	app2, err := Start(t.Context(), Options{Config: cfg, DataDir: data, Listen: "127.0.0.1:0", Observer: second, LocalAgents: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app2.Close() })
	cd := second.wait(t, "the CD run after the restart", func(r store.Run) bool {
		return r.Pipeline == "cd" && r.State == store.StateCompleted
	})
	if cd.Result != store.ResultSucceeded || cd.Event != store.EventPipeline {
		t.Fatalf("CD run = %s %s, want a succeeded pipeline-triggered run", cd.Event, cd.Result)
	}
	if got := logText(t, app2, app.AdminToken, cd.ID, "deploy"); !strings.Contains(got, "deploying "+ci.ID) {
		t.Errorf("CD log = %q, want the CI run's ID", got)
	}
	// Both completions are noted as followed up: a later start does not
	// start CD again.
	if err := app2.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), filepath.Join(data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{ci.ID, cd.ID} {
		if _, ok, err := st.GetTriggerState(t.Context(), followDonePrefix+id); err != nil || !ok {
			t.Errorf("run %s not noted as followed up (%v)", id, err)
		}
	}
}
