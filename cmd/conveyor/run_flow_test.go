package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
)

func TestRunLoggingCommands(t *testing.T) {
	r := runYAML(t, `
steps:
- checkout: none
- script: |
    echo "##vso[task.logissue type=warning;sourcepath=src/a.go;linenumber=3]look here"
    echo "##vso[task.logissue type=error]bad but not fatal"
    echo "##vso[task.setsecret]hidden-value"
    echo "the hidden-value is masked"
    mkdir -p $(Agent.TempDirectory)/tool && printf '#!/bin/sh\necho tool ran\n' > $(Agent.TempDirectory)/tool/mytool && chmod +x $(Agent.TempDirectory)/tool/mytool
    echo "##vso[task.prependpath]$(Agent.TempDirectory)/tool"
    echo "##vso[build.addbuildtag]release"
    echo "# Summary" > $(Agent.TempDirectory)/summary.md
    echo "##vso[task.uploadsummary]$(Agent.TempDirectory)/summary.md"
    echo "##[group]Details"
    echo "inside"
    echo "##[endgroup]"
    echo "##vso[task.complete result=SucceededWithIssues;]partly done"
  name: cmds
- script: mytool
  name: path
- script: |
    echo "##vso[task.complete result=Failed;]nope"
  name: fails
  continueOnError: true
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	r.want(t, map[string]store.Result{
		"__default.Job.cmds": store.ResultSucceededWithIssues, "__default.Job.path": store.ResultSucceeded,
		"__default.Job.fails": store.ResultSucceededWithIssues, "__default.Job": store.ResultSucceededWithIssues,
	})
	var cmds recordSummary
	for _, s := range r.job("__default.Job").Steps {
		if s.ID == "__default.Job.cmds" {
			cmds = s
		}
	}
	if cmds.Errors != 1 || cmds.Warnings != 1 {
		t.Errorf("issue counts: %d errors, %d warnings; issues %+v", cmds.Errors, cmds.Warnings, cmds.Issues)
	}
	if len(cmds.Issues) > 0 && (cmds.Issues[0].File != "src/a.go" || cmds.Issues[0].Line != 3) {
		t.Errorf("issue position: %+v", cmds.Issues[0])
	}
	want := []string{"##[warning]look here", "##[error]bad but not fatal", "the *** is masked", "##[group]Details", "inside", "##[endgroup]", "partly done"}
	if diff := cmp.Diff(want, r.logOf(t, "__default.Job.cmds")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tool ran"}, r.logOf(t, "__default.Job.path")); diff != "" {
		t.Errorf("prependpath (-want +got):\n%s", diff)
	}
	if !slices.Contains(r.summary.Summaries, "# Summary\n") {
		t.Errorf("summaries %q lack the uploaded summary", r.summary.Summaries)
	}
	st, err := store.Open(t.Context(), filepath.Join(r.data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.GetRun(t.Context(), r.summary.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"release"}, run.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

func TestRunMatrixAndDeploymentHooks(t *testing.T) {
	r := runYAML(t, `
stages:
- stage: Test
  jobs:
  - job: Unit
    strategy:
      maxParallel: 1
      matrix:
        linux:
          flavour: penguin
        mac:
          flavour: apple
    steps:
    - checkout: none
    - script: |
        echo "$(flavour) $(System.JobPositionInPhase)/$(System.TotalJobsInPhase)"
        echo "##vso[task.setvariable variable=seen;isOutput=true]$(flavour)"
      name: leg
  - job: After
    dependsOn: Unit
    variables:
      fromLinux: $[ dependencies.Unit.outputs['linux.leg.seen'] ]
    steps:
    - checkout: none
    - script: echo "linux leg saw $(fromLinux)"
      name: read
- stage: Ship
  dependsOn: Test
  jobs:
  - deployment: Good
    environment: staging
    strategy:
      runOnce:
        preDeploy:
          steps:
          - script: echo "pre $(Strategy.CycleName)"
            name: pre
        deploy:
          steps:
          - script: echo "deploy to $(Environment.Name) with $(Strategy.Name)"
            name: dep
          - script: echo "##vso[task.setvariable variable=where;isOutput=true]there"
            name: out
        on:
          success:
            steps:
            - script: echo "success $(Strategy.CycleName)"
              name: ok
          failure:
            steps:
            - script: echo never
              name: bad
  - deployment: Bad
    environment: staging
    strategy:
      runOnce:
        deploy:
          steps:
          - script: exit 1
            name: dep
        on:
          failure:
            steps:
            - script: echo "rolling back"
              name: rollback
          success:
            steps:
            - script: echo never
              name: ok
  - job: ReadDeploy
    dependsOn: Good
    variables:
      where: $[ dependencies.Good.outputs['Good.out.where'] ]
    steps:
    - checkout: none
    - script: echo "deployed $(where)"
      name: read
`)
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d: %s", r.code, exitFailed, r.stderr)
	}
	for id, want := range map[string][]string{
		"Test.Unit_linux.leg":          {"penguin 1/2"},
		"Test.Unit_mac.leg":            {"apple 2/2"},
		"Test.After.read":              {"linux leg saw penguin"},
		"Ship.Good.preDeploy.pre":      {"pre PreIteration"},
		"Ship.Good.deploy.dep":         {"deploy to staging with runOnce"},
		"Ship.Good.on.success.ok":      {"success PostIteration"},
		"Ship.Bad.on.failure.rollback": {"rolling back"},
		"Ship.ReadDeploy.read":         {"deployed there"},
	} {
		if diff := cmp.Diff(want, r.logOf(t, id)); diff != "" {
			t.Errorf("log of %s (-want +got):\n%s", id, diff)
		}
	}
	all := r.results()
	for _, id := range []string{"Ship.Good.on.failure.bad", "Ship.Bad.on.success.ok"} {
		if res, ok := all[id]; ok {
			t.Errorf("hook step %s ran (%s)", id, res)
		}
	}
	r.want(t, map[string]store.Result{"Ship.Good": store.ResultSucceeded, "Ship.Bad": store.ResultFailed, "Ship": store.ResultFailed})
	// maxParallel 1: the legs ran one after the other.
	linux, mac := r.job("Test.Unit_linux"), r.job("Test.Unit_mac")
	if linux.Result != store.ResultSucceeded || mac.Result != store.ResultSucceeded {
		t.Errorf("legs: %s %s", linux.Result, mac.Result)
	}
}

func TestRunCancel(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
jobs:
- job: Long
  steps:
  - checkout: none
  - script: |
      echo started
      echo ready > ` + fifo + `
      sleep 600
    name: wait
  - script: echo "cleanup after cancel"
    name: cleanup
    condition: always()
  - script: echo "canceled() is $(status)"
    name: whencanceled
    condition: canceled()
- job: Next
  dependsOn: Long
  steps:
  - checkout: none
  - script: echo no
`})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		b, err := os.ReadFile(fifo)
		if err != nil || string(b) != "ready\n" {
			t.Errorf("ready fifo: %v %q", err, b)
		}
		cancel() // as SIGINT does through main's signal context
	}()
	r := runIn(t, ctx, repo)
	if r.code != exitFailed {
		t.Errorf("exit %d, want %d", r.code, exitFailed)
	}
	if r.summary.Result != store.ResultCanceled {
		t.Errorf("run result %s, want canceled", r.summary.Result)
	}
	r.want(t, map[string]store.Result{
		"__default.Long.wait": store.ResultCanceled, "__default.Long.cleanup": store.ResultSucceeded,
		"__default.Long.whencanceled": store.ResultSucceeded, "__default.Long": store.ResultCanceled,
		"__default.Next": store.ResultSkipped,
	})
	if diff := cmp.Diff([]string{"started", "##[error]The operation was canceled."}, r.logOf(t, "__default.Long.wait")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestRunBadInput(t *testing.T) {
	r := runYAML(t, `
steps:
- task: NoSuchTask@1
- script: echo hi
  bogus: true
`)
	if r.code != exitBadUser {
		t.Fatalf("exit %d, want %d", r.code, exitBadUser)
	}
	if !strings.Contains(r.stderr, "azure-pipelines.yml:3:") || !strings.Contains(r.stderr, "NoSuchTask@1") {
		t.Errorf("lint errors should name the file, line and task:\n%s", r.stderr)
	}
	if r.summary.RunID != "" {
		t.Errorf("a run was created for bad input: %+v", r.summary)
	}
	for _, flags := range [][]string{{"--event", "tag"}, {"--var", "novalue"}} {
		r := runYAML(t, "steps:\n- script: echo\n", flags...)
		if r.code != exitBadUser {
			t.Errorf("%v: exit %d, want %d", flags, r.code, exitBadUser)
		}
	}
}

func TestLintRejectsUnknownTask(t *testing.T) {
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": "steps:\n- task: Frobnicate@3\n- task: Bash@3\n  inputs:\n    targetType: inline\n    script: echo ok\n"})
	out, code := cli(t, "lint", "-f", filepath.Join(repo, "azure-pipelines.yml"))
	if code != exitFailed || !strings.Contains(out, "azure-pipelines.yml:2:") || !strings.Contains(out, "Frobnicate@3") {
		t.Errorf("lint: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "Bash@3 ") {
		t.Errorf("lint rejected a built-in task:\n%s", out)
	}
}

func TestRunUpdateBuildNumber(t *testing.T) {
	r := runYAML(t, `
name: $(Date:yyyy).$(Rev:r)
stages:
- stage: A
  jobs:
  - job: J
    steps:
    - checkout: none
    - script: |
        echo "before $(Build.BuildNumber)" | sed 's/[0-9]\{4\}\.1$/YYYY.1/'
        echo "##vso[build.updatebuildnumber]1.2.3-custom"
      name: set
    - script: echo "after $(Build.BuildNumber)"
      name: same
- stage: B
  jobs:
  - job: K
    steps:
    - checkout: none
    - script: echo "later $(Build.BuildNumber)"
      name: later
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for id, want := range map[string][]string{
		"A.J.set":   {"before YYYY.1"},
		"A.J.same":  {"after 1.2.3-custom"},
		"B.K.later": {"later 1.2.3-custom"},
	} {
		if diff := cmp.Diff(want, r.logOf(t, id)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
}

func TestRunsRetry(t *testing.T) {
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": "steps:\n- script: cat src.txt\n  name: show\n", "src.txt": "v1\n"})
	data := t.TempDir()
	first := runIn(t, t.Context(), repo, "--data", data)
	if first.code != exitOK {
		t.Fatalf("first run: exit %d %s", first.code, first.stderr)
	}
	// A new commit does not change what the retry builds.
	os.WriteFile(filepath.Join(repo, "src.txt"), []byte("v2\n"), 0o644)
	testGit(t, repo, "commit", "-qam", "v2")
	text, code := cli(t, "runs", "retry", first.summary.RunID, "--data", data, "--output", "json")
	if code != 0 {
		t.Fatalf("retry: exit %d\n%s", code, text)
	}
	var s runSummary
	if err := json.Unmarshal([]byte(text[max(0, strings.Index(text, "{\n  \"runId\"")):]), &s); err != nil {
		t.Fatalf("retry output: %v\n%s", err, text)
	}
	again := runResult{summary: s, data: data}
	if s.Number != 2 || s.Result != store.ResultSucceeded {
		t.Errorf("retry run #%d %s", s.Number, s.Result)
	}
	if diff := cmp.Diff([]string{"v1"}, again.logOf(t, "__default.Job.show")); diff != "" {
		t.Errorf("retry built another commit (-want +got):\n%s", diff)
	}
}
