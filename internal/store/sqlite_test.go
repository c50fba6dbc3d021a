package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/pgtest"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestSQLiteSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.NewTestStore(t) })
}

func TestSQLiteMemorySuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.Open(t.Context(), "file::memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestTwoHandlesWriteConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conveyor.db")
	a, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []*store.SQLite{a, b} {
		wg.Go(func() {
			for range 50 {
				r := store.Run{Pipeline: "ci", State: store.StateRunning}
				if err := s.CreateRun(t.Context(), &r); err != nil {
					errs <- err
					return
				}
				if err := s.UpdateRun(t.Context(), r.ID, func(r *store.Run) error { r.State = store.StateCompleted; return nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writers on one database: %v", err)
	}
	runs, err := a.ListRuns(t.Context(), store.RunFilter{State: store.StateCompleted})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 100 || runs[0].Number != 100 {
		t.Errorf("got %d completed runs, newest number %d; want 100 and 100", len(runs), runs[0].Number)
	}
}

func TestLogPathLayout(t *testing.T) {
	s := storetest.NewTestStore(t)
	r := store.Run{Pipeline: "ci"}
	if err := s.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	w, err := s.OpenLog(t.Context(), r.ID, "Build.Job/odd", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "hello"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(s.LogDir(), r.ID, "Build.Job%2Fodd.2.log"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("2026-01-02T03:04:05.000000006Z hello\n", string(data)); diff != "" {
		t.Errorf("log file (-want +got):\n%s", diff)
	}
}

// TestTailLogAcrossHandles tails, through one handle, a log written through
// another handle on the same files: as from another process, so the tail
// learns of new lines and of the end by polling.
func TestTailLogAcrossHandles(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(t testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "conveyor.db") }},
		{"postgres", pgtest.URL},
	} {
		t.Run(db.name, func(t *testing.T) { testTailLogAcrossHandles(t, db.dsn(t)) })
	}
}

func testTailLogAcrossHandles(t *testing.T, dsn string) {
	logs := store.WithLogDir(filepath.Join(t.TempDir(), "logs"))
	writer, err := store.Open(t.Context(), dsn, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := store.Open(t.Context(), dsn, logs, store.WithTailPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	r := store.Run{Pipeline: "ci"}
	if err := writer.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	done := make(chan error, 1)
	go func() {
		defer close(lines)
		done <- reader.TailLog(t.Context(), r.ID, "step", 1, 0, func(l store.LogLine) error {
			lines <- l.Text
			return nil
		})
	}()
	w, err := writer.OpenLog(t.Context(), r.ID, "step", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		text := fmt.Sprintf("line %d", i)
		if err := w.WriteLine(time.Now(), text); err != nil {
			t.Fatal(err)
		}
		if got := <-lines; got != text {
			t.Fatalf("tailed %q, want %q", got, text)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for got := range lines {
		t.Errorf("unexpected line %q after close", got)
	}
	if err := <-done; err != nil {
		t.Errorf("TailLog = %v, want nil after the writer closed", err)
	}
}

func TestLogLongRecordID(t *testing.T) {
	s := storetest.NewTestStore(t)
	r := store.Run{Pipeline: "ci"}
	if err := s.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	ids := []string{strings.Repeat("Stage.", 60) + "a", strings.Repeat("Stage.", 60) + "b"}
	for _, id := range ids {
		w, err := s.OpenLog(t.Context(), r.ID, id, 1)
		if err != nil {
			t.Fatalf("OpenLog of a %d-byte record ID: %v", len(id), err)
		}
		if err := w.WriteLine(time.Now(), id[len(id)-1:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		lines, err := s.ReadLog(t.Context(), r.ID, id, 1, 0)
		if err != nil || len(lines) != 1 || lines[0].Text != id[len(id)-1:] {
			t.Errorf("ReadLog(%q...) = %v, %v; want its own line", id[len(id)-5:], lines, err)
		}
	}
}
