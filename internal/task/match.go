package task

import (
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// filePattern is one line of a file-matching input: a slash-separated glob
// relative to the root, and whether it excludes.
type filePattern struct {
	segs    []string
	exclude bool
}

// parsePatterns reads newline-separated patterns as Azure's task library
// does: blank lines and lines starting with # are skipped, each leading !
// flips include to exclude (so !! includes again), and an absolute pattern
// under root is made relative to it.
func parsePatterns(root, patterns string) []filePattern {
	var out []filePattern
	for _, line := range strings.Split(patterns, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := false
		for strings.HasPrefix(line, "!") {
			neg = !neg
			line = line[1:]
		}
		if filepath.IsAbs(line) {
			if rel, err := filepath.Rel(root, line); err == nil {
				line = rel
			}
		}
		line = strings.TrimPrefix(filepath.ToSlash(line), "./")
		// minimatch negates a character class with [!…], path.Match with [^…].
		line = strings.ReplaceAll(line, "[!", "[^")
		out = append(out, filePattern{segs: strings.Split(line, "/"), exclude: neg})
	}
	return out
}

// matchPatterns reports whether rel is selected by pats, applied in order as
// Azure's task library applies them: an include pattern adds the paths it
// matches, an exclude pattern removes them from what the patterns before it
// selected, so a later include can bring back part of an excluded set.
func matchPatterns(pats []filePattern, rel string) bool {
	name := strings.Split(rel, "/")
	selected := false
	for _, p := range pats {
		if selected == p.exclude && matchSegs(p.segs, name) {
			selected = !p.exclude
		}
	}
	return selected
}

// matchFiles walks root and returns the relative (slash-separated) paths of
// regular files matching the newline-separated patterns (see
// parsePatterns and matchPatterns).
func matchFiles(root, patterns string) ([]string, error) {
	pats := parsePatterns(root, patterns)
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if matchPatterns(pats, rel) {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// matchSegs matches path segments against pattern segments, "**" standing
// for any number of segments.
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !matchSegment(pat[0], name[0]) {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchSegment matches one path segment against one pattern segment: the
// syntax of path.Match plus minimatch's extended globs ?(a|b), *(a|b),
// +(a|b), @(a|b) and !(a|b), which Azure's file matching patterns allow.
func matchSegment(pat, name string) bool {
	if !hasExtGlob(pat) {
		ok, err := path.Match(pat, name)
		return err == nil && ok
	}
	toks, rest, ok := parseExt(pat, false)
	if !ok || rest != "" {
		return false
	}
	return matchToks(toks, name)
}

func hasExtGlob(pat string) bool {
	for i := 0; i+1 < len(pat); i++ {
		if pat[i+1] == '(' && strings.ContainsRune("?*+@!", rune(pat[i])) {
			return true
		}
	}
	return false
}

// extTok is one element of an extended segment pattern: a plain glob
// fragment (matched with path.Match) or a group with its operator.
type extTok struct {
	glob string     // a single-character glob: a literal, ?, * or a [class]
	op   byte       // group operator: ? * + @ !; 0 for glob
	alts [][]extTok // group alternatives
}

// parseExt parses pat up to the end, or, inside a group, up to the closing
// parenthesis or a | (left in rest).
func parseExt(pat string, inGroup bool) ([]extTok, string, bool) {
	var toks []extTok
	for len(pat) > 0 {
		c := pat[0]
		switch {
		case inGroup && (c == ')' || c == '|'):
			return toks, pat, true
		case len(pat) > 1 && pat[1] == '(' && strings.IndexByte("?*+@!", c) >= 0:
			pat = pat[2:]
			var alts [][]extTok
			for {
				alt, rest, ok := parseExt(pat, true)
				if !ok || rest == "" {
					return nil, "", false
				}
				alts = append(alts, alt)
				pat = rest[1:]
				if rest[0] == ')' {
					break
				}
			}
			toks = append(toks, extTok{op: c, alts: alts})
		case c == '[':
			end := strings.IndexByte(pat[1:], ']')
			if end < 0 {
				return nil, "", false
			}
			toks = append(toks, extTok{glob: pat[:end+2]})
			pat = pat[end+2:]
		case c == '\\' && len(pat) > 1:
			toks = append(toks, extTok{glob: pat[:2]})
			pat = pat[2:]
		default:
			toks = append(toks, extTok{glob: pat[:1]})
			pat = pat[1:]
		}
	}
	return toks, "", true
}

// matchToks reports whether the whole of s matches toks, backtracking.
func matchToks(toks []extTok, s string) bool {
	if len(toks) == 0 {
		return s == ""
	}
	t := toks[0]
	if t.op == 0 {
		if t.glob == "*" {
			for k := 0; k <= len(s); k++ {
				if matchToks(toks[1:], s[k:]) {
					return true
				}
			}
			return false
		}
		if s == "" {
			return false
		}
		// One character (a rune) of s against a one-character glob.
		n := len(string([]rune(s)[0]))
		ok, err := path.Match(t.glob, s[:n])
		return err == nil && ok && matchToks(toks[1:], s[n:])
	}
	for k := 0; k <= len(s); k++ {
		if matchGroup(t, s[:k]) && matchToks(toks[1:], s[k:]) {
			return true
		}
	}
	return false
}

// matchGroup reports whether s as a whole matches the group t.
func matchGroup(t extTok, s string) bool {
	anyAlt := func(s string) bool {
		for _, a := range t.alts {
			if matchToks(a, s) {
				return true
			}
		}
		return false
	}
	switch t.op {
	case '@':
		return anyAlt(s)
	case '?':
		return s == "" || anyAlt(s)
	case '!':
		return !anyAlt(s)
	case '+', '*':
		if s == "" {
			return t.op == '*'
		}
		for k := 1; k <= len(s); k++ {
			if anyAlt(s[:k]) && (k == len(s) || matchGroup(extTok{op: '*', alts: t.alts}, s[k:])) {
				return true
			}
		}
	}
	return false
}
