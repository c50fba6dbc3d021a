// Package executortest is the shared test suite every executor backend
// must pass (executor/local today, a Kubernetes backend later): Run checks
// the executor.Job contract with real processes.
//
// It must not import the engine, the store or a backend.
package executortest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// Executor is what the suite needs of a backend.
type Executor interface {
	StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error)
}

// Run runs the suite against executors made by newExecutor (a fresh one per
// test).
func Run(t *testing.T, newExecutor func(t *testing.T) Executor) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Executor)
	}{
		{"Workspace", testWorkspace},
		{"OutputAndEnvironment", testOutputAndEnvironment},
		{"ExitCodeIsAStepFailure", testExitCode},
		{"UnknownTaskIsAnError", testUnknownTask},
		{"CancelKillsTheProcessGroup", testCancel},
		{"BackgroundProcessLivesUntilJobEnds", testBackgroundProcess},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newExecutor(t)) })
	}
}

type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(_ time.Time, s string) { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }
func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

func start(t *testing.T, e Executor, job string) executor.Job {
	t.Helper()
	j, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "run1", Pipeline: "suite", JobID: job})
	if err != nil {
		t.Fatalf("start job %s: %v", job, err)
	}
	t.Cleanup(func() { j.Close(context.Background()) })
	return j
}

func script(id, src string, out *lines) executor.Step {
	return executor.Step{ID: id, Task: "CmdLine@2", Inputs: map[string]string{"script": src}, KillGrace: time.Second, Output: out.add}
}

func testWorkspace(t *testing.T, e Executor) {
	a, b := start(t, e, "S.A"), start(t, e, "S.B")
	da, db := a.Dirs(), b.Dirs()
	if da.Sources == db.Sources {
		t.Errorf("two running jobs share %s", da.Sources)
	}
	var out lines
	res, err := a.RunStep(t.Context(), script("S.A.s", `for d in s a b TestResults; do test -d ../$d && echo ok; done; pwd`, &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v %v", res, err, out.get())
	}
	got := out.get()
	if len(got) != 5 || got[4] != da.Sources {
		t.Errorf("workspace layout: %q (sources %s)", got, da.Sources)
	}
}

func testOutputAndEnvironment(t *testing.T, e Executor) {
	j := start(t, e, "S.J")
	bin := filepath.Join(j.Dirs().Temp, "suite-bin")
	var out lines
	setup := script("S.J.setup", "mkdir -p "+bin+" && printf '#!/bin/sh\\necho tool\\n' > "+bin+"/suite-tool && chmod +x "+bin+"/suite-tool", &out)
	if res, err := j.RunStep(t.Context(), setup); err != nil || res.Status != task.Succeeded {
		t.Fatalf("setup: %+v %v %v", res, err, out.get())
	}
	s := script("S.J.s", "echo \"$SUITE_VAR\"; printf 'no newline'; echo; echo to-stderr >&2; printf 'tail'; suite-tool", &out)
	s.Env = map[string]string{"SUITE_VAR": "from env"}
	s.PathPrepend = []string{bin}
	res, err := j.RunStep(t.Context(), s)
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v", res, err)
	}
	if diff := cmp.Diff([]string{"from env", "no newline", "to-stderr", "tailtool"}, out.get()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func testExitCode(t *testing.T, e Executor) {
	j := start(t, e, "S.J")
	var out lines
	res, err := j.RunStep(t.Context(), script("S.J.s", "echo before; exit 3", &out))
	if err != nil {
		t.Fatalf("a failing script is not an infrastructure error: %v", err)
	}
	if res.Status != task.Failed || !strings.Contains(res.Message, "3") {
		t.Errorf("result %+v, want Failed naming exit code 3", res)
	}
}

func testUnknownTask(t *testing.T, e Executor) {
	j := start(t, e, "S.J")
	var out lines
	_, err := j.RunStep(t.Context(), executor.Step{ID: "S.J.s", Task: "NoSuchTask@9", Output: out.add})
	if err == nil || !strings.Contains(err.Error(), "NoSuchTask@9") {
		t.Errorf("error %v, want one naming the unknown task", err)
	}
}

func testCancel(t *testing.T, e Executor) {
	j := start(t, e, "S.J")
	fifo := filepath.Join(t.TempDir(), "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		os.ReadFile(fifo)
		cancel()
	}()
	var out lines
	s := script("S.J.s", "(trap '' TERM; sleep 120) &\necho $! > "+fifo+"\nwait", &out)
	s.KillGrace = 200 * time.Millisecond
	begin := time.Now()
	res, err := j.RunStep(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status == task.Succeeded {
		t.Errorf("a canceled step succeeded")
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("cancel took %v: the group should be killed after the grace period", d)
	}
}

// testBackgroundProcess checks that a process a step leaves running serves
// the next step of the job and is gone once the job is closed.
func testBackgroundProcess(t *testing.T, e Executor) {
	j, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "run1", Pipeline: "suite", JobID: "S.BG"})
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	var out lines
	res, err := j.RunStep(t.Context(), script("S.BG.start", "sleep 300 > /dev/null 2>&1 &\necho $! > "+pidFile, &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("start: %+v %v", res, err)
	}
	res, err = j.RunStep(t.Context(), script("S.BG.check", "kill -0 $(cat "+pidFile+") && echo alive", &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("the background process did not outlive its step: %+v %v %v", res, err, out.get())
	}
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pidFile)
	pid := 0
	fmt.Sscan(string(b), &pid)
	// SIGKILL takes effect asynchronously: poll (bounded) until the process
	// is gone or a zombie.
	deadline := time.Now().Add(10 * time.Second)
	for pid > 0 {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still runs after the job closed: %s", pid, st)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}
