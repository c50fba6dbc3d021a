package store_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// cpuTime is the CPU time (user and system) this process has used: the
// benchmarks report throughput per CPU second too, because wall time on a
// shared machine mostly measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportLines reports benchLines per iteration as lines per second and per CPU second.
func reportLines(b *testing.B, cpuStart time.Duration) {
	b.ReportMetric(float64(benchLines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if cpu := (cpuTime() - cpuStart).Seconds(); cpu > 0 {
		b.ReportMetric(float64(benchLines)*float64(b.N)/cpu, "lines/cpu-s")
	}
}

// benchLines is how many lines one step of the log benchmarks prints.
const benchLines = 1_000_000

// benchLine is a typical build log line (about 90 bytes).
func benchLine(i int) string {
	return fmt.Sprintf("[%7d] compiling conveyor.dev/conveyor/internal/pkg%03d/file_%04d.go ... ok (%d ms)", i, i%997, i%7919, i%113)
}

// BenchmarkLogWrite stores 1,000,000 lines through a LogWriter, as a step
// printing them would (target: at least 100,000 lines/s).
func BenchmarkLogWrite(b *testing.B) {
	s := storetest.NewTestStore(b)
	r := store.Run{Pipeline: "bench"}
	if err := s.CreateRun(b.Context(), &r); err != nil {
		b.Fatal(err)
	}
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = benchLine(i)
	}
	ts := time.Now()
	attempt := 0
	cpuStart := cpuTime()
	for b.Loop() {
		attempt++
		w, err := s.OpenLog(b.Context(), r.ID, "Build.Job.step", attempt)
		if err != nil {
			b.Fatal(err)
		}
		for i := range benchLines {
			if err := w.WriteLine(ts, lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportLines(b, cpuStart)
}

// BenchmarkLogWriteSQLiteRows is the alternative that was measured against
// log files: one row per line, inserted in transactions of 1,000 lines with
// a prepared statement. (It keeps fewer lines on a crash: the uncommitted batch.)
func BenchmarkLogWriteSQLiteRows(b *testing.B) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "rows.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE log_lines (run_id TEXT, record_id TEXT, attempt INTEGER, n INTEGER, ts INTEGER, text TEXT,
		PRIMARY KEY (run_id, record_id, attempt, n)) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = benchLine(i)
	}
	ts := time.Now().UnixNano()
	attempt := 0
	cpuStart := cpuTime()
	for b.Loop() {
		attempt++
		for start := 0; start < benchLines; start += 1000 {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			stmt, err := tx.Prepare(`INSERT INTO log_lines VALUES ('run', 'Build.Job.step', ?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			for i := start; i < start+1000; i++ {
				if _, err := stmt.Exec(attempt, i, ts, lines[i%len(lines)]); err != nil {
					b.Fatal(err)
				}
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportLines(b, cpuStart)
}

// BenchmarkReadLog reads back a 1,000,000-line log.
func BenchmarkReadLog(b *testing.B) {
	s := storetest.NewTestStore(b)
	r := store.Run{Pipeline: "bench"}
	if err := s.CreateRun(b.Context(), &r); err != nil {
		b.Fatal(err)
	}
	w, err := s.OpenLog(b.Context(), r.ID, "step", 1)
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Now()
	for i := range benchLines {
		if err := w.WriteLine(ts, benchLine(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	cpuStart := cpuTime()
	for b.Loop() {
		lines, err := s.ReadLog(b.Context(), r.ID, "step", 1, 0)
		if err != nil || len(lines) != benchLines {
			b.Fatalf("ReadLog: %d lines, %v", len(lines), err)
		}
	}
	reportLines(b, cpuStart)
}
