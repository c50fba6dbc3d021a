package trigger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Git reads repositories through bare mirrors under one folder, with the
// git command line. Safe for concurrent use: each mirror is fetched by one
// caller at a time.
type Git struct {
	dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
	known map[string]bool // dir + "@" + commit present in the mirror
}

// NewGit keeps mirrors under dir (created when missing), one per URL.
func NewGit(dir string) *Git {
	return &Git{dir: dir, locks: map[string]*sync.Mutex{}, known: map[string]bool{}}
}

func (g *Git) lock(url string) *sync.Mutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.locks[url]
	if l == nil {
		l = &sync.Mutex{}
		g.locks[url] = l
	}
	return l
}

// mirrorDir is where the mirror of url lives.
func (g *Git) mirrorDir(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(g.dir, hex.EncodeToString(sum[:8])+".git")
}

// git runs git with args in dir and returns its standard output.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("git %s: %s: %w", strings.Join(args, " "), msg, err)
	}
	return out, nil
}

// Sync makes the mirror of url hold commit (fetching everything when it
// does not, or always when commit is empty) and returns the mirror's folder.
func (g *Git) Sync(ctx context.Context, url, commit string) (string, error) {
	dir := g.mirrorDir(url)
	if commit != "" && g.isKnown(dir, commit) {
		return dir, nil // objects stay in a mirror once fetched
	}
	l := g.lock(url)
	l.Lock()
	defer l.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(g.dir, 0o755); err != nil {
			return "", fmt.Errorf("mirror %s: %w", redactURL(url), err)
		}
		tmp, err := os.MkdirTemp(g.dir, ".clone-*")
		if err != nil {
			return "", fmt.Errorf("mirror %s: %w", redactURL(url), err)
		}
		defer os.RemoveAll(tmp)
		if _, err := runGit(ctx, g.dir, "clone", "--mirror", "--quiet", url, tmp); err != nil {
			return "", fmt.Errorf("mirror %s: %w", redactURL(url), err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return "", fmt.Errorf("mirror %s: %w", redactURL(url), err)
		}
	} else if commit == "" || !hasCommit(ctx, dir, commit) {
		if _, err := runGit(ctx, dir, "fetch", "--prune", "--quiet", "origin"); err != nil {
			return "", fmt.Errorf("mirror %s: %w", redactURL(url), err)
		}
	}
	if commit != "" {
		if !hasCommit(ctx, dir, commit) {
			return "", fmt.Errorf("mirror %s: commit %s not found after fetching", redactURL(url), commit)
		}
		g.mu.Lock()
		if len(g.known) >= maxKnownCommits {
			clear(g.known)
		}
		g.known[dir+"@"+commit] = true
		g.mu.Unlock()
	}
	return dir, nil
}

// maxKnownCommits bounds the memory of commits known to be mirrored.
const maxKnownCommits = 100000

func (g *Git) isKnown(dir, commit string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.known[dir+"@"+commit]
}

func hasCommit(ctx context.Context, dir, commit string) bool {
	_, err := runGit(ctx, dir, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// ChangedFiles lists the paths that differ between from and to in the
// mirror dir; with mergeBase it compares to with the merge base of both
// (what a pull request changes).
func (g *Git) ChangedFiles(ctx context.Context, dir, from, to string, mergeBase bool) ([]string, error) {
	rng := from + ".." + to
	if mergeBase {
		rng = from + "..." + to
	}
	out, err := runGit(ctx, dir, "diff", "--name-only", "--no-renames", rng)
	if err != nil {
		return nil, err
	}
	files := []string{}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			files = append(files, l)
		}
	}
	return files, nil
}

// CommitInfo returns the first line of commit's message and its author.
func (g *Git) CommitInfo(ctx context.Context, dir, commit string) (title, author string, err error) {
	out, err := runGit(ctx, dir, "log", "-1", "--format=%an%x00%s", commit)
	if err != nil {
		return "", "", err
	}
	a, t, _ := strings.Cut(strings.TrimSpace(string(out)), "\x00")
	return t, a, nil
}

// LsRemote lists the refs of url (branches and tags; peeled tags resolve to
// their commit) as ref → commit.
func (g *Git) LsRemote(ctx context.Context, url string) (map[string]string, error) {
	out, err := runGit(ctx, "", "ls-remote", "--heads", "--tags", url)
	if err != nil {
		return nil, fmt.Errorf("list refs of %s: %w", redactURL(url), err)
	}
	refs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		sha, ref, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		if base, peeled := strings.CutSuffix(ref, "^{}"); peeled {
			refs[base] = sha
			continue
		}
		if _, seen := refs[ref]; !seen {
			refs[ref] = sha
		}
	}
	return refs, nil
}

// FS is the tree of commit in the mirror dir, read-only, as an fs.FS for
// pipeline.Compile.
func (g *Git) FS(ctx context.Context, dir, commit string) fs.FS {
	return &gitFS{ctx: ctx, dir: dir, commit: commit}
}

type gitFS struct {
	ctx    context.Context
	dir    string
	commit string
}

func (f *gitFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	out, err := runGit(f.ctx, f.dir, "cat-file", "blob", f.commit+":"+name)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return out, nil
}

func (f *gitFS) Open(name string) (fs.File, error) {
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{name: path.Base(name), r: bytes.NewReader(data), size: int64(len(data))}, nil
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m, nil }
func (m *memFile) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Name() string               { return m.name }
func (m *memFile) Size() int64                { return m.size }
func (m *memFile) Mode() fs.FileMode          { return 0o444 }
func (m *memFile) ModTime() time.Time         { return time.Time{} }
func (m *memFile) IsDir() bool                { return false }
func (m *memFile) Sys() any                   { return nil }

var _ io.Reader = (*memFile)(nil)

// redactURL drops credentials from a URL for messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if slash := strings.Index(rest, "/"); slash < 0 || at < slash {
			rest = "***@" + rest[at+1:]
		}
	}
	return scheme + "://" + rest
}
