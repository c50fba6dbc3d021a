package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/server/client"
	"conveyor.dev/conveyor/internal/store"
)

// writeServerConfig writes a conveyor.yaml naming repo as "app" with
// pipeline ci, and the extra YAML given.
func writeServerConfig(t *testing.T, repo, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "conveyor.yaml")
	body := fmt.Sprintf("repositories:\n- name: app\n  url: %s\n  pipelines: {ci: azure-pipelines.yml}\n%s", repo, extra)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverProc is `conveyor server` in a child process whose whole stderr
// is kept, and whose exit can be awaited.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
	err    error
}

func (p *serverProc) output() string { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }

// startServerProc starts `conveyor server` on data with extra flags and
// waits until it listens.
func startServerProc(t *testing.T, cfg, data string, flags ...string) *serverProc {
	t.Helper()
	args := append([]string{"server", "--config", cfg, "--data", data, "--listen", "127.0.0.1:0", "--local-agents", "2"}, flags...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CONVEYOR_TEST_MAIN=1")
	// Its own process group, so that the git processes it runs go with it
	// at the end of the test even when the server itself was killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, exited: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "conveyor server listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				listening <- u
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-p.exited })
	select {
	case p.url = <-listening:
	case <-p.exited:
		t.Fatalf("the server exited before listening: %v\n%s", p.err, p.output())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the server did not listen within 2 minutes:\n%s", p.output())
	}
	return p
}

// wait waits for the server to exit and returns its exit error.
func (p *serverProc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		t.Fatalf("the server did not exit within %v:\n%s", within, p.output())
		return nil
	}
}

// adminClient reads the admin token of data and returns a client of url.
func adminClient(t *testing.T, url, data string) (*client.Client, string) {
	t.Helper()
	b, err := os.ReadFile(server.AdminTokenFile(data))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	c, err := client.New(url, token)
	if err != nil {
		t.Fatal(err)
	}
	return c, token
}

// waitRunState asks the server (another process) for the run until ok
// holds.
func waitRunState(t *testing.T, c *client.Client, id string, ok func(client.Run) bool) client.Run {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := c.GetRun(t.Context(), id)
		if err == nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not reach the state awaited: %+v %v", id, r, err)
		}
		<-tick.C
	}
}

// TestServerKilledWhileWaitingForApprovalResumes kills the server with
// SIGKILL while a run waits for the production approval; after a restart
// on the same data folder the run still waits on the same approval, an
// approval through the CLI releases it and the run succeeds.
func TestServerKilledWhileWaitingForApprovalResumes(t *testing.T) {
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
stages:
- stage: Build
  jobs:
  - job: Build
    steps:
    - checkout: none
    - script: echo built
      displayName: build
- stage: Production
  jobs:
  - deployment: Deploy
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deployed
            displayName: deploy
`})
	cfg := writeServerConfig(t, repo, `environments:
  production:
    checks:
      approvals: {approvers: [bob], requesterCannotApprove: true}
users:
  bob: {role: approver}
`)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerProc(t, cfg, data)
	c, _ := adminClient(t, srv.url, data)
	bobToken, err := c.CreateToken(t.Context(), "bob", "approver")
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.StartRun(t.Context(), "", "ci", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitRunState(t, c, run.ID, func(r client.Run) bool { return r.State == string(store.StateWaiting) })
	before, err := c.ListApprovals(t.Context(), run.ID, "pending")
	if err != nil || len(before) != 1 {
		t.Fatalf("pending approvals before the kill: %v %v, want one", before, err)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait(t, time.Minute)

	srv2 := startServerProc(t, cfg, data)
	c2, _ := adminClient(t, srv2.url, data)
	waitRunState(t, c2, run.ID, func(r client.Run) bool { return r.State == string(store.StateWaiting) })
	after, err := c2.ListApprovals(t.Context(), run.ID, "pending")
	if err != nil || len(after) != 1 || after[0].ID != before[0].ID {
		t.Fatalf("pending approvals after the restart: %v %v, want the same one as before: %v", after, err, before)
	}
	out, code := cli(t, "approve", run.ID, "--server", srv2.url, "--token", bobToken, "--comment", "after the restart")
	if code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("conveyor approve: exit %d: %s", code, out)
	}
	end := waitRun(t, c2, run.ID)
	if end.Result != string(store.ResultSucceeded) {
		t.Fatalf("run after approval = %s %s, want succeeded\n%s", end.State, end.Result, srv2.output())
	}
	all, err := c2.ListApprovals(t.Context(), run.ID, "")
	if err != nil || len(all) != 1 || all[0].State != "approved" || len(all[0].Decisions) != 1 || all[0].Decisions[0].User != "bob" {
		t.Errorf("approvals of the run = %v %v, want the one approval, approved by bob", all, err)
	}
	out, code = cli(t, "runs", "logs", run.ID, "--server", srv2.url, "--token", bobToken)
	if code != 0 || !strings.Contains(out, " built\n") || !strings.Contains(out, " deployed\n") {
		t.Errorf("runs logs: exit %d:\n%s", code, out)
	}
}

// holdingPipeline is a job whose second step prints lines, tells the test
// its process group through ready and waits on hold; the second time the
// job runs (after a restart) it passes at once.
func holdingPipeline(dir string) (pipeline, ready, hold string) {
	ready, hold = filepath.Join(dir, "ready"), filepath.Join(dir, "hold")
	marker := filepath.Join(dir, "marker")
	return `
steps:
- checkout: none
- script: echo before
  displayName: before
- script: |
    if [ -f ` + marker + ` ]; then echo resumed; exit 0; fi
    touch ` + marker + `
    for i in $(seq 1 50); do echo "line $i"; done
    echo $$ > ` + ready + `
    read x < ` + hold + `
    echo released
  displayName: wait
- script: echo after
  displayName: after
`, ready, hold
}

// TestServerSIGTERMFinishesTheStepAndResumes sends SIGTERM while a step
// runs: the server stops taking work at once (new runs are refused), lets
// the running step finish, starts no further step, exits 0 before its
// grace period ends, and at the next start the run resumes and succeeds
// with every line acknowledged before the stop.
func TestServerSIGTERMFinishesTheStepAndResumes(t *testing.T) {
	dir := t.TempDir()
	pipeline, ready, hold := holdingPipeline(dir)
	for _, f := range []string{ready, hold} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeServerConfig(t, writeRepo(t, "app", map[string]string{"azure-pipelines.yml": pipeline}), "")
	data := filepath.Join(dir, "data")
	const grace = 2 * time.Minute
	srv := startServerProc(t, cfg, data, "--grace", grace.String())
	c, token := adminClient(t, srv.url, data)
	run, err := c.StartRun(t.Context(), "", "ci", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(ready); err != nil { // the step printed its lines and waits
		t.Fatal(err)
	}
	stopped := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// No new work once stopping: the API refuses new runs.
	refused := waitFor(t, func() bool {
		_, err := c.StartRun(t.Context(), "", "ci", "", nil)
		return err != nil
	})
	if !refused {
		t.Fatal("the stopping server still starts runs")
	}
	// The running step is let finish.
	if err := os.WriteFile(hold, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(t, grace); err != nil {
		t.Fatalf("server exit after SIGTERM: %v, want 0\n%s", err, srv.output())
	}
	t.Logf("the server exited %v after SIGTERM (grace %v)", time.Since(stopped).Round(time.Millisecond), grace)
	if strings.Contains(srv.output(), "still running at the end of the grace period") {
		t.Errorf("the server waited for the whole grace period:\n%s", srv.output())
	}

	srv2 := startServerProc(t, cfg, data)
	c2, _ := adminClient(t, srv2.url, data)
	end := waitRun(t, c2, run.ID)
	if end.Result != string(store.ResultSucceeded) {
		t.Fatalf("resumed run = %s %s, want succeeded\n%s", end.State, end.Result, srv2.output())
	}
	out, code := cli(t, "runs", "logs", run.ID, "--server", srv2.url, "--token", token)
	if code != 0 {
		t.Fatalf("runs logs: exit %d: %s", code, out)
	}
	for _, want := range []string{" released\n", " resumed\n", " after\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for i := 1; i <= 50; i++ {
		if !strings.Contains(out, fmt.Sprintf(" line %d\n", i)) {
			t.Fatalf("line %d, acknowledged before SIGTERM, is missing:\n%s", i, out)
		}
	}
}

// TestServerSIGTERMGraceEndsLeavesTheRunToResume sends SIGTERM while a
// step runs longer than the grace period: the server exits 0 once the
// grace period ends, and the step it stopped does not fail the run: at
// the next start the run resumes and succeeds.
func TestServerSIGTERMGraceEndsLeavesTheRunToResume(t *testing.T) {
	dir := t.TempDir()
	pipeline, ready, hold := holdingPipeline(dir)
	for _, f := range []string{ready, hold} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeServerConfig(t, writeRepo(t, "app", map[string]string{"azure-pipelines.yml": pipeline}), "")
	data := filepath.Join(dir, "data")
	srv := startServerProc(t, cfg, data, "--grace", "1s")
	c, token := adminClient(t, srv.url, data)
	run, err := c.StartRun(t.Context(), "", "ci", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pidText, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(pidText), &pid)
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(t, time.Minute); err != nil {
		t.Fatalf("server exit after SIGTERM: %v, want 0\n%s", err, srv.output())
	}
	syscall.Kill(-pid, syscall.SIGKILL) // in case the step outlived the server

	srv2 := startServerProc(t, cfg, data)
	c2, _ := adminClient(t, srv2.url, data)
	end := waitRun(t, c2, run.ID)
	if end.Result != string(store.ResultSucceeded) {
		out, _ := cli(t, "runs", "show", run.ID, "--server", srv2.url, "--token", token)
		t.Fatalf("resumed run = %s %s, want succeeded\n%s\nfirst server:\n%s", end.State, end.Result, out, srv.output())
	}
	out, code := cli(t, "runs", "logs", run.ID, "--server", srv2.url, "--token", token)
	if code != 0 || !strings.Contains(out, " resumed\n") || !strings.Contains(out, " after\n") {
		t.Errorf("runs logs: exit %d:\n%s", code, out)
	}
	for i := 1; i <= 50; i++ {
		if !strings.Contains(out, fmt.Sprintf(" line %d\n", i)) {
			t.Fatalf("line %d, acknowledged before SIGTERM, is missing:\n%s", i, out)
		}
	}
}

// waitFor polls ok (state of another process) for up to a minute.
func waitFor(t *testing.T, ok func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
