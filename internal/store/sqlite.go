package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLite is the default Store: one SQLite database file (WAL mode) plus
// append-only log files under <dir of the database>/logs. Safe for
// concurrent use, also by several processes on the same files.
type SQLite struct {
	db      *sql.DB
	logDir  string
	tempDir string // removed on Close (in-memory stores)
	now     func() time.Time
	ids     *idGen
	live    *liveLogs
	poll    time.Duration

	closeOnce sync.Once
}

var _ Store = (*SQLite)(nil)

// Option configures Open.
type Option func(*options) error

type options struct {
	now    func() time.Time
	logDir string
	poll   time.Duration
}

// WithClock makes the store read the time from now (CreatedAt, run IDs,
// reconciliation times).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("store clock: nil function")
		}
		o.now = now
		return nil
	}
}

// WithLogDir stores log files under dir instead of <dir of the database>/logs.
func WithLogDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return fmt.Errorf("store log dir: empty path")
		}
		o.logDir = dir
		return nil
	}
}

// WithTailPoll sets how often TailLog looks at a log written by another
// process (default 200ms); logs written by this process wake tailers at once.
func WithTailPoll(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("store tail poll interval %v: must be positive", d)
		}
		o.poll = d
		return nil
	}
}

// isMemoryDSN reports whether dsn names an in-memory database.
func isMemoryDSN(dsn string) bool {
	return dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:")
}

// Open opens (creating and migrating as needed) the SQLite store at dsn: a
// file path, or "file::memory:" for a private in-memory database whose logs
// go to a temporary folder. The caller must call Close.
func Open(ctx context.Context, dsn string, opts ...Option) (*SQLite, error) {
	o := options{now: time.Now, poll: 200 * time.Millisecond}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dsn, err)
		}
	}
	s := &SQLite{now: o.now, poll: o.poll, live: newLiveLogs()}
	s.ids = newIDGen()
	params := "_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	var conn string
	if isMemoryDSN(dsn) {
		conn = "file::memory:?" + params
		s.logDir = o.logDir
		if s.logDir == "" {
			tmp, err := os.MkdirTemp("", "conveyor-logs-")
			if err != nil {
				return nil, fmt.Errorf("open store %s: log folder: %w", dsn, err)
			}
			s.tempDir, s.logDir = tmp, tmp
		}
	} else {
		path := strings.TrimPrefix(dsn, "file:")
		if path == "" {
			return nil, fmt.Errorf("open store: empty database path: pass a file path such as data/conveyor.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		conn = "file:" + path + "?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
		s.logDir = o.logDir
		if s.logDir == "" {
			s.logDir = filepath.Join(filepath.Dir(path), "logs")
		}
	}
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	if isMemoryDSN(dsn) {
		db.SetMaxOpenConns(1) // every connection would get its own empty database
	}
	s.db = db
	ms, err := loadMigrations(migrationFS)
	if err == nil {
		err = migrate(ctx, db, ms)
	}
	if err != nil {
		db.Close()
		s.cleanup()
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	return s, nil
}

func (s *SQLite) cleanup() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// Close closes the database. Log writers still open keep working on their
// files but can no longer update the index.
func (s *SQLite) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.db.Close()
		s.cleanup()
	})
	if err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// LogDir returns the folder holding the log files.
func (s *SQLite) LogDir() string { return s.logDir }

// nanos converts t to the stored form: nil for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos converts a stored time back; NULL is the zero time.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// inTx runs fn in a write transaction.
func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
