package gitops

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/trigger"
)

var env *kubeenv.Env

func TestMain(m *testing.M) {
	os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 1}, &env))
}

// gitRepo is a real git repository in a temporary folder.
type gitRepo struct {
	t   testing.TB
	dir string
}

func newGitRepo(t testing.TB) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty content removes the file) and commits
// them; it returns the commit.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// startRegistry serves an embedded Conveyor registry on loopback and
// returns its host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// namespace creates a fresh namespace for the test.
func namespace(t testing.TB) string {
	t.Helper()
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(n) > 45 {
		n = n[:45]
	}
	n = strings.Trim(n, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	if _, err := env.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return n
}

func mirrors(t testing.TB) *trigger.Git { return trigger.NewGit(t.TempDir()) }

func newReconciler(t testing.TB, spec Spec, src Source, opts ...Option) *Reconciler {
	t.Helper()
	r, err := NewReconciler(spec, src, env.Config, append([]Option{WithWorkDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// reconcile runs one reconcile that must succeed.
func reconcile(t *testing.T, r *Reconciler) Result {
	t.Helper()
	res, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, env.Logs(20))
	}
	if res.Err != nil || res.Phase != "" {
		t.Fatalf("reconcile returned nil error but result %+v", res)
	}
	return res
}

// actions maps "Kind/name" to the action of a ChangeSet.
func actions(res Result) map[string]string {
	out := map[string]string{}
	for _, e := range res.Applied.Entries {
		out[e.Ref.String()] = string(e.Action)
	}
	for _, e := range res.Pruned.Entries {
		out[e.Ref.String()] = "pruned:" + string(e.Action)
	}
	return out
}

// manualClock is a Clock the test advances: After's channels fire on
// Fire; waiting receives a value each time a loop starts waiting.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []chan time.Time
	waiting chan time.Duration
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), waiting: make(chan time.Duration, 16)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers = append(c.timers, ch)
	c.mu.Unlock()
	c.waiting <- d
	return ch
}

// Fire advances the time by d and fires every pending timer.
func (c *manualClock) Fire(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, ch := range c.timers {
		ch <- c.now
	}
	c.timers = nil
}

// next waits for the next value of ch, or fails the test after a minute.
func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	case <-t.Context().Done():
		t.Fatalf("test ended waiting for %s", what)
		panic("unreachable")
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}

// readDir returns the files under dir by slash path.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
