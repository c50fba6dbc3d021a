package store

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/store/pgtest"
)

// TestAuditLogIsAppendOnlyInCode proves the store has no code path that
// changes or removes an audit entry: no statement of its source names
// audit_log after UPDATE or DELETE.
func TestAuditLogIsAppendOnlyInCode(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`(?is)(UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log|REPLACE\s+INTO\s+audit_log|INSERT\s+OR\s+REPLACE\s+INTO\s+audit_log|DROP\s+TABLE\s+audit_log)`)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if m := bad.Find(src); m != nil {
			t.Errorf("%s: %q changes the append-only audit log", f, m)
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

// TestAuditLogIsAppendOnlyInDatabase proves the database itself refuses to
// change or delete an entry, whoever asks.
func TestAuditLogIsAppendOnlyInDatabase(t *testing.T) {
	for _, db := range []struct {
		name    string
		dsn     func(t testing.TB) string
		refused []string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "c.db") },
			[]string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`}},
		{"postgres", pgtest.URL,
			[]string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`}},
	} {
		t.Run(db.name, func(t *testing.T) {
			s, err := Open(context.Background(), db.dsn(t), WithLogDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := t.Context()
			if err := s.AppendAudit(ctx, AuditEntry{Actor: "bob", Action: "approval.approved", RunID: "r"}); err != nil {
				t.Fatal(err)
			}
			for _, q := range db.refused {
				if _, err := s.db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: err = %v, want append-only refusal", q, err)
				}
			}
			got, err := s.ListAudit(ctx, AuditFilter{})
			if err != nil || len(got) != 1 || got[0].Actor != "bob" {
				t.Errorf("audit after attempts = %+v, %v", got, err)
			}
		})
	}
}
