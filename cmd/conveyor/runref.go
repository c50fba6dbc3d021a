package main

import (
	"fmt"
	"strconv"
	"strings"
)

// runRef is what pickRun needs to know of a run.
type runRef struct {
	ID       string
	Pipeline string
	Number   int64
}

// pickRun resolves a RUN argument among runs when it is not a whole run
// ID: PIPELINE#N (run N of that pipeline), #N or N (run N of the only
// pipeline that has one), or the start of an ID. A reference that fits
// several runs is refused with their names, never guessed.
func pickRun(ref string, runs []runRef) (int, error) {
	var match []int
	pipeline, num, hasHash := strings.Cut(ref, "#")
	if !hasHash {
		pipeline, num = "", ref
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		for i, r := range runs {
			if r.Number == n && (pipeline == "" || strings.EqualFold(r.Pipeline, pipeline)) {
				match = append(match, i)
			}
		}
	}
	if len(match) == 0 && !hasHash && ref != "" {
		for i, r := range runs {
			if strings.HasPrefix(r.ID, strings.ToUpper(ref)) {
				match = append(match, i)
			}
		}
	}
	switch len(match) {
	case 0:
		return -1, &exitError{code: exitBadUser, err: fmt.Errorf("run %s not found: list runs with conveyor runs list", ref)}
	case 1:
		return match[0], nil
	}
	var names []string
	for _, i := range match {
		names = append(names, fmt.Sprintf("%s#%d (%s)", runs[i].Pipeline, runs[i].Number, runs[i].ID))
	}
	return -1, &exitError{code: exitBadUser, err: fmt.Errorf("run %s is ambiguous: it names %s; say PIPELINE#N or the run ID", ref, strings.Join(names, ", "))}
}
