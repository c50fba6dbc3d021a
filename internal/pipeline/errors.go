package pipeline

import (
	"fmt"
	"sort"
	"strings"

	"conveyor.dev/conveyor/internal/plan"
)

// Error is one problem found in a pipeline, at a source position. Path is the
// field path in the expanded pipeline, e.g. "stages[1].jobs[0].steps[2]".
type Error struct {
	File string
	Line int
	Col  int
	Path string
	Msg  string
}

// Error formats the problem as "file:line:col: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one compile, sorted by position.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Sort orders the list by file, line, column and message, and drops
// duplicates: the same problem at the same position (as in a template
// included several times) is reported once, with the first path.
func (l *ErrorList) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
	type key struct {
		file      string
		line, col int
		msg       string
	}
	seen := map[key]bool{}
	out := s[:0]
	for _, e := range s {
		k := key{e.File, e.Line, e.Col, e.Msg}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	*l = out
}

// Err returns nil for an empty list and the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// errs collects problems during one compile and caps their number.
type errs struct {
	list ErrorList
}

const maxErrors = 200

func (e *errs) add(pos plan.Pos, path, format string, a ...any) {
	if len(e.list) >= maxErrors {
		return
	}
	e.list = append(e.list, &Error{File: pos.File, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, a...)})
}

// suggest returns ` (did you mean "x"?)` when exactly one candidate is within
// edit distance 2 of key, and "" otherwise.
func suggest(key string, candidates []string) string {
	best, bestD, n := "", 3, 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(key), strings.ToLower(c))
		if d < bestD {
			best, bestD, n = c, d, 1
		} else if d == bestD {
			n++
		}
	}
	if best == "" || n != 1 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 99
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
