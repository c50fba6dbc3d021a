package store

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSQLIsPortable keeps the store's statements in the SQL that SQLite
// and PostgreSQL share: it fails on the SQLite-only forms most easily
// written (each with what to write instead).
func TestSQLIsPortable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct{ re, instead string }{
		{`(?i)INSERT\s+OR\s+(IGNORE|REPLACE)`, "INSERT … ON CONFLICT DO NOTHING / DO UPDATE"},
		{`\.LastInsertId\(`, "INSERT … RETURNING id, read with QueryRowContext"},
		{`(?i)strftime\(|datetime\('now'`, "a time from Go (s.now())"},
		{`(?i)\bAUTOINCREMENT\b`, "an identity column in migrations/postgres"},
		{`(?i)SELECT\s+user\b|,\s*user\s*,`, `"user" quoted (a reserved word in PostgreSQL)`},
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "sqlite.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, b := range bad {
			if m := regexp.MustCompile(b.re).Find(src); m != nil {
				t.Errorf("%s: %q runs on SQLite only: write %s", f, m, b.instead)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
