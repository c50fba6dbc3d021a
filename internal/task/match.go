package task

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"conveyor.dev/conveyor/internal/glob"
)

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
			if glob.Match(pat, rel) {
				ok = true
				break
			}
		}
		for _, pat := range excl {
			if ok && glob.Match(pat, rel) {
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
