package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestStoppingServerLetsARemoteAgentFinishItsStep stops a server (as
// SIGTERM does) while a remote agent runs a step: the server refuses new
// runs and webhook deliveries at once (503), keeps serving the agent so
// it reports the step's end, starts no further step, and stops without
// waiting for its grace period to end.
func TestStoppingServerLetsARemoteAgentFinishItsStep(t *testing.T) {
	dir := t.TempDir()
	ready, hold := filepath.Join(dir, "ready"), filepath.Join(dir, "hold")
	for _, f := range []string{ready, hold} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	repo := gitRepo(t, map[string]string{"ci.yml": `
pool:
  demands: [remote]
steps:
- checkout: none
- script: |
    echo holding
    echo $$ > ` + ready + `
    read x < ` + hold + `
    echo released
  displayName: hold
- script: echo after
  displayName: after
`})
	var logs lockedBuffer
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, WebhookSecret: "s", Pipelines: map[string]string{"ci": "ci.yml"}}}, func(o *Options) {
		o.Grace = 10 * time.Minute
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	httpAgent(t, app, "remote-1", nil, agent.WithCapabilities(map[string]string{"remote": "yes"}))
	var run RunView
	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &run); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	if _, err := os.ReadFile(ready); err != nil { // the step runs on the remote agent
		t.Fatal(err)
	}

	closed := make(chan error, 1)
	go func() { closed <- app.Close() }()
	<-app.Server.stopping
	var refusal apiError
	if st := apiCall(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &refusal); st != http.StatusServiceUnavailable || !strings.Contains(refusal.Error, "stopping") {
		t.Errorf("POST runs while stopping = %d %q, want 503 saying the server is stopping", st, refusal.Error)
	}
	resp, err := http.Post(app.URL()+"/webhooks/gitea", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("webhook while stopping = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Live logs are not followed on a stopping server: clients come back.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", app.URL()+"/api/v1/runs/"+run.ID+"/logs/__default.Job.step1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+app.AdminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("log stream while stopping = %d, want 503", resp.StatusCode)
	}

	if err := os.WriteFile(hold, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if strings.Contains(logs.String(), "end of the grace period") {
		t.Errorf("the server waited for its whole grace period:\n%s", logs.String())
	}
	ends.mu.Lock()
	recs := ends.records[run.ID]
	ends.mu.Unlock()
	if h := recs["hold"]; h.State != store.StateCompleted || h.Result != store.ResultSucceeded {
		t.Errorf("step hold = %s %s, want completed succeeded (its end reported by the remote agent while stopping)", h.State, h.Result)
	}
	if a := recs["after"]; a.State == store.StateCompleted {
		t.Errorf("step after = %s %s, want not run by a stopping server", a.State, a.Result)
	}
	if r, ended := ends.ended[run.ID]; ended {
		t.Errorf("the run ended %s; want it left to resume at the next start; records %+v", r.Result, recs)
	}
}
