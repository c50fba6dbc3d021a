package local

import (
	"context"
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

var _ executor.Job = (*Job)(nil)

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

func startJob(t *testing.T, e *Executor, pipeline, clean string) executor.Job {
	t.Helper()
	j, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "r1", Pipeline: pipeline, JobID: "S.J", WorkspaceClean: clean})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestWorkspaceLayout(t *testing.T) {
	data := t.TempDir()
	e, err := New(data)
	if err != nil {
		t.Fatal(err)
	}
	j1 := startJob(t, e, "p", "")
	j2 := startJob(t, e, "p", "") // j1 holds its workspace: a new one
	d1, d2 := j1.Dirs(), j2.Dirs()
	if d1.Pipeline == d2.Pipeline {
		t.Fatalf("two running jobs share %s", d1.Pipeline)
	}
	for _, d := range []string{d1.Sources, d1.ArtifactStaging, d1.Binaries, d1.TestResults, d1.Temp} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if want := filepath.Join(data, "work", "1", "s"); d1.Sources != want {
		t.Errorf("sources %s, want %s", d1.Sources, want)
	}
	if want := filepath.Join(data, "artifacts", "r1"); d1.Artifacts != want {
		t.Errorf("artifacts %s, want %s", d1.Artifacts, want)
	}
	j1.Close(t.Context())
	j2.Close(t.Context())
	j3 := startJob(t, e, "p", "")
	if j3.Dirs().Pipeline != d1.Pipeline {
		t.Errorf("a free workspace of the pipeline was not reused: %s", j3.Dirs().Pipeline)
	}
	j3.Close(t.Context())
	j4 := startJob(t, e, "other", "")
	if j4.Dirs().Pipeline == d1.Pipeline || j4.Dirs().Pipeline == d2.Pipeline {
		t.Errorf("another pipeline got a used workspace %s", j4.Dirs().Pipeline)
	}
	j4.Close(t.Context())
}

func TestRunStepOutputEnvAndExit(t *testing.T) {
	e, err := New(t.TempDir(), WithBaseEnv([]string{"PATH=" + os.Getenv("PATH"), "BASE=1", "OVERRIDE=old"}))
	if err != nil {
		t.Fatal(err)
	}
	j := startJob(t, e, "p", "")
	defer j.Close(t.Context())
	bin := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "hello-tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
	var out lines
	res, err := j.RunStep(t.Context(), executor.Step{
		ID: "S.J.s", Task: "CmdLine@2",
		Inputs:      map[string]string{"script": "echo \"$BASE $OVERRIDE $NEW\"; printf 'no newline'; echo; echo err >&2; printf 'partial'; hello-tool"},
		Env:         map[string]string{"OVERRIDE": "new", "NEW": "x"},
		PathPrepend: []string{bin},
		KillGrace:   time.Second,
		Output:      out.add,
	})
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v", res, err)
	}
	if diff := cmp.Diff([]string{"1 new x", "no newline", "err", "partialtool"}, out.get()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	res, err = j.RunStep(t.Context(), executor.Step{ID: "S.J.f", Task: "CmdLine@2", Inputs: map[string]string{"script": "exit 7"}, Output: out.add})
	if err != nil || res.Status != task.Failed || !strings.Contains(res.Message, "7") {
		t.Errorf("failing step: %+v %v", res, err)
	}
	_, err = j.RunStep(t.Context(), executor.Step{ID: "S.J.u", Task: "Nope@1", Output: out.add})
	if err == nil || !strings.Contains(err.Error(), "unknown task") {
		t.Errorf("unknown task: %v", err)
	}
}

func TestCancelKillsProcessGroup(t *testing.T) {
	e, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j := startJob(t, e, "p", "")
	defer j.Close(t.Context())
	fifo := filepath.Join(t.TempDir(), "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		os.ReadFile(fifo)
		cancel()
	}()
	var out lines
	start := time.Now()
	// A child ignoring SIGTERM in the background: the group is SIGKILLed
	// after the grace period.
	res, err := j.RunStep(ctx, executor.Step{ID: "S.J.s", Task: "CmdLine@2",
		Inputs:    map[string]string{"script": "(trap '' TERM; sleep 60) &\necho $! > " + fifo + "\nwait"},
		KillGrace: 300 * time.Millisecond, Output: out.add})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != task.Failed {
		t.Errorf("canceled step status %s", res.Status)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
}
