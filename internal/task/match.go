package task

import (
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// matchPattern reports whether the slash-separated relative path rel matches
// the minimatch-style pattern pat: `**` matches any number of path segments,
// other segments follow path.Match.
func matchPattern(pat, rel string) bool {
	return matchSegs(strings.Split(pat, "/"), strings.Split(rel, "/"))
}

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

// matchFiles walks root and returns the relative (slash-separated) paths of
// regular files matching the newline-separated patterns; a pattern starting
// with ! excludes. Patterns may be absolute under root.
func matchFiles(root, patterns string) ([]string, error) {
	var incl, excl []string
	for _, line := range strings.Split(patterns, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		if filepath.IsAbs(line) {
			if rel, err := filepath.Rel(root, line); err == nil {
				line = rel
			}
		}
		line = strings.TrimPrefix(filepath.ToSlash(line), "./")
		if neg {
			excl = append(excl, line)
		} else {
			incl = append(incl, line)
		}
	}
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
		ok := false
		for _, pat := range incl {
			if matchPattern(pat, rel) {
				ok = true
				break
			}
		}
		for _, pat := range excl {
			if ok && matchPattern(pat, rel) {
				ok = false
			}
		}
		if ok {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
