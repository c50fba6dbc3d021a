package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestServerOnPostgresResumesAfterRestart runs a server whose store is
// PostgreSQL: stopped while a run is between its steps, it leaves the run
// to the next start, which resumes it, keeps the admin token, and has
// written nothing of the store to the data folder.
func TestServerOnPostgresResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	// The job runs again whole after the restart: it holds only once.
	ready, hold, held := filepath.Join(dir, "ready"), filepath.Join(dir, "hold"), filepath.Join(dir, "held")
	for _, f := range []string{ready, hold} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	repo := gitRepo(t, map[string]string{"ci.yml": `
steps:
- checkout: none
- script: |
    echo holding
    if [ ! -e ` + held + ` ]; then echo $$ > ` + ready + `; read x < ` + hold + `; touch ` + held + `; fi
  displayName: hold
- script: echo after the restart
  displayName: after
`})
	cfg := config.Default()
	cfg.Repositories = []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "ci.yml"}}}
	db, data := pgtest.URL(t), t.TempDir()
	opts := func(obs *runEnds) Options {
		return Options{Config: cfg, DataDir: data, Database: db, Listen: "127.0.0.1:0", Observer: obs, LocalAgents: 1, Grace: 10 * time.Minute}
	}

	first := newRunEnds()
	app, err := Start(t.Context(), opts(first))
	if err != nil {
		t.Fatal(err)
	}
	token := app.AdminToken
	var run RunView
	if st := api(t, app, token, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &run); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	if _, err := os.ReadFile(ready); err != nil { // the first step runs
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- app.Close() }()
	<-app.Server.stopping
	if err := os.WriteFile(hold, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	first.mu.Lock()
	_, ended := first.ended[run.ID]
	first.mu.Unlock()
	if ended {
		t.Fatal("the run ended before the restart; the test needs it left to resume")
	}
	if _, err := os.Stat(filepath.Join(data, "conveyor.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder has a SQLite database (%v): the store is not PostgreSQL", err)
	}

	// The next start resumes what the stopped server left running (the
	// default resumes only runs of dead processes; this one is alive).
	second := newRunEnds()
	o := opts(second)
	o.Resume = func(ctx context.Context, eng *engine.Engine) ([]*engine.Started, error) {
		st, err := OpenDatabase(ctx, db, data)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		runs, err := st.ListRuns(ctx, store.RunFilter{State: store.StateRunning})
		if err != nil {
			return nil, err
		}
		var out []*engine.Started
		for _, r := range runs {
			s, err := eng.Resume(ctx, r.ID)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	app2, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app2.Close() })
	if app2.AdminToken != "" {
		t.Error("the second start made another admin token: the first was not kept")
	}
	if end := second.wait(t, run.ID); end.Result != store.ResultSucceeded {
		t.Fatalf("resumed run = %s, want succeeded", end.Result)
	}
	if got := logText(t, app2, token, run.ID, "after"); !strings.Contains(got, "after the restart") {
		t.Errorf("log of the step after the restart = %q", got)
	}
	if got := logText(t, app2, token, run.ID, "hold"); !strings.Contains(got, "holding") {
		t.Errorf("log of the step before the restart = %q", got)
	}
}
