package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
)

// testGit runs git in dir with a fixed identity.
func testGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Tess Ter", "GIT_AUTHOR_EMAIL=tess@example.com",
		"GIT_COMMITTER_NAME=Tess Ter", "GIT_COMMITTER_EMAIL=tess@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// writeRepo makes a git repository named name with files committed on main.
func writeRepo(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testGit(t, dir, "init", "-q", "-b", "main")
	testGit(t, dir, "config", "user.name", "Tess Ter")
	testGit(t, dir, "config", "user.email", "tess@example.com")
	for f, content := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testGit(t, dir, "add", "-A")
	testGit(t, dir, "commit", "-q", "-m", "initial")
	return dir
}

// runResult is one `conveyor run --output json` through runPipeline.
type runResult struct {
	code    int
	summary runSummary
	stderr  string
	data    string
}

func runIn(t *testing.T, ctx context.Context, repo string, extra ...string) runResult {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	o := runOptions{file: filepath.Join(repo, "azure-pipelines.yml"), event: "push", output: "json", data: data}
	for i := 0; i < len(extra); i += 2 {
		switch extra[i] {
		case "--var":
			o.vars = append(o.vars, extra[i+1])
		case "--param":
			o.params = append(o.params, extra[i+1])
		case "--event":
			o.event = extra[i+1]
		case "--branch":
			o.branch = extra[i+1]
		case "--target-branch":
			o.target = extra[i+1]
		case "--data":
			o.data = extra[i+1]
		}
	}
	var stdout, stderr bytes.Buffer
	err := runPipeline(ctx, &stdout, &stderr, o)
	res := runResult{code: exitOK, stderr: stderr.String(), data: o.data}
	var ee *exitError
	if errors.As(err, &ee) {
		res.code = ee.code
	} else if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &res.summary); err != nil {
			t.Fatalf("run output is not JSON: %v\n%s", err, stdout.String())
		}
	}
	return res
}

func runYAML(t *testing.T, yaml string, extra ...string) runResult {
	t.Helper()
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": yaml, "src/main.txt": "source\n"})
	return runIn(t, t.Context(), repo, extra...)
}

// results flattens a run summary to record ID → result.
func (r runResult) results() map[string]store.Result {
	out := map[string]store.Result{}
	for _, s := range r.summary.Stages {
		out[s.ID] = s.Result
		for _, j := range s.Jobs {
			out[j.ID] = j.Result
			for _, st := range j.Steps {
				out[st.ID] = st.Result
			}
		}
	}
	return out
}

func (r runResult) job(id string) recordSummary {
	for _, s := range r.summary.Stages {
		for _, j := range s.Jobs {
			if j.ID == id {
				return j
			}
		}
	}
	return recordSummary{}
}

// logOf returns the log lines of a step's last attempt.
func (r runResult) logOf(t *testing.T, recordID string) []string {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(r.data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListRecords(t.Context(), r.summary.RunID)
	if err != nil {
		t.Fatal(err)
	}
	attempt := 0
	for _, rec := range recs {
		if rec.ID == recordID && rec.Attempt > attempt {
			attempt = rec.Attempt
		}
	}
	if attempt == 0 {
		t.Fatalf("no record %s in run %s", recordID, r.summary.RunID)
	}
	lines, err := st.ReadLog(t.Context(), r.summary.RunID, recordID, attempt, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// want checks the results of the named records.
func (r runResult) want(t *testing.T, want map[string]store.Result) {
	t.Helper()
	got := map[string]store.Result{}
	all := r.results()
	for id := range want {
		got[id] = all[id]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s\nall: %v\nstderr: %s", diff, all, r.stderr)
	}
}

func TestRunStagesConditionsAndOutputs(t *testing.T) {
	r := runYAML(t, `
variables:
  greeting: hello
stages:
- stage: Build
  jobs:
  - job: Compile
    steps:
    - script: echo "##vso[task.setvariable variable=ver;isOutput=true]1.2.3"
      name: setver
    - script: echo "$(greeting) $(setver.ver)"
      name: show
  - job: Fails
    steps:
    - checkout: none
    - script: exit 1
      name: boom
  - job: AfterFail
    dependsOn: Fails
    condition: failed()
    steps:
    - script: echo "Fails was $(res)"
      name: report
    variables:
      res: $[ dependencies.Fails.result ]
  - job: Reads
    dependsOn: Compile
    variables:
      ver: $[ dependencies.Compile.outputs['setver.ver'] ]
    steps:
    - script: echo "ver=$(ver)"
      name: read
- stage: Deploy
  dependsOn: Build
  condition: and(always(), eq(dependencies.Build.outputs['Compile.setver.ver'], '1.2.3'))
  jobs:
  - job: Use
    variables:
      v: $[ stageDependencies.Build.Compile.outputs['setver.ver'] ]
    steps:
    - script: echo "got $(v)"
      name: got
    - script: echo "never"
      name: disabled
      enabled: false
- stage: Skipped
  dependsOn: Build
  jobs:
  - job: J
    steps:
    - script: echo no
`)
	if r.code != exitFailed {
		t.Errorf("exit code %d, want %d (a job failed)", r.code, exitFailed)
	}
	r.want(t, map[string]store.Result{
		"Build": store.ResultFailed, "Build.Compile": store.ResultSucceeded, "Build.Fails": store.ResultFailed,
		"Build.AfterFail": store.ResultSucceeded, "Build.Reads": store.ResultSucceeded,
		"Deploy": store.ResultSucceeded, "Deploy.Use.got": store.ResultSucceeded, "Deploy.Use.disabled": store.ResultSkipped,
		"Skipped": store.ResultSkipped, "Skipped.J": store.ResultSkipped,
	})
	for id, want := range map[string][]string{
		"Build.Compile.show":     {"hello 1.2.3"},
		"Build.AfterFail.report": {"Fails was Failed"},
		"Build.Reads.read":       {"ver=1.2.3"},
		"Deploy.Use.got":         {"got 1.2.3"},
	} {
		if diff := cmp.Diff(want, r.logOf(t, id)); diff != "" {
			t.Errorf("log of %s (-want +got):\n%s", id, diff)
		}
	}
	if got := r.job("Build.Compile").Outputs["setver.ver"]; got != "1.2.3" {
		t.Errorf("Compile outputs: setver.ver = %q", got)
	}
}
