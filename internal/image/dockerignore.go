package image

import (
	"bufio"
	"bytes"
	"path"
	"strings"

	"conveyor.dev/conveyor/internal/glob"
)

// ignorer decides which build-context paths a .dockerignore excludes: each
// line is a pattern (path.Match per segment, ** for any number of
// segments); a pattern matching a directory excludes everything below it; a
// line starting with ! re-includes; the last matching line wins.
type ignorer struct {
	pats []ignorePattern
	// negations is set when some pattern re-includes: directories are then
	// walked even when excluded.
	negations bool
}

type ignorePattern struct {
	neg  bool
	segs []string
}

// parseIgnore reads .dockerignore contents.
func parseIgnore(src []byte) *ignorer {
	ig := &ignorer{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		if neg {
			line = strings.TrimSpace(line[1:])
			ig.negations = true
		}
		line = path.Clean(strings.TrimPrefix(strings.ReplaceAll(line, "\\", "/"), "/"))
		line = strings.TrimPrefix(line, "/")
		if line == "." || line == "" {
			continue
		}
		ig.pats = append(ig.pats, ignorePattern{neg: neg, segs: strings.Split(line, "/")})
	}
	return ig
}

// excluded reports whether rel (slash separated, relative to the context)
// is excluded.
func (ig *ignorer) excluded(rel string) bool {
	if ig == nil || rel == "." || rel == "" {
		return false
	}
	segs := strings.Split(rel, "/")
	out := false
	for _, p := range ig.pats {
		// The pattern matches rel or one of its parent directories.
		for n := 1; n <= len(segs); n++ {
			if glob.MatchSegments(p.segs, segs[:n]) {
				out = !p.neg
				break
			}
		}
	}
	return out
}
