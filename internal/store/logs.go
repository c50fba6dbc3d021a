package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Logs are append-only files, one per record attempt, at
// <logDir>/<run>/<record>.<attempt>.log, each line "<RFC3339Nano> <text>\n",
// written with one write(2) per line so a line is safe from a process crash
// as soon as WriteLine returns. The logs table indexes them and says which
// are finished. (Measured: see BenchmarkLogWrite; rows in SQLite were slower.)

// maxNameLen keeps log file names under the usual 255-byte limit.
const maxNameLen = 200

// logPath returns where the log of a record attempt lives. A record ID too
// long for a file name is shortened, with a hash of the whole ID.
func (s *DB) logPath(runID, recordID string, attempt int) string {
	name := url.PathEscape(recordID)
	if len(name) > maxNameLen {
		sum := sha256.Sum256([]byte(recordID))
		name = name[:maxNameLen-33] + "-" + hex.EncodeToString(sum[:16])
	}
	return filepath.Join(s.logDir, url.PathEscape(runID), name+"."+strconv.Itoa(attempt)+".log")
}

func logKey(runID, recordID string, attempt int) string {
	return runID + "\x00" + recordID + "\x00" + strconv.Itoa(attempt)
}

// OpenLog opens the log of one record attempt for appending.
func (s *DB) OpenLog(ctx context.Context, runID, recordID string, attempt int) (LogWriter, error) {
	subject := fmt.Sprintf("open log of %s attempt %d in run %s", recordID, attempt, runID)
	if runID == "" || recordID == "" {
		return nil, fmt.Errorf("%s: run and record IDs are required", subject)
	}
	path := s.logPath(runID, recordID, attempt)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, runID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("run %s: %w", runID, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO logs (run_id, record_id, attempt, path, lines, closed) VALUES (?,?,?,?,0,0)
			ON CONFLICT (run_id, record_id, attempt) DO UPDATE SET closed = 0`, runID, recordID, attempt, path)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	lines, err := countLines(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	w := &fileLogWriter{s: s, f: f, runID: runID, recordID: recordID, attempt: attempt, lines: lines}
	w.live = s.live.acquire(logKey(runID, recordID, attempt))
	w.live.reopen()
	return w, nil
}

// countLines counts the complete lines of the file at path.
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// fileLogWriter is the LogWriter of DB.
type fileLogWriter struct {
	s        *DB
	f        *os.File
	live     *liveLog
	runID    string
	recordID string
	attempt  int
	lines    int64
	buf      []byte
	closed   bool
}

// WriteLine appends one line with one write(2); a line with newlines is stored as several.
func (w *fileLogWriter) WriteLine(ts time.Time, line string) error {
	if w.closed {
		return fmt.Errorf("write log of %s in run %s: writer closed", w.recordID, w.runID)
	}
	w.buf = w.buf[:0]
	n := int64(0)
	for {
		part, rest, more := strings.Cut(line, "\n")
		w.buf = ts.UTC().AppendFormat(w.buf, time.RFC3339Nano)
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, part...)
		w.buf = append(w.buf, '\n')
		n++
		if !more {
			break
		}
		line = rest
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("write log of %s in run %s: %w", w.recordID, w.runID, err)
	}
	w.lines += n
	w.live.notify()
	return nil
}

// Flush syncs the file to disk and records the line count in the index.
func (w *fileLogWriter) Flush() error {
	if w.closed {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("flush log of %s in run %s: %w", w.recordID, w.runID, err)
	}
	return w.updateIndex(false)
}

func (w *fileLogWriter) updateIndex(closed bool) error {
	c := 0
	if closed {
		c = 1
	}
	// The context is not the caller's: the index must be updated even when the run is being canceled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.s.db.ExecContext(ctx, `UPDATE logs SET lines = ?, closed = ? WHERE run_id = ? AND record_id = ? AND attempt = ?`,
		w.lines, c, w.runID, w.recordID, w.attempt); err != nil {
		return fmt.Errorf("update log index of %s in run %s: %w", w.recordID, w.runID, err)
	}
	return nil
}

// Close marks the log finished and wakes its tailers.
func (w *fileLogWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.f.Close()
	if err != nil {
		err = fmt.Errorf("close log of %s in run %s: %w", w.recordID, w.runID, err)
	}
	err = errors.Join(err, w.updateIndex(true))
	w.live.finish()
	w.s.live.release(w.live)
	return err
}

// ReadLog returns the lines stored so far from position from (0-based).
func (s *DB) ReadLog(ctx context.Context, runID, recordID string, attempt int, from int64) ([]LogLine, error) {
	subject := fmt.Sprintf("read log of %s attempt %d in run %s", recordID, attempt, runID)
	f, err := os.Open(s.logPath(runID, recordID, attempt))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", subject, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	defer f.Close()
	var out []LogLine
	r := &logReader{f: f}
	if err := r.read(from, func(l LogLine) error { out = append(out, l); return nil }); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	return out, nil
}

// logReader reads complete lines of a log file incrementally.
type logReader struct {
	f      *os.File
	offset int64 // bytes consumed
	n      int64 // lines consumed
	br     *bufio.Reader
}

// read calls fn for each new complete line at position >= from; a trailing
// line without its newline (being written, or torn by a crash) is left for later.
func (r *logReader) read(from int64, fn func(LogLine) error) error {
	if _, err := r.f.Seek(r.offset, io.SeekStart); err != nil {
		return err
	}
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.f, 256<<10)
	} else {
		r.br.Reset(r.f)
	}
	for {
		b, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: gather it whole.
			full := append([]byte(nil), b...)
			for err == bufio.ErrBufferFull {
				b, err = r.br.ReadSlice('\n')
				full = append(full, b...)
			}
			b = full
		}
		if err == io.EOF {
			return nil // b, if any, is an incomplete line
		}
		if err != nil {
			return err
		}
		r.offset += int64(len(b))
		n := r.n
		r.n++
		if n < from {
			continue
		}
		line, err := parseLogLine(n, b[:len(b)-1])
		if err != nil {
			return err
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

func parseLogLine(n int64, b []byte) (LogLine, error) {
	ts, text, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return LogLine{}, fmt.Errorf("line %d: no timestamp", n+1)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return LogLine{}, fmt.Errorf("line %d: %w", n+1, err)
	}
	return LogLine{N: n, Time: t, Text: string(text)}, nil
}

// TailLog calls fn for every line from position from, following the log
// until its writer closes it, fn returns an error (returned as is), or ctx
// ends. It waits for a log that does not exist yet.
func (s *DB) TailLog(ctx context.Context, runID, recordID string, attempt int, from int64, fn func(LogLine) error) error {
	subject := fmt.Sprintf("tail log of %s attempt %d in run %s", recordID, attempt, runID)
	live := s.live.acquire(logKey(runID, recordID, attempt))
	defer s.live.release(live)
	path := s.logPath(runID, recordID, attempt)
	ticker := time.NewTicker(s.poll)
	defer ticker.Stop()
	var r *logReader
	defer func() {
		if r != nil {
			r.f.Close()
		}
	}()
	checkIndex := true
	for {
		wake, finished := live.watch()
		if !finished && checkIndex {
			closed, err := s.logClosed(ctx, runID, recordID, attempt)
			if err != nil {
				return fmt.Errorf("%s: %w", subject, err)
			}
			finished = closed
		}
		if r == nil {
			f, err := os.Open(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s: %w", subject, err)
			}
			if f != nil {
				r = &logReader{f: f}
			}
		}
		if r != nil {
			var fnErr error
			err := r.read(from, func(l LogLine) error {
				if fnErr = fn(l); fnErr != nil {
					return fnErr
				}
				return nil
			})
			if fnErr != nil {
				return fnErr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", subject, err)
			}
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
			checkIndex = false
		case <-ticker.C:
			checkIndex = true
		}
	}
}

// logClosed reports whether the index marks the log finished.
func (s *DB) logClosed(ctx context.Context, runID, recordID string, attempt int) (bool, error) {
	var closed int
	err := s.db.QueryRowContext(ctx, `SELECT closed FROM logs WHERE run_id = ? AND record_id = ? AND attempt = ?`,
		runID, recordID, attempt).Scan(&closed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return closed == 1, err
}

// liveLogs tracks the logs that this process writes or tails, so writers
// wake tailers without polling.
type liveLogs struct {
	mu   sync.Mutex
	logs map[string]*liveLog
}

func newLiveLogs() *liveLogs { return &liveLogs{logs: map[string]*liveLog{}} }

// liveLog is the wake-up channel of one log.
type liveLog struct {
	key     string
	refs    int // guarded by liveLogs.mu
	waiting atomic.Bool
	mu      sync.Mutex
	ch      chan struct{} // closed and replaced on every change that a tailer waits for
	done    bool
}

func (l *liveLogs) acquire(key string) *liveLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	ll := l.logs[key]
	if ll == nil {
		ll = &liveLog{key: key, ch: make(chan struct{})}
		l.logs[key] = ll
	}
	ll.refs++
	return ll
}

func (l *liveLogs) release(ll *liveLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ll.refs--
	if ll.refs == 0 {
		delete(l.logs, ll.key)
	}
}

// watch returns a channel closed at the next change, and whether the writer has finished.
func (ll *liveLog) watch() (<-chan struct{}, bool) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	ll.waiting.Store(true)
	return ll.ch, ll.done
}

// notify wakes the tailers, if any wait; cheap when none does.
func (ll *liveLog) notify() {
	if !ll.waiting.Load() {
		return
	}
	ll.mu.Lock()
	ll.waiting.Store(false)
	close(ll.ch)
	ll.ch = make(chan struct{})
	ll.mu.Unlock()
}

func (ll *liveLog) reopen() {
	ll.mu.Lock()
	ll.done = false
	ll.mu.Unlock()
}

func (ll *liveLog) finish() {
	ll.mu.Lock()
	ll.done = true
	ll.mu.Unlock()
	ll.waiting.Store(true)
	ll.notify()
}
