// Package glob matches slash-separated relative paths against patterns in
// which `**` stands for any number of path segments and every other segment
// follows path.Match: the dialect of .dockerignore files (internal/image)
// and of the file-matching inputs of built-in tasks (internal/task).
//
// It is a leaf: it imports only the standard library and must not import
// any package of the module.
package glob

import (
	"path"
	"strings"
)

// Match reports whether the slash-separated path rel matches pattern pat.
// A malformed segment (see path.Match) matches nothing.
func Match(pat, rel string) bool {
	return MatchSegments(strings.Split(pat, "/"), strings.Split(rel, "/"))
}

// MatchSegments reports whether the path segments name match the pattern
// segments pat, a "**" segment standing for any number of segments.
func MatchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if MatchSegments(pat[1:], name[i:]) {
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
