package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{"ordered", fstest.MapFS{
			"migrations/0002_more.sql": {Data: []byte("SELECT 2")},
			"migrations/0001_init.sql": {Data: []byte("SELECT 1")},
		}, []int{1, 2}, ""},
		{"gap", fstest.MapFS{
			"migrations/0001_init.sql": {Data: []byte("SELECT 1")},
			"migrations/0003_more.sql": {Data: []byte("SELECT 3")},
		}, []int{1, 3}, ""},
		{"duplicate", fstest.MapFS{
			"migrations/0001_init.sql":  {Data: []byte("SELECT 1")},
			"migrations/0001_other.sql": {Data: []byte("SELECT 1")},
		}, nil, "version 1 is also 0001_init.sql"},
		{"bad name", fstest.MapFS{
			"migrations/init.sql": {Data: []byte("SELECT 1")},
		}, nil, "init.sql: name must start with a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files, "migrations")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadMigrations error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].name != "0001_init.sql" {
		t.Errorf("embedded migrations = %v, want 0001_init.sql first", ms)
	}
}

// TestPostgresMigrationsMatchSQLite keeps the dialects' schemas in step:
// every version has a migration for each, under the same name.
func TestPostgresMigrationsMatchSQLite(t *testing.T) {
	names := func(dir string) []string {
		ms, err := loadMigrations(migrationFS, dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	if diff := cmp.Diff(names(sqliteDialect.migrations), names(postgresDialect.migrations)); diff != "" {
		t.Errorf("migrations of SQLite (-) and PostgreSQL (+) differ: write each schema change for both:\n%s", diff)
	}
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`UPDATE t SET a = '?', b = ? -- why?` + "\n" + `WHERE "we?ird" = ?`, `UPDATE t SET a = '?', b = $1 -- why?` + "\n" + `WHERE "we?ird" = $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	}
	for _, tt := range tests {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/data/conveyor.db", "/data/conveyor.db"},
		{"postgres://u:pw@db:5432/c?sslmode=disable", "postgres://u:xxxxx@db:5432/c?sslmode=disable"},
		{"postgresql://db/c?password=pw&sslmode=require", "postgresql://db/c?password=xxxxx&sslmode=require"},
		{"postgres://u:pw@db:port/c", "postgres://…"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func openRaw(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "raw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestFailedMigrationRollsBack(t *testing.T) {
	db := openRaw(t)
	ctx := context.Background()
	ms, err := loadMigrations(fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")},
	}, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(ctx, db, ms)
	if err == nil || !strings.Contains(err.Error(), "migration 0002_b.sql") {
		t.Fatalf("migrate error = %v, want one naming 0002_b.sql", err)
	}
	v, err := schemaVersion(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Errorf("schema version after a failed migration = %d, want 1", v)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("table b of the failed migration exists: the migration was not rolled back")
	}
	// Fixed, it applies.
	ms[1].sql = "CREATE TABLE b (x INTEGER);"
	if err := migrate(ctx, db, ms); err != nil {
		t.Fatalf("migrate after the fix: %v", err)
	}
	if v, _ := schemaVersion(ctx, db); v != 2 {
		t.Errorf("schema version = %d, want 2", v)
	}
}

func TestOpenMigratesOnceAndRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "conveyor.db")
	for range 2 { // the second open finds everything applied
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var rows int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		ms, _ := loadMigrations(migrationFS, "migrations")
		if rows != len(ms) {
			t.Errorf("schema_migrations has %d rows, want %d", rows, len(ms))
		}
		if _, err := s.db.Exec(`SELECT 1`); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: error = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"schema version 999", "upgrade conveyor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOpenSetsWALAndBusyTimeout(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	var timeout, fk int
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA busy_timeout`).Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"wal", 10000, 1}, []any{mode, timeout, fk}); diff != "" {
		t.Errorf("journal_mode, busy_timeout, foreign_keys (-want +got):\n%s", diff)
	}
}

func TestIDsSortByTime(t *testing.T) {
	g := newIDGen()
	base := fromNanos(sql.NullInt64{Int64: 1_700_000_000_000_000_000, Valid: true})
	prev := ""
	for i := range 2000 {
		ts := base.Add(time.Duration(i/10) * time.Millisecond) // several IDs per millisecond
		id := g.next(ts)
		if len(id) != 26 {
			t.Fatalf("ID %q has %d characters, want 26", id, len(id))
		}
		if id <= prev {
			t.Fatalf("ID %q does not sort after %q", id, prev)
		}
		prev = id
	}
}

func TestMigrationLandingBelowTheNewestIsApplied(t *testing.T) {
	db := openRaw(t)
	ctx := context.Background()
	first, err := loadMigrations(fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0004_d.sql": {Data: []byte("CREATE TABLE d (x INTEGER);")},
	}, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, first); err != nil {
		t.Fatal(err)
	}
	// A branch merged later brings version 2.
	later, err := loadMigrations(fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER);")},
		"migrations/0004_d.sql": {Data: []byte("CREATE TABLE d (x INTEGER);")},
	}, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, later); err != nil {
		t.Fatalf("migrate with a lower version added: %v", err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('a', 'b', 'd')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d of tables a, b, d exist, want 3", n)
	}
}
