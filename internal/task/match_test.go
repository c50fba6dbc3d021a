package task

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMatchFiles follows the examples of Azure's file matching patterns
// reference: ordered include/exclude, re-includes, double negation,
// comments, ** and the extended globs.
func TestMatchFiles(t *testing.T) {
	root := t.TempDir()
	files := []string{"a.txt", "b.js", ".hidden", "bin/x.dll", "bin/debug/y.dll", "src/hello.ts", "src/world.ts",
		"src/other.ts", "src/test/t.ts", "docs/readme.md", "lit/hello[a-z]"}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, patterns string
		want           []string
	}{
		{"all", "**", files},
		{"root only", "*", []string{".hidden", "a.txt", "b.js"}},
		{"exclude", "**\n!bin/**\n!src/**\n!docs/**\n!lit/**", []string{".hidden", "a.txt", "b.js"}},
		{"re-include after exclude", "src/**\n!src/**/*.ts\nsrc/test/**", []string{"src/test/t.ts"}},
		{"exclude before include has no effect", "!src/**\nsrc/hello.ts", []string{"src/hello.ts"}},
		{"double negation includes", "!!a.txt", []string{"a.txt"}},
		{"comment and blank", "# comment\n\n  docs/*.md  ", []string{"docs/readme.md"}},
		{"absolute", filepath.Join(root, "bin") + "/**/*.dll", []string{"bin/debug/y.dll", "bin/x.dll"}},
		{"@()", "src/@(hello|world).ts", []string{"src/hello.ts", "src/world.ts"}},
		{"!()", "src/!(hello|world).ts", []string{"src/other.ts"}},
		{"?()", "src/hello?(x).ts", []string{"src/hello.ts"}},
		{"+()", "+(a|b).*", []string{"a.txt", "b.js"}},
		{"*() and class", "src/*(h|e|l)o.ts\n[ab].txt", []string{"a.txt", "src/hello.ts"}},
		{"negated class", "[!a].*", []string{"b.js"}},
		{"escaping", "lit/hello[[]a-z]", []string{"lit/hello[a-z]"}},
		{"question mark", "src/?????.ts", []string{"src/hello.ts", "src/other.ts", "src/world.ts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := matchFiles(root, tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tt.want...)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%q (-want +got):\n%s", tt.patterns, diff)
			}
		})
	}
}
