package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/server/client"
	"conveyor.dev/conveyor/internal/store"
)

// waitRun asks the server for the run until it is completed.
func waitRun(t *testing.T, c *client.Client, id string) client.Run {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond) // polling another process's state
	defer tick.Stop()
	for {
		r, err := c.GetRun(t.Context(), id)
		if err == nil && r.State == string(store.StateCompleted) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not complete: %+v %v", id, r, err)
		}
		<-tick.C
	}
}

func TestServerKilledMidJobResumesTheRun(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	hold := filepath.Join(dir, "hold")
	marker := filepath.Join(dir, "marker")
	for _, f := range []string{ready, hold} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
steps:
- checkout: none
- script: echo before
  displayName: before
- script: |
    if [ -f ` + marker + ` ]; then echo resumed; exit 0; fi
    touch ` + marker + `
    for i in $(seq 1 100); do echo "line $i"; done
    echo $$ > ` + ready + `
    read x < ` + hold + `
  displayName: wait
`})
	cfg := writeServerConfig(t, repo, "")
	data := filepath.Join(dir, "data")
	srv := startServerProc(t, cfg, data)
	b, err := os.ReadFile(server.AdminTokenFile(data))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	c, err := client.New(srv.url, token)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.StartRun(t.Context(), "", "ci", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pidText, err := os.ReadFile(ready) // the step printed its 100 lines
	if err != nil {
		t.Fatal(err)
	}
	// Every line the server acknowledged before the kill stays readable.
	var acked int
	c.FollowLog(t.Context(), run.ID, "__default.Job.step2", 0, func(l client.LogLine) error {
		acked++
		if l.Text == "line 100" {
			return fmt.Errorf("seen")
		}
		return nil
	})
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	var pid int
	fmt.Sscan(string(pidText), &pid)
	syscall.Kill(-pid, syscall.SIGKILL) // the step's process group outlived the server

	srv2 := startServerProc(t, cfg, data)
	c2, err := client.New(srv2.url, token)
	if err != nil {
		t.Fatal(err)
	}
	end := waitRun(t, c2, run.ID)
	if end.Result != string(store.ResultSucceeded) {
		t.Fatalf("resumed run = %s %s, want succeeded", end.State, end.Result)
	}
	recs, err := c2.Records(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	jobAttempts := map[int]string{}
	for _, r := range recs {
		if r.Type == "job" {
			jobAttempts[r.Attempt] = r.Result
		}
	}
	if jobAttempts[1] != string(store.ResultInterrupted) || jobAttempts[2] != string(store.ResultSucceeded) {
		t.Errorf("job attempts = %v, want 1 interrupted and 2 succeeded", jobAttempts)
	}
	out, code := cli(t, "runs", "logs", run.ID, "--server", srv2.url, "--token", token)
	if code != 0 {
		t.Fatalf("runs logs --server: exit %d: %s", code, out)
	}
	for i := 1; i <= 100; i++ {
		if !strings.Contains(out, fmt.Sprintf(" line %d\n", i)) {
			t.Fatalf("line %d acknowledged before the kill is missing from:\n%s", i, out)
		}
	}
	if !strings.Contains(out, " resumed\n") {
		t.Errorf("the second attempt's output is missing:\n%s", out)
	}
	t.Logf("%d lines acknowledged before SIGKILL, all readable after the restart", acked)
}

func TestRunsAndTokensAgainstAServer(t *testing.T) {
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": "steps:\n- script: echo hello from the server\n  displayName: hi\n"})
	cfg, err := config.Load(writeServerConfig(t, repo, ""))
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	app, err := server.Start(t.Context(), server.Options{Config: cfg, DataDir: data, Listen: "127.0.0.1:0", LocalAgents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	// A token made in the server's data folder works against the API.
	out, code := cli(t, "token", "create", "--user", "ops", "--role", "operator", "--data", data)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, out)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, "cvy_") {
		t.Fatalf("token = %q", token)
	}
	if _, code := cli(t, "token", "create", "--user", "x", "--role", "god", "--data", data); code != exitBadUser {
		t.Errorf("token create --role god: exit %d, want 2", code)
	}
	t.Setenv("CONVEYOR_SERVER", app.URL())
	t.Setenv("CONVEYOR_TOKEN", token)
	c, err := client.New(app.URL(), token)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.StartRun(t.Context(), "app", "ci", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, c, run.ID); r.Result != "succeeded" {
		t.Fatalf("run = %+v", r)
	}
	out, code = cli(t, "runs", "list", "--output", "json")
	var runs []client.Run
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs) != 1 || runs[0].ID != run.ID {
		t.Fatalf("runs list via CONVEYOR_SERVER: exit %d: %s", code, out)
	}
	out, code = cli(t, "runs", "show", "#1")
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "hi: succeeded") {
		t.Errorf("runs show #1: exit %d:\n%s", code, out)
	}
	out, code = cli(t, "runs", "logs", run.ID, "--follow", "--record", "__default.Job.step2")
	if code != 0 || !strings.Contains(out, "hello from the server") {
		t.Errorf("runs logs --follow: exit %d:\n%s", code, out)
	}
	out, code = cli(t, "runs", "retry", run.ID)
	if code != 0 || !strings.Contains(out, "retry of "+run.ID) {
		t.Errorf("runs retry: exit %d:\n%s", code, out)
	}
	out, code = cli(t, "runs", "cancel", run.ID)
	if code == 0 || !strings.Contains(out, "already ended") {
		t.Errorf("runs cancel of an ended run: exit %d:\n%s", code, out)
	}
	// A manual run from the CLI, followed to its end.
	out, code = cli(t, "runs", "start", "ci", "--var", "who=cli", "--wait", "--output", "json")
	var started client.Run
	if code != 0 || json.Unmarshal([]byte(out), &started) != nil || started.Result != "succeeded" || started.Variables["who"] != "cli" || started.Event != "manual" {
		t.Errorf("runs start --wait: exit %d:\n%s", code, out)
	}
	if out, code = cli(t, "runs", "start", "nope"); code != exitBadUser || !strings.Contains(out, "nope") {
		t.Errorf("runs start of an unknown pipeline: exit %d:\n%s", code, out)
	}
	// An operator cannot create tokens.
	out, code = cli(t, "token", "create", "--user", "eve", "--role", "admin", "--server", app.URL(), "--token", token)
	if code == 0 || !strings.Contains(out, "Forbidden") {
		t.Errorf("token create by an operator: exit %d: %s", code, out)
	}
	// Approving a run with nothing pending says so.
	root := newRootCmd()
	root.SetContext(t.Context())
	err = approveOnServer(root, app.URL(), app.AdminToken, "approve", run.ID, "", "")
	if err == nil || !strings.Contains(err.Error(), "no pending approval") {
		t.Errorf("approve with nothing pending: %v", err)
	}
}
