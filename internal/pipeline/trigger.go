package pipeline

import (
	"path"
	"strings"

	"conveyor.dev/conveyor/internal/plan"
)

// TriggerEvent is what happened in a repository, as trigger filters see it.
type TriggerEvent struct {
	// Ref is the pushed ref for a push ("refs/heads/main", "main",
	// "refs/tags/v1"), or the target branch of a pull request.
	Ref string
	// ChangedFiles are the repository-relative paths the push or pull
	// request changes; nil means unknown, and path filters then pass.
	ChangedFiles []string
	// Draft is true for a draft pull request.
	Draft bool
	// PR selects pull-request semantics (drafts).
	PR bool
}

// MatchTrigger reports whether a CI or PR trigger filter starts a run for
// the event. A nil filter is the default trigger (every branch); a filter
// with None set never matches. Branch and tag filters follow Azure
// Pipelines: short names mean refs/heads/<name>, '*' matches any run of
// characters (including '/'), '?' one character, a filter without
// wildcards also matches the branches below it ("releases" matches
// "releases/1.0"), and exclude wins over include. A tag push matches only
// tag filters (tags include or a "refs/tags/…" branch filter). Path filters
// need at least one changed file that is included and not excluded.
func MatchTrigger(f *plan.Filter, ev TriggerEvent) bool {
	ref := fullRef(ev.Ref)
	if f == nil {
		return !strings.HasPrefix(ref, "refs/tags/") || ev.PR
	}
	if f.None {
		return false
	}
	if ev.PR && ev.Draft && f.Drafts != nil && !*f.Drafts {
		return false
	}
	if !matchRef(f, ref) {
		return false
	}
	return matchPaths(f.PathsInclude, f.PathsExclude, ev.ChangedFiles)
}

func matchRef(f *plan.Filter, ref string) bool {
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		for _, p := range f.BranchesExclude {
			if refMatches(normalizeRefPattern(p), ref) {
				return false
			}
		}
		for _, p := range f.TagsExclude {
			if refMatches(strings.TrimPrefix(p, "refs/tags/"), tag) {
				return false
			}
		}
		for _, p := range f.TagsInclude {
			if refMatches(strings.TrimPrefix(p, "refs/tags/"), tag) {
				return true
			}
		}
		for _, p := range f.BranchesInclude {
			if strings.HasPrefix(p, "refs/tags/") && refMatches(p, ref) {
				return true
			}
		}
		return false
	}
	for _, p := range f.BranchesExclude {
		if refMatches(normalizeRefPattern(p), ref) {
			return false
		}
	}
	if len(f.BranchesInclude) == 0 {
		// Only excludes, or only tags/paths: every branch is included,
		// unless the filter names tags only.
		return len(f.TagsInclude) == 0 || len(f.PathsInclude) > 0 || len(f.BranchesExclude) > 0
	}
	for _, p := range f.BranchesInclude {
		if refMatches(normalizeRefPattern(p), ref) {
			return true
		}
	}
	return false
}

// normalizeRefPattern makes a branch filter a full-ref pattern.
func normalizeRefPattern(p string) string {
	p = strings.TrimSpace(p)
	if p == "*" || strings.HasPrefix(p, "refs/") {
		if p == "*" {
			return "refs/heads/*"
		}
		return p
	}
	return "refs/heads/" + p
}

// refMatches matches a ref (or tag name) against a pattern: wildcards, or a
// prefix ending at a '/' for patterns without wildcards.
func refMatches(pattern, ref string) bool {
	if strings.ContainsAny(pattern, "*?") {
		return wildcard(pattern, ref)
	}
	if strings.EqualFold(pattern, ref) {
		return true
	}
	p := strings.TrimSuffix(pattern, "/")
	return len(ref) > len(p) && strings.EqualFold(ref[:len(p)], p) && ref[len(p)] == '/'
}

// wildcard matches s against a pattern where '*' matches any run of
// characters and '?' exactly one, ignoring case.
func wildcard(pattern, s string) bool {
	return caseSensitiveWildcard(strings.ToLower(pattern), strings.ToLower(s))
}

// caseSensitiveWildcard is wildcard without case folding, for Git paths.
func caseSensitiveWildcard(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchPaths applies path filters: paths are relative to the repository
// root; a filter without wildcards matches the path and everything below
// it; when both an include and an exclude match a file, the more specific
// (longer) one wins, so an excluded folder can be re-included deeper.
// Path matching is case-sensitive, as Git paths are.
func matchPaths(include, exclude, files []string) bool {
	if files == nil || (len(include) == 0 && len(exclude) == 0) {
		return true
	}
	for _, f := range files {
		f = strings.TrimPrefix(path.Clean("/"+f), "/")
		inc := bestPath(include, f)
		if len(include) == 0 {
			inc = 0 // the root is included implicitly
		}
		if inc >= 0 && inc > bestPath(exclude, f) {
			return true
		}
	}
	return false
}

// bestPath returns the length of the longest pattern matching f, or -1.
func bestPath(patterns []string, f string) int {
	best := -1
	for _, p := range patterns {
		p = strings.Trim(strings.TrimSpace(p), "/")
		ok := false
		switch {
		case p == "" || p == "*":
			ok = true
		case strings.ContainsAny(p, "*?"):
			ok = caseSensitiveWildcard(p, f)
		default:
			ok = f == p || strings.HasPrefix(f, p+"/")
		}
		if ok && len(p) > best {
			best = len(p)
		}
	}
	return best
}

// PipelineRun is a completed run of another pipeline, as a pipeline
// resource trigger sees it.
type PipelineRun struct {
	// Branch is the run's source branch ("refs/heads/main" or "main").
	Branch string
	// Stages are the stages of the run that completed successfully.
	Stages []string
	// Tags are the run's tags.
	Tags []string
}

// MatchPipelineTrigger reports whether a pipeline resource's trigger
// (resources.pipelines[].trigger) starts a run for a completed run of the
// source pipeline. A nil filter never triggers (the resource has no
// trigger). Branch filters work as for CI triggers; every stage listed must
// have completed and every tag listed must be on the run.
func MatchPipelineTrigger(f *plan.Filter, run PipelineRun) bool {
	if f == nil || f.None {
		return false
	}
	ref := fullRef(run.Branch)
	for _, p := range f.BranchesExclude {
		if refMatches(normalizeRefPattern(p), ref) {
			return false
		}
	}
	if len(f.BranchesInclude) > 0 {
		ok := false
		for _, p := range f.BranchesInclude {
			if refMatches(normalizeRefPattern(p), ref) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return containsAllFold(run.Stages, f.StagesInclude) && containsAllFold(run.Tags, f.TagsInclude)
}

// containsAllFold reports whether have contains every element of want,
// ignoring case.
func containsAllFold(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.EqualFold(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
