package trigger

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// Archive returns the tree of commit in the mirror dir as a tar stream
// (git archive), limited to the folder sub ("" or "." for the whole tree);
// the entries' names are relative to sub. It fails when sub is not a folder
// of the commit.
func (g *Git) Archive(ctx context.Context, dir, commit, sub string) ([]byte, error) {
	sub = strings.Trim(path.Clean("/"+sub), "/")
	treeish := commit + "^{tree}"
	if sub != "" {
		out, err := runGit(ctx, dir, "cat-file", "-t", commit+":"+sub)
		if err != nil || strings.TrimSpace(string(out)) != "tree" {
			return nil, fmt.Errorf("path %s is not a folder of commit %s", sub, commit)
		}
		treeish = commit + ":" + sub
	}
	out, err := runGit(ctx, dir, "archive", "--format=tar", treeish)
	if err != nil {
		return nil, fmt.Errorf("archive %s of %s: %w", orRoot(sub), commit, err)
	}
	return out, nil
}

func orRoot(sub string) string {
	if sub == "" {
		return "/"
	}
	return sub
}
