package gitops

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"conveyor.dev/conveyor/internal/trigger"
)

// GitSource is a folder of a git repository at a branch, a tag or a
// commit, read through a bare mirror (trigger.Git: any git URL, local
// paths too).
type GitSource struct {
	// Mirrors keeps the bare mirrors. Required.
	Mirrors *trigger.Git
	// URL is the repository.
	URL string
	// Ref is a branch or tag name, a full ref (refs/heads/…, refs/tags/…)
	// or a full commit hash; empty means main.
	Ref string
	// Path is the folder inside the repository; empty means the root.
	Path string
}

var _ Source = (*GitSource)(nil)

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// String is url@ref[/path].
func (s *GitSource) String() string {
	out := "git " + redact(s.URL) + "@" + s.ref()
	if p := strings.Trim(s.Path, "/"); p != "" && p != "." {
		out += " path " + p
	}
	return out
}

func (s *GitSource) ref() string {
	if s.Ref == "" {
		return "main"
	}
	return s.Ref
}

// Fetch resolves the ref to a commit, mirrors it and writes the folder's
// files into dir. The revision is "<ref>@sha1:<commit>" ("sha1:<commit>"
// for a commit ref).
func (s *GitSource) Fetch(ctx context.Context, dir string) (string, error) {
	commit, name, err := s.resolve(ctx)
	if err != nil {
		return "", err
	}
	mirror, err := s.Mirrors.Sync(ctx, s.URL, commit)
	if err != nil {
		return "", err
	}
	tarball, err := s.Mirrors.Archive(ctx, mirror, commit, s.Path)
	if err != nil {
		return "", err
	}
	if _, err := extractTar(bytes.NewReader(tarball), dir, ""); err != nil {
		return "", fmt.Errorf("commit %s: %w", commit, err)
	}
	if name == "" {
		return "sha1:" + commit, nil
	}
	return name + "@sha1:" + commit, nil
}

// resolve returns the commit the ref names and the ref's short name (empty
// for a commit).
func (s *GitSource) resolve(ctx context.Context) (commit, name string, err error) {
	ref := s.ref()
	if commitHash.MatchString(ref) {
		return ref, "", nil
	}
	refs, err := s.Mirrors.LsRemote(ctx, s.URL)
	if err != nil {
		return "", "", err
	}
	cands := []string{"refs/heads/" + ref, "refs/tags/" + ref}
	if strings.HasPrefix(ref, "refs/") {
		cands = []string{ref}
	}
	for _, c := range cands {
		if sha, ok := refs[c]; ok {
			short := strings.TrimPrefix(strings.TrimPrefix(c, "refs/heads/"), "refs/tags/")
			return sha, short, nil
		}
	}
	var known []string
	for r := range refs {
		known = append(known, strings.TrimPrefix(strings.TrimPrefix(r, "refs/heads/"), "refs/tags/"))
	}
	sort.Strings(known)
	if len(known) > 10 {
		known = append(known[:10], "…")
	}
	return "", "", fmt.Errorf("ref %q is not a branch or tag of %s (it has %s): fix source.git.ref", ref, redact(s.URL), strings.Join(known, ", "))
}
