package observe_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// fanout tells several engine observers, as the server does.
type fanout []engine.Observer

func (f fanout) RunChanged(r store.Run) {
	for _, o := range f {
		o.RunChanged(r)
	}
}

func (f fanout) RecordChanged(rec store.Record) {
	for _, o := range f {
		o.RecordChanged(rec)
	}
}

func (f fanout) Line(rec store.Record, ts time.Time, text string) {
	for _, o := range f {
		o.Line(rec, ts, text)
	}
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

// newRepo makes a git repository with one commit and returns its path and
// commit.
func newRepo(t testing.TB) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "initial")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

// compile compiles a pipeline given as YAML.
func compile(t testing.TB, yml string, params map[string]string) *plan.Plan {
	t.Helper()
	p, err := pipeline.Compile(fstest.MapFS{"azure-pipelines.yml": {Data: []byte(yml)}}, "azure-pipelines.yml",
		pipeline.Options{Input: pipeline.Input{Event: pipeline.EventPush, Branch: "main", Params: params}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newEngine is the real engine with the local executor on st, telling obs.
func newEngine(t testing.TB, st engine.Store, obs engine.Observer) *engine.Engine {
	t.Helper()
	ex, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(st, ex, engine.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// cdPipeline deploys to staging, then to production; the production
// deploy fails when the parameter prodFails is true.
const cdPipeline = `
parameters:
- name: prodFails
  type: boolean
  default: false
stages:
- stage: Build
  jobs:
  - job: Build
    steps:
    - script: echo build
- stage: Staging
  jobs:
  - deployment: Web
    environment: staging.web
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deploy to staging
- stage: Production
  jobs:
  - deployment: Web
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deploy to production; test "${{ parameters.prodFails }}" != "True"
`

// engineInput is a push run of pipeline cd at commit of repo.
func engineInput(repo, commit string) engine.Input {
	return engine.Input{Pipeline: "cd", Repository: repo, Commit: commit, Branch: "main", Event: store.EventPush}
}
