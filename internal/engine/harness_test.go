package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// harness runs plans with the real engine, the local executor, real git
// and a real SQLite store in a temporary folder.
type harness struct {
	t      *testing.T
	st     *store.SQLite
	data   string
	repo   string
	commit string
	eng    *engine.Engine
}

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes a git repository with files committed on main and returns
// its path and commit.
func newRepo(t testing.TB, files map[string]string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	if len(files) == 0 {
		files = map[string]string{"README.md": "hello\n"}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "initial")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

func newHarness(t *testing.T, opts ...engine.Option) *harness {
	t.Helper()
	h := &harness{t: t, data: t.TempDir()}
	h.st = storetest.NewTestStore(t)
	h.repo, h.commit = newRepo(t, nil)
	ex, err := local.New(h.data)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]engine.Option{engine.WithRetryDelay(func(int) time.Duration { return 0 })}, opts...)
	h.eng, err = engine.New(h.st, ex, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) input() engine.Input {
	return engine.Input{Pipeline: "test", Repository: h.repo, Commit: h.commit, Branch: "main", Event: store.EventPush}
}

// run runs p to its end with ctx and returns the outcome and records by ID.
func (h *harness) runCtx(ctx context.Context, p *plan.Plan, in engine.Input) (*engine.Outcome, map[string]store.Record) {
	h.t.Helper()
	out, err := h.eng.Run(ctx, p, in)
	if err != nil {
		h.t.Fatal(err)
	}
	recs, err := h.st.ListRecords(context.Background(), out.RunID)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]store.Record{}
	for _, r := range recs {
		if old, ok := m[r.ID]; !ok || r.Attempt > old.Attempt {
			m[r.ID] = r
		}
	}
	return out, m
}

func (h *harness) run(p *plan.Plan) (*engine.Outcome, map[string]store.Record) {
	h.t.Helper()
	return h.runCtx(h.t.Context(), p, h.input())
}

// log returns the text of a record attempt's log.
func (h *harness) log(runID, recordID string, attempt int) []string {
	h.t.Helper()
	lines, err := h.st.ReadLog(context.Background(), runID, recordID, attempt, 0)
	if err != nil {
		h.t.Fatalf("log of %s: %v", recordID, err)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

func script(name, src string) plan.Step {
	return plan.Step{Kind: plan.StepTask, Name: name, Task: "CmdLine@2", Inputs: map[string]string{"script": src}, Enabled: true}
}

func single(jobs ...plan.Job) *plan.Plan {
	return &plan.Plan{File: "azure-pipelines.yml", Stages: []plan.Stage{{Name: "__default", Jobs: jobs}}}
}

func job(name string, steps ...plan.Step) plan.Job {
	return plan.Job{Name: name, Kind: plan.KindJob, Steps: steps}
}

// results maps record IDs to their result, for the given IDs.
func results(recs map[string]store.Record, ids ...string) map[string]store.Result {
	out := map[string]store.Result{}
	for _, id := range ids {
		out[id] = recs[id].Result
	}
	return out
}
