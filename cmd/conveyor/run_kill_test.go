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
	"conveyor.dev/conveyor/internal/store/pgtest"
)

// TestMain lets a test re-execute this test binary as the conveyor CLI:
// with CONVEYOR_TEST_MAIN=1 it runs main() instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CONVEYOR_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(pgtest.Main(m)) // m.Run, then stop the PostgreSQL of the tests, if started
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

// child is the conveyor CLI running in a child process.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	// ready is what the pipeline's step wrote to the fifo.
	ready []byte
}

// output is what the child wrote, stdout then stderr.
func (c *child) output() string { return c.stdout.String() + c.stderr.String() }

// startReady starts `conveyor run -f azure-pipelines.yml args...` in a child
// process (with env added) on a repository whose pipeline is pipeline(fifo),
// and returns once a step has written to the fifo.
func startReady(t *testing.T, pipeline func(fifo string) string, env []string, args ...string) *child {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": pipeline(fifo)})
	c := &child{cmd: exec.Command(os.Args[0], append([]string{"run", "-f", filepath.Join(repo, "azure-pipelines.yml")}, args...)...)}
	c.cmd.Env = append(append(os.Environ(), "CONVEYOR_TEST_MAIN=1"), env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	// Its own process group, killed whole when the test ends, so a test
	// that fails half-way leaves no conveyor run or step behind.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) })
	b, err := os.ReadFile(fifo)
	if err != nil {
		t.Fatalf("ready fifo: %v", err)
	}
	c.ready = b
	return c
}

// readyLine is what the pipelines of the cancel tests write to the fifo.
const readyLine = "ready\n"

func TestRunKilledShowsInterrupted(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	c := startReady(t, func(fifo string) string {
		return `
steps:
- checkout: none
- script: |
    for i in $(seq 1 500); do echo "line $i"; done
    echo "$$" > ` + fifo + `
    i=500; while true; do i=$((i+1)); echo "line $i"; done
  name: long
`
	}, nil, "--data", data)
	// The step is past its 500 lines.
	stepPID, err := strconv.Atoi(strings.TrimSpace(string(c.ready)))
	if err != nil {
		t.Fatalf("step pid %q: %v", c.ready, err)
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
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
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
		t.Fatalf("runs = %+v, want one completed/interrupted run\nconveyor output:\n%s", runs, c.output())
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
	c := startReady(t, func(fifo string) string {
		return `
steps:
- checkout: none
- script: |
    echo ready > ` + fifo + `
    sleep 600
  name: long
- script: echo cleaning up
  name: cleanup
  condition: always()
`
	}, []string{"CONVEYOR_DATA=" + filepath.Join(t.TempDir(), "data")}, "--output", "json")
	if string(c.ready) != readyLine {
		t.Fatalf("ready: %q", c.ready)
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitFailed, c.stderr.String())
	}
	var s runSummary
	if err := json.Unmarshal(c.stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, c.stdout.String())
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
	data := filepath.Join(t.TempDir(), "data")
	c := startReady(t, func(fifo string) string {
		return `
steps:
- checkout: none
- script: |
    echo ready > ` + fifo + `
    sleep 600
  name: long
`
	}, nil, "--data", data)
	if string(c.ready) != readyLine {
		t.Fatalf("ready: %q", c.ready)
	}
	text, code := cli(t, "runs", "cancel", "1", "--data", data)
	if code != 0 {
		t.Fatalf("runs cancel: exit %d: %s", code, text)
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("conveyor run: %v, want exit %d\n%s", err, exitFailed, c.output())
	}
	text, _ = cli(t, "runs", "list", "--data", data)
	if !strings.Contains(text, "canceled") {
		t.Errorf("runs list after cancel:\n%s", text)
	}
	if text, code := cli(t, "runs", "cancel", "1", "--data", data); code != exitBadUser {
		t.Errorf("canceling an ended run: exit %d: %s", code, text)
	}
}
