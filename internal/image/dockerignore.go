package image

import (
	"bufio"
	"bytes"
	"path"
	"strings"
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
			if matchSegments(p.segs, segs[:n]) {
				out = !p.neg
				break
			}
		}
	}
	return out
}

// matchSegments matches name segments against pattern segments, ** standing
// for any number of segments.
func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
