package approval

import (
	"fmt"
	"strings"
)

// FullRef returns branch as a full ref: "main" becomes "refs/heads/main";
// a ref already starting with refs/ is kept.
func FullRef(branch string) string {
	if strings.HasPrefix(branch, "refs/") || branch == "" {
		return branch
	}
	return "refs/heads/" + branch
}

// BranchAllowed reports whether branch (short or full) matches one of the
// patterns; * in a pattern matches any run of characters, / included, and
// a pattern without refs/ is taken as a branch name under refs/heads/.
func BranchAllowed(patterns []string, branch string) bool {
	ref := FullRef(branch)
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "*" || (p != "" && wildcard(FullRef(p), ref)) {
			return true
		}
	}
	return false
}

// CheckBranch applies an environment's branch control to branch; the error
// names the environment, the branch and the allowed ones.
func CheckBranch(environment string, bc BranchControl, branch string) error {
	if BranchAllowed(bc.AllowedBranches, branch) {
		return nil
	}
	shown := FullRef(branch)
	if shown == "" {
		shown = "(no branch)"
	}
	return fmt.Errorf("environment %s: branch %s may not deploy here: the allowed branches are %s (environments.%s.checks.branchControl.allowedBranches in conveyor.yaml): deploy from one of them",
		environment, shown, strings.Join(bc.AllowedBranches, ", "), environment)
}

// wildcard matches s against p where * matches any run of characters.
func wildcard(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
