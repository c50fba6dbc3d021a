// Package storetest is the shared suite that every store.Store
// implementation must pass, and helpers that give tests a real store.
//
// It must not import the engine or anything above it in the flow.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/pgtest"
)

// Opener opens a fresh, empty, migrated store for a test, closed when the
// test ends: NewTestStore or NewPostgresStore.
type Opener func(t testing.TB, opts ...store.Option) *store.DB

// NewTestStore returns a migrated SQLite store in t.TempDir(), closed when the test ends.
func NewTestStore(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "conveyor.db"), opts...)
}

// NewPostgresStore returns a migrated store on a fresh database of the test
// binary's PostgreSQL (pgtest: the package's TestMain must call
// pgtest.Main), with its logs in t.TempDir(), closed when the test ends.
func NewPostgresStore(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	url := pgtest.URL(t)
	return open(t, url, append([]store.Option{store.WithLogDir(filepath.Join(t.TempDir(), "logs"))}, opts...)...)
}

func open(t testing.TB, dsn string, opts ...store.Option) *store.DB {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close test store: %v", err)
		}
	})
	return s
}

// Run runs the whole suite; newStore must return a fresh, empty, migrated
// store for each call (and close it when the test ends).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateAndGetRun", testCreateAndGetRun},
		{"GetMissingRun", testGetMissingRun},
		{"RunNumbersPerPipeline", testRunNumbersPerPipeline},
		{"ConcurrentCreateRun", testConcurrentCreateRun},
		{"ListRuns", testListRuns},
		{"UpdateRun", testUpdateRun},
		{"UpdateRunAborts", testUpdateRunAborts},
		{"AddRunTag", testAddRunTag},
		{"Records", testRecords},
		{"RecordAttempts", testRecordAttempts},
		{"LogWriteRead", testLogWriteRead},
		{"LogReopenAppends", testLogReopenAppends},
		{"LogMissing", testLogMissing},
		{"TailLogFollowsWriter", testTailLogFollowsWriter},
		{"TailLogBeforeOpen", testTailLogBeforeOpen},
		{"TailLogStops", testTailLogStops},
		{"ReconcileOrphans", testReconcileOrphans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// at returns a fixed UTC time plus d, as the store returns times.
func at(d time.Duration) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(d)
}

func mustCreate(t *testing.T, s store.Store, r store.Run) store.Run {
	t.Helper()
	if err := s.CreateRun(t.Context(), &r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return r
}

func testCreateAndGetRun(t *testing.T, s store.Store) {
	r := store.Run{
		Pipeline: "ci", File: "ci.yml", Repository: "webapp", Commit: "0123abcd", Branch: "main",
		Event: store.EventPush, Reason: "push to main", State: store.StateQueued,
		Params: map[string]string{"env": "staging"}, Variables: map[string]string{"GOFLAGS": "-mod=mod"},
		Plan: []byte(`{"stages":[]}`), Owner: "42@host", CreatedAt: at(0), StartedAt: at(time.Second),
		Tags: []string{"b", "a", "a"},
	}
	if err := s.CreateRun(t.Context(), &r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if r.ID == "" || r.Number != 1 {
		t.Fatalf("CreateRun assigned ID %q, Number %d; want a non-empty ID and number 1", r.ID, r.Number)
	}
	if diff := cmp.Diff([]string{"a", "b"}, r.Tags); diff != "" {
		t.Errorf("CreateRun tags (-want +got):\n%s", diff)
	}
	got, err := s.GetRun(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetRun (-want +got):\n%s", diff)
	}

	// CreatedAt defaults to now.
	before := time.Now().Add(-time.Second)
	r2 := mustCreate(t, s, store.Run{Pipeline: "ci"})
	if r2.CreatedAt.Before(before) || r2.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about now", r2.CreatedAt)
	}
	if r2.ID <= r.ID {
		t.Errorf("second run ID %q does not sort after the first %q", r2.ID, r.ID)
	}
	if err := s.CreateRun(t.Context(), &store.Run{}); err == nil {
		t.Errorf("CreateRun without a pipeline succeeded, want an error")
	}
}

func testGetMissingRun(t *testing.T, s store.Store) {
	_, err := s.GetRun(t.Context(), "nope")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun(missing) error = %v, want one wrapping ErrNotFound", err)
	}
	err = s.UpdateRun(t.Context(), "nope", func(*store.Run) error { return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRun(missing) error = %v, want one wrapping ErrNotFound", err)
	}
	err = s.AddRunTag(t.Context(), "nope", "x")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddRunTag(missing) error = %v, want one wrapping ErrNotFound", err)
	}
}

func testRunNumbersPerPipeline(t *testing.T, s store.Store) {
	var got []string
	for _, p := range []string{"ci", "cd", "ci", "ci", "cd"} {
		r := mustCreate(t, s, store.Run{Pipeline: p})
		got = append(got, fmt.Sprintf("%s#%d", p, r.Number))
	}
	want := []string{"ci#1", "cd#1", "ci#2", "ci#3", "cd#2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run numbers (-want +got):\n%s", diff)
	}
}

func testConcurrentCreateRun(t *testing.T, s store.Store) {
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	numbers := make(chan int64, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				r := store.Run{Pipeline: "ci"}
				if err := s.CreateRun(t.Context(), &r); err != nil {
					errs <- err
					return
				}
				numbers <- r.Number
			}
		})
	}
	wg.Wait()
	close(errs)
	close(numbers)
	for err := range errs {
		t.Fatalf("concurrent CreateRun: %v", err)
	}
	var got []int64
	for n := range numbers {
		got = append(got, n)
	}
	slices.Sort(got)
	var want []int64
	for i := range workers * each {
		want = append(want, int64(i+1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run numbers (-want +got):\n%s", diff)
	}
}

func testListRuns(t *testing.T, s store.Store) {
	a := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateCompleted, Result: store.ResultSucceeded})
	b := mustCreate(t, s, store.Run{Pipeline: "cd", State: store.StateRunning, Tags: []string{"release"}})
	c := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateRunning})
	ids := func(runs []store.Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name   string
		filter store.RunFilter
		want   []string
	}{
		{"all newest first", store.RunFilter{}, []string{c.ID, b.ID, a.ID}},
		{"pipeline", store.RunFilter{Pipeline: "ci"}, []string{c.ID, a.ID}},
		{"state", store.RunFilter{State: store.StateRunning}, []string{c.ID, b.ID}},
		{"pipeline and state", store.RunFilter{Pipeline: "ci", State: store.StateRunning}, []string{c.ID}},
		{"tag", store.RunFilter{Tag: "release"}, []string{b.ID}},
		{"limit", store.RunFilter{Limit: 2}, []string{c.ID, b.ID}},
		{"none", store.RunFilter{Pipeline: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.ListRuns(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			if diff := cmp.Diff(tt.want, ids(runs)); diff != "" {
				t.Errorf("ListRuns(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
	runs, err := s.ListRuns(t.Context(), store.RunFilter{Tag: "release"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Run{b}, runs); diff != "" {
		t.Errorf("ListRuns returns whole runs (-want +got):\n%s", diff)
	}
}

func testUpdateRun(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateQueued, CreatedAt: at(0)})
	want := r
	err := s.UpdateRun(t.Context(), r.ID, func(got *store.Run) error {
		if diff := cmp.Diff(r, *got); diff != "" {
			t.Errorf("UpdateRun hands fn (-want +got):\n%s", diff)
		}
		got.State, got.Result = store.StateCompleted, store.ResultFailed
		got.StartedAt, got.FinishedAt = at(time.Second), at(time.Minute)
		got.Variables = map[string]string{"x": "1"}
		got.Tags = []string{"failed"}
		got.ID, got.Number, got.CreatedAt = "changed", 99, at(time.Hour) // ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateRun: %v", err)
	}
	want.State, want.Result = store.StateCompleted, store.ResultFailed
	want.StartedAt, want.FinishedAt = at(time.Second), at(time.Minute)
	want.Variables = map[string]string{"x": "1"}
	want.Tags = []string{"failed"}
	got, err := s.GetRun(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run after UpdateRun (-want +got):\n%s", diff)
	}
}

func testUpdateRunAborts(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateQueued, CreatedAt: at(0)})
	boom := errors.New("boom")
	err := s.UpdateRun(t.Context(), r.ID, func(got *store.Run) error {
		got.State = store.StateRunning
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateRun error = %v, want one wrapping fn's error", err)
	}
	got, err := s.GetRun(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("run changed by an aborted UpdateRun (-want +got):\n%s", diff)
	}
}

func testAddRunTag(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	for _, tag := range []string{"v1", "nightly", "v1"} {
		if err := s.AddRunTag(t.Context(), r.ID, tag); err != nil {
			t.Fatalf("AddRunTag(%q): %v", tag, err)
		}
	}
	if err := s.AddRunTag(t.Context(), r.ID, ""); err == nil {
		t.Errorf("AddRunTag(\"\") succeeded, want an error")
	}
	got, err := s.GetRun(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"nightly", "v1"}, got.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

func testRecords(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	rec := func(id, parent string, typ store.RecordType, order int) store.Record {
		return store.Record{RunID: r.ID, ID: id, ParentID: parent, Type: typ, Name: id, Order: order, Attempt: 1, State: store.StateQueued}
	}
	step := rec("Build.Job1.step2", "Build.Job1", store.RecordStep, 2)
	step.State, step.Result = store.StateCompleted, store.ResultSucceededWithIssues
	step.StartedAt, step.FinishedAt = at(time.Second), at(2*time.Second)
	step.DisplayName = "Run tests"
	step.Outputs = map[string]string{"version": "1.2.3"}
	step.SecretOutputs = []string{"token"}
	step.Issues = []store.Issue{{Type: store.IssueWarning, Message: "flaky", File: "a_test.go", Line: 12}}
	step.WarningCount, step.LogLines = 1, 40
	// Inserted out of order on purpose.
	recs := []store.Record{
		rec("Deploy", "", store.RecordStage, 2),
		step,
		rec("Build.Job1", "Build", store.RecordJob, 1),
		rec("Build", "", store.RecordStage, 1),
		rec("Build.Job1.step1", "Build.Job1", store.RecordStep, 1),
		rec("Deploy.Job", "Deploy", store.RecordJob, 1),
		rec("Orphan", "Missing", store.RecordJob, 0),
	}
	for _, rc := range recs {
		if err := s.UpsertRecord(t.Context(), rc); err != nil {
			t.Fatalf("UpsertRecord(%s): %v", rc.ID, err)
		}
	}
	// Replace one.
	job := rec("Build.Job1", "Build", store.RecordJob, 1)
	job.State = store.StateRunning
	if err := s.UpsertRecord(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRecords(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("ListRecords: %v", err)
	}
	want := []store.Record{
		rec("Orphan", "Missing", store.RecordJob, 0),
		rec("Build", "", store.RecordStage, 1),
		job,
		rec("Build.Job1.step1", "Build.Job1", store.RecordStep, 1),
		step,
		rec("Deploy", "", store.RecordStage, 2),
		rec("Deploy.Job", "Deploy", store.RecordJob, 1),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRecords (-want +got):\n%s", diff)
	}
	other, err := s.ListRecords(t.Context(), "other-run")
	if err != nil || len(other) != 0 {
		t.Errorf("ListRecords(other run) = %v, %v; want none", other, err)
	}
	if err := s.UpsertRecord(t.Context(), store.Record{RunID: r.ID}); err == nil {
		t.Errorf("UpsertRecord without an ID succeeded, want an error")
	}
}

func testRecordAttempts(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	first := store.Record{RunID: r.ID, ID: "Build.Job", Type: store.RecordJob, Attempt: 1, State: store.StateCompleted, Result: store.ResultFailed}
	second := store.Record{RunID: r.ID, ID: "Build.Job", Type: store.RecordJob, Attempt: 2, State: store.StateRunning}
	for _, rc := range []store.Record{second, first} {
		if err := s.UpsertRecord(t.Context(), rc); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListRecords(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Record{first, second}, got); diff != "" {
		t.Errorf("ListRecords keeps every attempt (-want +got):\n%s", diff)
	}
}

func writeLines(t *testing.T, w store.LogWriter, texts ...string) {
	t.Helper()
	for i, text := range texts {
		if err := w.WriteLine(at(time.Duration(i)*time.Millisecond), text); err != nil {
			t.Fatalf("WriteLine(%q): %v", text, err)
		}
	}
}

func texts(lines []store.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

func testLogWriteRead(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	w, err := s.OpenLog(t.Context(), r.ID, "Build.Job.step1", 1)
	if err != nil {
		t.Fatalf("OpenLog: %v", err)
	}
	writeLines(t, w, "first", "", "  indented ", "two\nlines", "ünïcödé ✓")
	// Readable before Flush or Close.
	got, err := s.ReadLog(t.Context(), r.ID, "Build.Job.step1", 1, 0)
	if err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	want := []store.LogLine{
		{N: 0, Time: at(0), Text: "first"},
		{N: 1, Time: at(time.Millisecond), Text: ""},
		{N: 2, Time: at(2 * time.Millisecond), Text: "  indented "},
		{N: 3, Time: at(3 * time.Millisecond), Text: "two"},
		{N: 4, Time: at(3 * time.Millisecond), Text: "lines"},
		{N: 5, Time: at(4 * time.Millisecond), Text: "ünïcödé ✓"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadLog (-want +got):\n%s", diff)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.WriteLine(at(0), "late"); err == nil {
		t.Errorf("WriteLine after Close succeeded, want an error")
	}
	got, err = s.ReadLog(t.Context(), r.ID, "Build.Job.step1", 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[4:], got); diff != "" {
		t.Errorf("ReadLog from 4 (-want +got):\n%s", diff)
	}
	// Another attempt is another log.
	if _, err := s.ReadLog(t.Context(), r.ID, "Build.Job.step1", 2, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReadLog(attempt 2) error = %v, want ErrNotFound", err)
	}
}

func testLogReopenAppends(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	for _, batch := range [][]string{{"a", "b"}, {"c"}} {
		w, err := s.OpenLog(t.Context(), r.ID, "step", 1)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, batch...)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ReadLog(t.Context(), r.ID, "step", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, texts(got)); diff != "" {
		t.Errorf("reopened log (-want +got):\n%s", diff)
	}
	if got[2].N != 2 {
		t.Errorf("third line N = %d, want 2", got[2].N)
	}
}

func testLogMissing(t *testing.T, s store.Store) {
	if _, err := s.OpenLog(t.Context(), "no-such-run", "step", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenLog(missing run) error = %v, want ErrNotFound", err)
	}
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	if _, err := s.ReadLog(t.Context(), r.ID, "step", 1, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReadLog(missing log) error = %v, want ErrNotFound", err)
	}
}

// tail runs TailLog in a goroutine and hands each line to the returned channel.
func tail(t *testing.T, ctx context.Context, s store.Store, runID, recordID string, from int64) (<-chan store.LogLine, <-chan error) {
	lines := make(chan store.LogLine)
	done := make(chan error, 1)
	go func() {
		defer close(lines)
		done <- s.TailLog(ctx, runID, recordID, 1, from, func(l store.LogLine) error {
			select {
			case lines <- l:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return lines, done
}

func testTailLogFollowsWriter(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	w, err := s.OpenLog(t.Context(), r.ID, "step", 1)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "zero", "one")
	lines, done := tail(t, t.Context(), s, r.ID, "step", 1)
	if l := <-lines; l.Text != "one" || l.N != 1 {
		t.Fatalf("first tailed line = %+v, want line 1 \"one\"", l)
	}
	// Each new line reaches the tailer while the writer is open.
	for i := 2; i < 20; i++ {
		text := fmt.Sprintf("line %d", i)
		if err := w.WriteLine(at(0), text); err != nil {
			t.Fatal(err)
		}
		if l := <-lines; l.Text != text || l.N != int64(i) {
			t.Fatalf("tailed line = %+v, want %d %q", l, i, text)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		t.Errorf("unexpected line after close: %+v", l)
	}
	if err := <-done; err != nil {
		t.Errorf("TailLog after Close returned %v, want nil", err)
	}
}

func testTailLogBeforeOpen(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	lines, done := tail(t, t.Context(), s, r.ID, "later", 0)
	w, err := s.OpenLog(t.Context(), r.ID, "later", 1)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "hello")
	if l := <-lines; l.Text != "hello" {
		t.Fatalf("tailed line = %+v, want \"hello\"", l)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("TailLog returned %v, want nil", err)
	}
}

func testTailLogStops(t *testing.T, s store.Store) {
	r := mustCreate(t, s, store.Run{Pipeline: "ci"})
	w, err := s.OpenLog(t.Context(), r.ID, "step", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeLines(t, w, "a", "b", "c")

	t.Run("fn error", func(t *testing.T) {
		stop := errors.New("enough")
		var got []string
		err := s.TailLog(t.Context(), r.ID, "step", 1, 0, func(l store.LogLine) error {
			got = append(got, l.Text)
			if len(got) == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("TailLog error = %v, want fn's error", err)
		}
		if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var got []string
		err := s.TailLog(ctx, r.ID, "step", 1, 0, func(l store.LogLine) error {
			got = append(got, l.Text)
			if len(got) == 3 {
				cancel() // the writer is still open: only the context ends the tail
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("TailLog error = %v, want context.Canceled", err)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
	t.Run("closed log", func(t *testing.T) {
		w2, err := s.OpenLog(t.Context(), r.ID, "done", 1)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w2, "x", "y")
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := s.TailLog(t.Context(), r.ID, "done", 1, 0, func(l store.LogLine) error {
			got = append(got, l.Text)
			return nil
		}); err != nil {
			t.Fatalf("TailLog of a closed log: %v", err)
		}
		if diff := cmp.Diff([]string{"x", "y"}, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}

func testReconcileOrphans(t *testing.T, s store.Store) {
	dead := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateRunning, Owner: "1@gone"})
	waiting := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateWaiting, Owner: "2@gone"})
	live := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateRunning, Owner: "3@here"})
	done := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateCompleted, Result: store.ResultSucceeded, Owner: "4@gone"})
	queued := mustCreate(t, s, store.Run{Pipeline: "ci", State: store.StateQueued})
	recs := []store.Record{
		{RunID: dead.ID, ID: "Build", Type: store.RecordStage, Attempt: 1, State: store.StateRunning},
		{RunID: dead.ID, ID: "Build.Job", ParentID: "Build", Type: store.RecordJob, Attempt: 1, State: store.StateRunning},
		{RunID: dead.ID, ID: "Build.Job.s1", ParentID: "Build.Job", Type: store.RecordStep, Attempt: 1, State: store.StateCompleted, Result: store.ResultSucceeded},
		{RunID: dead.ID, ID: "Build.Job.s2", ParentID: "Build.Job", Type: store.RecordStep, Order: 1, Attempt: 1, State: store.StateRunning},
		{RunID: live.ID, ID: "Build", Type: store.RecordStage, Attempt: 1, State: store.StateRunning},
	}
	for _, rc := range recs {
		if err := s.UpsertRecord(t.Context(), rc); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.OpenLog(t.Context(), dead.ID, "Build.Job.s2", 1)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "before the crash")
	// The writer is never closed, as after a crash; Close at the end only releases it.
	defer w.Close()

	n, err := s.ReconcileOrphans(t.Context(), func(owner string) bool { return !strings.HasSuffix(owner, "@gone") })
	if err != nil {
		t.Fatalf("ReconcileOrphans: %v", err)
	}
	if n != 2 {
		t.Errorf("ReconcileOrphans marked %d runs, want 2", n)
	}
	states := map[string]string{}
	for name, id := range map[string]string{"dead": dead.ID, "waiting": waiting.ID, "live": live.ID, "done": done.ID, "queued": queued.ID} {
		r, err := s.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		states[name] = string(r.State) + "/" + string(r.Result)
		if name == "dead" && r.FinishedAt.IsZero() {
			t.Errorf("interrupted run has no FinishedAt")
		}
	}
	wantStates := map[string]string{
		"dead": "completed/interrupted", "waiting": "completed/interrupted", "live": "running/",
		"done": "completed/succeeded", "queued": "queued/",
	}
	if diff := cmp.Diff(wantStates, states); diff != "" {
		t.Errorf("run states (-want +got):\n%s", diff)
	}
	got, err := s.ListRecords(t.Context(), dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	recStates := map[string]string{}
	for _, r := range got {
		recStates[r.ID] = string(r.State) + "/" + string(r.Result)
	}
	wantRecs := map[string]string{
		"Build": "completed/interrupted", "Build.Job": "completed/interrupted",
		"Build.Job.s1": "completed/succeeded", "Build.Job.s2": "completed/interrupted",
	}
	if diff := cmp.Diff(wantRecs, recStates); diff != "" {
		t.Errorf("record states (-want +got):\n%s", diff)
	}
	// The orphan's log counts as finished: a tail ends instead of waiting forever.
	var lines []string
	if err := s.TailLog(t.Context(), dead.ID, "Build.Job.s2", 1, 0, func(l store.LogLine) error {
		lines = append(lines, l.Text)
		return nil
	}); err != nil {
		t.Fatalf("TailLog of an orphan's log: %v", err)
	}
	if diff := cmp.Diff([]string{"before the crash"}, lines); diff != "" {
		t.Errorf("orphan's log (-want +got):\n%s", diff)
	}
	// A second pass finds nothing more.
	if n, err := s.ReconcileOrphans(t.Context(), func(string) bool { return false }); err != nil || n != 1 {
		t.Errorf("second ReconcileOrphans = %d, %v; want 1 (the live run, now declared dead), nil", n, err)
	}
}
