package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// crashChildEnv names the database a re-executed test binary writes to
// until it is killed.
const crashChildEnv = "CONVEYOR_STORE_CRASH_CHILD"

// TestCrashKeepsLogLines kills a process writing a step log with SIGKILL:
// every line it acknowledged must be readable afterwards, and the run it
// owned must be reconciled as interrupted.
func TestCrashKeepsLogLines(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "conveyor.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashKeepsLogLines$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	runID := ""
	acked := int64(0)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "run "):
			runID = strings.TrimPrefix(line, "run ")
		case strings.HasPrefix(line, "ack "):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "ack "), 10, 64)
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			acked = n
			if acked >= 20000 && !killed {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				killed = true
				// Keep reading: acknowledgements already in the pipe count too.
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed after %d lines: %v", acked, err)
	}
	if runID == "" {
		t.Fatal("child never reported its run")
	}

	s, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines, err := s.ReadLog(t.Context(), runID, "Build.Job.step1", 1, 0)
	if err != nil {
		t.Fatalf("read the killed writer's log: %v", err)
	}
	if int64(len(lines)) < acked {
		t.Fatalf("read %d lines, but the child acknowledged %d before it was killed", len(lines), acked)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %d of the step", i); l.Text != want || l.N != int64(i) {
			t.Fatalf("line %d = %+v, want %q", i, l, want)
		}
	}
	t.Logf("child acknowledged %d lines before SIGKILL; %d readable", acked, len(lines))

	n, err := s.ReconcileOrphans(t.Context(), store.LocalOwnerAlive)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("ReconcileOrphans marked %d runs, want 1", n)
	}
	r, err := s.GetRun(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.StateCompleted || r.Result != store.ResultInterrupted {
		t.Errorf("killed run is %s/%s, want completed/interrupted", r.State, r.Result)
	}
	recs, err := s.ListRecords(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Result != store.ResultInterrupted {
			t.Errorf("record %s is %s/%s, want completed/interrupted", rec.ID, rec.State, rec.Result)
		}
	}
	// Its log is finished: a tail returns instead of waiting for a dead writer.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tailed := 0
	if err := s.TailLog(ctx, runID, "Build.Job.step1", 1, 0, func(store.LogLine) error { tailed++; return nil }); err != nil {
		t.Fatalf("tail the killed writer's log: %v", err)
	}
	if tailed != len(lines) {
		t.Errorf("tailed %d lines, want %d", tailed, len(lines))
	}
}

// crashChild writes log lines forever, acknowledging each on stdout.
func crashChild(path string) {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		fail(err)
	}
	r := store.Run{Pipeline: "ci", State: store.StateRunning, Owner: store.LocalOwner()}
	if err := s.CreateRun(ctx, &r); err != nil {
		fail(err)
	}
	for _, rec := range []store.Record{
		{RunID: r.ID, ID: "Build", Type: store.RecordStage, Attempt: 1, State: store.StateRunning},
		{RunID: r.ID, ID: "Build.Job", ParentID: "Build", Type: store.RecordJob, Attempt: 1, State: store.StateRunning},
		{RunID: r.ID, ID: "Build.Job.step1", ParentID: "Build.Job", Type: store.RecordStep, Attempt: 1, State: store.StateRunning},
	} {
		if err := s.UpsertRecord(ctx, rec); err != nil {
			fail(err)
		}
	}
	w, err := s.OpenLog(ctx, r.ID, "Build.Job.step1", 1)
	if err != nil {
		fail(err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "run %s\n", r.ID)
	for i := int64(0); i < 50_000_000; i++ { // bounded, in case nobody kills us
		if err := w.WriteLine(time.Now(), fmt.Sprintf("line %d of the step", i)); err != nil {
			fail(err)
		}
		fmt.Fprintf(out, "ack %d\n", i+1)
		if i%64 == 0 {
			out.Flush()
		}
	}
	os.Exit(4)
}
