package kubernetes_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/store"
)

// podPipeline runs job Pod on the kubernetes agent (only it offers
// "kube"), which sets an output variable that job Host, on the server's
// built-in agent, reads.
const podPipeline = `
jobs:
- job: Pod
  pool:
    demands: [kube]
  steps:
  - checkout: none
  - script: |
      echo "sources $(pwd)"
      test -x /conveyor/bin/conveyor && echo "runner installed"
      echo "##vso[task.setvariable variable=color;isOutput=true]blue"
    name: setter
- job: Host
  dependsOn: Pod
  variables:
    color: $[ dependencies.Pod.outputs['setter.color'] ]
  steps:
  - checkout: none
  - script: echo "color is $(color)"
`

// TestAgentRunsAJobInAPod runs a server, leases a job over HTTP to an agent
// with the kubernetes backend, and checks the step's output and output
// variable reach the server: once with the agent in this process, once
// with `conveyor agent --backend kubernetes`, the binary in the runner
// image.
func TestAgentRunsAJobInAPod(t *testing.T) {
	env.DumpLogsOnFailure(t)
	t.Run("in-process", func(t *testing.T) {
		runOnPodAgent(t, func(t *testing.T, app *server.App, token, ns string) {
			conn, err := agent.NewHTTPConn(app.URL(), token, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := agent.New(conn, newExecutor(t, ns), "kube-agent",
				agent.WithCapabilities(map[string]string{"kube": "yes"}), agent.WithFlushInterval(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); a.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
		})
	})
	t.Run("conveyor agent", func(t *testing.T) {
		runOnPodAgent(t, func(t *testing.T, app *server.App, token, ns string) {
			cmd := exec.Command(conveyorBin, "agent", "--server", app.URL(), "--token", token, "--name", "kube-agent",
				"--capability", "kube", "--backend", "kubernetes", "--kubeconfig", env.Kubeconfig, "--namespace", ns,
				"--runner-image", runnerRef)
			var logs tailWriter
			cmd.Stdout, cmd.Stderr = &logs, &logs
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("conveyor agent:\n%s", logs.String())
				}
			})
		})
	})
}

// runOnPodAgent starts a server, an agent with start, and runs podPipeline.
func runOnPodAgent(t *testing.T, start func(t *testing.T, app *server.App, token, ns string)) {
	ns := namespace(t)
	repo := gitRepo(t, map[string]string{"ci.yml": podPipeline})
	cfg := config.Default()
	cfg.Repositories = []config.Repository{{Name: "app", URL: repo, Pipelines: map[string]string{"ci": "ci.yml"}}}
	app, err := server.Start(t.Context(), server.Options{Config: cfg, DataDir: t.TempDir(), Listen: "127.0.0.1:0", LocalAgents: 1, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	token, err := server.CreateToken(t.Context(), app.Store, "kube-agent", server.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	start(t, app, token, ns)

	var run server.RunView
	if st := call(t, app, "POST", "/api/v1/runs", `{"pipeline":"ci"}`, &run); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for run.State != store.StateCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 3 minutes", run.ID, run.State)
		}
		time.Sleep(100 * time.Millisecond)
		call(t, app, "GET", "/api/v1/runs/"+run.ID, "", &run)
	}
	var logs []server.LogView
	call(t, app, "GET", "/api/v1/runs/"+run.ID+"/logs", "", &logs)
	var text []string
	for _, l := range logs {
		for _, line := range l.Lines {
			text = append(text, line.Text)
		}
	}
	if run.Result != store.ResultSucceeded {
		t.Fatalf("run %s, want succeeded; logs:\n%s", run.Result, strings.Join(text, "\n"))
	}
	for _, want := range []string{"sources /__w/1/s", "runner installed", "color is blue"} {
		if !contains(text, want) {
			t.Errorf("no line %q in the run's logs:\n%s", want, strings.Join(text, "\n"))
		}
	}
	var leases []server.LeaseView
	call(t, app, "GET", "/api/v1/leases", "", &leases)
	kube := 0
	for _, l := range leases {
		if l.Agent == "kube-agent" && strings.HasSuffix(l.Job, "Pod") && l.State == store.LeaseDone {
			kube++
		}
	}
	if kube != 1 {
		t.Errorf("leases %+v: want job Pod done by kube-agent", leases)
	}
}

// tailWriter keeps what a process writes, for the test's log.
type tailWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// call calls the server's API as admin and decodes a JSON answer into out.
func call(t *testing.T, app *server.App, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, app.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+app.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// gitRepo makes a git repository with files committed on main.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "first"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return dir
}
