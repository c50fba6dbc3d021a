package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var sqliteDialect = dialect{
	name:       "sqlite",
	migrations: "migrations",
	// BEGIN IMMEDIATE (_txlock) takes the write lock at once: write
	// transactions run one at a time and never need a retry.
	retryable: func(error) bool { return false },
}

// isMemoryDSN reports whether dsn names an in-memory database.
func isMemoryDSN(dsn string) bool {
	return dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:")
}

// openSQLite opens the SQLite database at dsn (a path, or file::memory:).
func (s *DB) openSQLite(ctx context.Context, dsn string) error {
	s.dialect = sqliteDialect
	params := "_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	var conn string
	if isMemoryDSN(dsn) {
		conn = "file::memory:?" + params
		if s.logDir == "" {
			tmp, err := os.MkdirTemp("", "conveyor-logs-")
			if err != nil {
				return fmt.Errorf("open store %s: log folder: %w", dsn, err)
			}
			s.tempDir, s.logDir = tmp, tmp
		}
	} else {
		path := strings.TrimPrefix(dsn, "file:")
		if path == "" {
			return fmt.Errorf("open store: empty database path: pass a file path such as data/conveyor.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("open store %s: %w", path, err)
		}
		conn = "file:" + path + "?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
		if s.logDir == "" {
			s.logDir = filepath.Join(filepath.Dir(path), "logs")
		}
	}
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		return fmt.Errorf("open store %s: %w", dsn, err)
	}
	if isMemoryDSN(dsn) {
		db.SetMaxOpenConns(1) // every connection would get its own empty database
	}
	s.db = db
	ms, err := loadMigrations(migrationFS, s.dialect.migrations)
	if err == nil {
		err = migrate(ctx, db, ms)
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", dsn, err)
	}
	return nil
}
