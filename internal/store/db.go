package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"
)

// DB is the Store over a SQL database: SQLite (one file, WAL mode; the
// default) or PostgreSQL, with the same SQL for both (see dialect), plus
// append-only log files under a log folder. Safe for concurrent use, also
// by several processes on the same database.
type DB struct {
	db      *sql.DB
	dialect dialect
	logDir  string
	tempDir string // removed on Close (in-memory stores)
	now     func() time.Time
	ids     *idGen
	live    *liveLogs
	poll    time.Duration

	closeOnce sync.Once
}

// SQLite is DB under its former name, from when SQLite was the only
// database; new code names DB.
type SQLite = DB

var _ Store = (*DB)(nil)

// dialect is what differs between the databases. The store's SQL is
// written once, in the subset both understand: ? placeholders (rewritten
// for PostgreSQL by its connector), ON CONFLICT, RETURNING, "user" quoted.
type dialect struct {
	name string
	// migrations is the folder of migrationFS holding the dialect's
	// NNNN_*.sql files: the same versions for every dialect.
	migrations string
	// txOptions are those of write transactions (inTx).
	txOptions *sql.TxOptions
	// retryable reports whether a failed write transaction lost a race and
	// is worth running again.
	retryable func(error) bool
	// lockAudit, when set, runs before an audit entry is added, so entries
	// commit in the order of their sequence numbers.
	lockAudit string
}

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
// A PostgreSQL store needs it.
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

// IsPostgresURL reports whether dsn names a PostgreSQL database
// (postgres:// or postgresql://).
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating and migrating as needed) the store at dsn: a
// postgres:// or postgresql:// URL (which needs WithLogDir), a SQLite file
// path, or "file::memory:" for a private in-memory SQLite database whose
// logs go to a temporary folder. Errors never show a password of dsn. The
// caller must call Close.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{now: time.Now, poll: 200 * time.Millisecond}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("open store %s: %w", redactURL(dsn), err)
		}
	}
	s := &DB{now: o.now, poll: o.poll, live: newLiveLogs(), ids: newIDGen(), logDir: o.logDir}
	var err error
	if IsPostgresURL(dsn) {
		err = s.openPostgres(ctx, dsn)
	} else {
		err = s.openSQLite(ctx, dsn)
	}
	if err != nil {
		if s.db != nil {
			s.db.Close()
		}
		s.cleanup()
		return nil, err
	}
	return s, nil
}

func (s *DB) cleanup() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// Close closes the database. Log writers still open keep working on their
// files but can no longer update the index.
func (s *DB) Close() error {
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
func (s *DB) LogDir() string { return s.logDir }

// Dialect returns the database behind the store: "sqlite" or "postgres".
func (s *DB) Dialect() string { return s.dialect.name }

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

// maxTxAttempts bounds how often inTx retries a transaction that lost a
// race with another (PostgreSQL's serialization failures).
const maxTxAttempts = 50

// inTx runs fn in a write transaction. Write transactions are serializable
// on both databases (SQLite takes its write lock at BEGIN; PostgreSQL runs
// them SERIALIZABLE), so a read-modify-write in fn sees no concurrent
// change. PostgreSQL aborts the loser of a race instead of making it wait:
// inTx then runs fn again on the new state, so fn must have no effects
// outside the transaction but on variables it sets anew each call.
func (s *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || attempt == maxTxAttempts || !s.dialect.retryable(err) {
			return err
		}
		// Back off a random while, growing, so racers spread out.
		wait := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *DB) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, s.dialect.txOptions)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
