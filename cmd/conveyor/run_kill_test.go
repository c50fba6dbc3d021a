package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"conveyor.dev/conveyor/internal/store"
)

// TestMain lets a test re-execute this test binary as the conveyor CLI:
// with CONVEYOR_TEST_MAIN=1 it runs main() instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CONVEYOR_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// cli runs the CLI in this process and returns its output and exit code.
func cli(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	code := 0
	if err != nil {
		code = exitFailed
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		fmt.Fprintln(&out, err)
	}
	return out.String(), code
}

func TestRunKilledShowsInterrupted(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
steps:
- checkout: none
- script: |
    for i in $(seq 1 500); do echo "line $i"; done
    echo "$$" > ` + fifo + `
    i=500; while true; do i=$((i+1)); echo "line $i"; done
  name: long
`})
	data := filepath.Join(dir, "data")
	cmd := exec.Command(os.Args[0], "run", "-f", filepath.Join(repo, "azure-pipelines.yml"), "--data", data)
	cmd.Env = append(os.Environ(), "CONVEYOR_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fifo) // the step is past its 500 lines
	if err != nil {
		t.Fatal(err)
	}
	stepPID, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("step pid %q: %v", b, err)
	}
	// Wait until conveyor has stored line 500, then kill it mid-stream.
	st, err := store.Open(t.Context(), filepath.Join(data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	listed, err := st.ListRuns(t.Context(), store.RunFilter{})
	if err != nil || len(listed) != 1 {
		t.Fatalf("runs while running: %v %v", listed, err)
	}
	errSeen := fmt.Errorf("seen")
	err = st.TailLog(t.Context(), listed[0].ID, "__default.Job.long", 1, 0, func(l store.LogLine) error {
		if l.Text == "line 500" {
			return errSeen
		}
		return nil
	})
	if err != errSeen {
		t.Fatalf("tail: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The step's process group outlives conveyor; end it.
	_ = syscall.Kill(-stepPID, syscall.SIGKILL)

	text, code := cli(t, "runs", "list", "--data", data, "--output", "json")
	if code != 0 {
		t.Fatalf("runs list: exit %d: %s", code, text)
	}
	var runs []struct {
		ID     string
		State  store.State
		Result store.Result
	}
	if err := json.Unmarshal([]byte(text), &runs); err != nil {
		t.Fatalf("runs list output: %v\n%s", err, text)
	}
	if len(runs) != 1 || runs[0].State != store.StateCompleted || runs[0].Result != store.ResultInterrupted {
		t.Fatalf("runs = %+v, want one completed/interrupted run\nconveyor output:\n%s", runs, out.String())
	}
	text, code = cli(t, "runs", "list", "--data", data)
	if code != 0 || !strings.Contains(text, "interrupted") {
		t.Errorf("runs list (text): exit %d\n%s", code, text)
	}
	logs, code := cli(t, "runs", "logs", runs[0].ID, "--data", data)
	if code != 0 {
		t.Fatalf("runs logs: exit %d: %s", code, logs)
	}
	// The log is every line up to the kill, in order, none torn.
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		_, text, _ := strings.Cut(l, " ")
		if !strings.HasPrefix(text, "line ") {
			continue
		}
		n++
		if text != fmt.Sprintf("line %d", n) {
			t.Fatalf("log line %d is %q, want %q", n, text, fmt.Sprintf("line %d", n))
		}
	}
	if n < 500 {
		t.Errorf("log has %d lines, want at least the 500 stored before the kill", n)
	}
	show, code := cli(t, "runs", "show", runs[0].ID, "--data", data)
	if code != 0 || !strings.Contains(show, "interrupted") {
		t.Errorf("runs show: exit %d\n%s", code, show)
	}
}

func TestRunInterruptCancelsGracefully(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
steps:
- checkout: none
- script: |
    echo ready > ` + fifo + `
    sleep 600
  name: long
- script: echo cleaning up
  name: cleanup
  condition: always()
`})
	cmd := exec.Command(os.Args[0], "run", "-f", filepath.Join(repo, "azure-pipelines.yml"), "--output", "json")
	cmd.Env = append(os.Environ(), "CONVEYOR_TEST_MAIN=1", "CONVEYOR_DATA="+filepath.Join(dir, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(fifo); err != nil || string(b) != "ready\n" {
		t.Fatalf("ready: %v %q", err, b)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitFailed, stderr.String())
	}
	var s runSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	got := map[string]store.Result{}
	for _, st := range s.Stages[0].Jobs[0].Steps {
		got[st.Name] = st.Result
	}
	if s.Result != store.ResultCanceled || got["long"] != store.ResultCanceled || got["cleanup"] != store.ResultSucceeded {
		t.Errorf("result %s, steps %v; want canceled, long canceled, cleanup succeeded", s.Result, got)
	}
}

func TestRunsCancel(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
steps:
- checkout: none
- script: |
    echo ready > ` + fifo + `
    sleep 600
  name: long
`})
	data := filepath.Join(dir, "data")
	cmd := exec.Command(os.Args[0], "run", "-f", filepath.Join(repo, "azure-pipelines.yml"), "--data", data)
	cmd.Env = append(os.Environ(), "CONVEYOR_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(fifo); err != nil || string(b) != "ready\n" {
		t.Fatalf("ready: %v %q", err, b)
	}
	text, code := cli(t, "runs", "cancel", "1", "--data", data)
	if code != 0 {
		t.Fatalf("runs cancel: exit %d: %s", code, text)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("conveyor run: %v, want exit %d\n%s", err, exitFailed, out.String())
	}
	text, _ = cli(t, "runs", "list", "--data", data)
	if !strings.Contains(text, "canceled") {
		t.Errorf("runs list after cancel:\n%s", text)
	}
	if text, code := cli(t, "runs", "cancel", "1", "--data", data); code != exitBadUser {
		t.Errorf("canceling an ended run: exit %d: %s", code, text)
	}
}
