package glob

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pat, path string
		want      bool
	}{
		{"**", "a/b/c.txt", true},
		{"*", "a.txt", true},
		{"*", "a/b.txt", false},
		{"**/*.txt", "a.txt", true},
		{"**/*.txt", "a/b/c.txt", true},
		{"**/*.txt", "a/b/c.go", false},
		{"src/**", "src/x/y", true},
		{"src/**", "src", true},
		{"src/**/TEST-*.xml", "src/a/TEST-1.xml", true},
		{"src/*.go", "src/a/b.go", false},
		{"a/b", "a", false},
		{"a", "a/b", false},
		{"[", "[", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s~%s", tt.pat, tt.path), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Match(tt.pat, tt.path)); diff != "" {
				t.Errorf("Match(%q, %q) (-want +got):\n%s", tt.pat, tt.path, diff)
			}
		})
	}
}
