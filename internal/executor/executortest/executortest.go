// Package executortest is the shared test suite every executor backend
// must pass (executor/local, executor/kubernetes): Run checks the
// executor.Job contract with real processes.
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

// Options adapt the suite to a backend.
type Options struct {
	// Gone fails t unless process pid, which a step of job left running in
	// the background, has ended now that job is closed; pid is as the
	// step's shell saw it. Nil looks in /proc of this machine (a backend
	// that runs processes here).
	Gone func(t *testing.T, job executor.Job, pid int)
}

// Run runs the suite against executors made by newExecutor (a fresh one per
// test) whose processes run on this machine.
func Run(t *testing.T, newExecutor func(t *testing.T) Executor) {
	RunWith(t, newExecutor, Options{})
}

// RunWith runs the suite with backend-specific options.
func RunWith(t *testing.T, newExecutor func(t *testing.T) Executor, o Options) {
	if o.Gone == nil {
		o.Gone = goneHere
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Executor, Options)
	}{
		{"Workspace", testWorkspace},
		{"OutputAndEnvironment", testOutputAndEnvironment},
		{"ExitCodeIsAStepFailure", testExitCode},
		{"UnknownTaskIsAnError", testUnknownTask},
		{"CancelKillsTheProcessGroup", testCancel},
		{"BackgroundProcessLivesUntilJobEnds", testBackgroundProcess},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newExecutor(t), o) })
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

func testWorkspace(t *testing.T, e Executor, _ Options) {
	a, b := start(t, e, "S.A"), start(t, e, "S.B")
	da := a.Dirs()
	var out lines
	res, err := a.RunStep(t.Context(), script("S.A.s", `for d in s a b TestResults; do test -d ../$d && echo ok; done; pwd; echo a > mine`, &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v %v", res, err, out.get())
	}
	got := out.get()
	if len(got) != 5 || got[4] != da.Sources {
		t.Errorf("workspace layout: %q (sources %s)", got, da.Sources)
	}
	var outB lines
	res, err = b.RunStep(t.Context(), script("S.B.s", `test -e mine && echo shared || echo own`, &outB))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v %v", res, err, outB.get())
	}
	if got := outB.get(); len(got) != 1 || got[0] != "own" {
		t.Errorf("a file of job S.A is in the workspace of job S.B: %q", got)
	}
}

func testOutputAndEnvironment(t *testing.T, e Executor, o Options) {
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

func testExitCode(t *testing.T, e Executor, o Options) {
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

func testUnknownTask(t *testing.T, e Executor, o Options) {
	j := start(t, e, "S.J")
	var out lines
	_, err := j.RunStep(t.Context(), executor.Step{ID: "S.J.s", Task: "NoSuchTask@9", Output: out.add})
	if err == nil || !strings.Contains(err.Error(), "NoSuchTask@9") {
		t.Errorf("error %v, want one naming the unknown task", err)
	}
}

func testCancel(t *testing.T, e Executor, _ Options) {
	j := start(t, e, "S.J")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lines
	s := script("S.J.s", "(trap '' TERM; sleep 120) &\necho ready\nwait", &out)
	s.Output = func(ts time.Time, line string) {
		out.add(ts, line)
		if line == "ready" {
			cancel()
		}
	}
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
func testBackgroundProcess(t *testing.T, e Executor, o Options) {
	j, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "run1", Pipeline: "suite", JobID: "S.BG"})
	if err != nil {
		t.Fatal(err)
	}
	var out lines
	res, err := j.RunStep(t.Context(), script("S.BG.start", "sleep 300 > /dev/null 2>&1 &\necho $!", &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("start: %+v %v", res, err)
	}
	pid := 0
	if got := out.get(); len(got) == 1 {
		fmt.Sscan(got[0], &pid)
	}
	if pid <= 0 {
		t.Fatalf("start: output %q, want the background pid", out.get())
	}
	res, err = j.RunStep(t.Context(), script("S.BG.check", fmt.Sprintf("kill -0 %d && echo alive", pid), &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("the background process did not outlive its step: %+v %v %v", res, err, out.get())
	}
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	o.Gone(t, j, pid)
}

// goneHere fails t unless process pid of this machine has ended.
func goneHere(t *testing.T, _ executor.Job, pid int) {
	// SIGKILL takes effect asynchronously: poll (bounded) until the process
	// is gone or a zombie.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still runs after the job closed: %s", pid, st)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
