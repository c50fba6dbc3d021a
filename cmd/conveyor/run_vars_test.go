package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
)

func TestRunPredefinedVariablesAndSecrets(t *testing.T) {
	r := runYAML(t, `
variables:
- name: outDir
  value: $(Build.ArtifactStagingDirectory)/out-$(later)
- name: later
  value: L
- name: plainVar
  value: plain-value
- name: locked
  value: original
  readonly: true
jobs:
- job: Vars
  steps:
  - script: |
      echo "id=$(Build.BuildId) env=$BUILD_BUILDID"
      echo "branch=$(Build.SourceBranch) name=$BUILD_SOURCEBRANCHNAME reason=$(Build.Reason)"
      echo "repo=$(Build.Repository.Name) def=$(Build.DefinitionName) by=$(Build.RequestedFor)"
      echo "job=$(System.JobName) stage=$SYSTEM_STAGENAME pos=$(System.JobPositionInPhase)/$(System.TotalJobsInPhase) attempt=$(System.JobAttempt)"
      echo "os=$AGENT_OS status=$(Agent.JobStatus)"
      test "$(Build.SourcesDirectory)" = "$PWD" && echo "cwd is sources"
      test "$(System.DefaultWorkingDirectory)" = "$BUILD_SOURCESDIRECTORY" && echo "default working dir"
      case "$(Build.ArtifactStagingDirectory)" in */a) echo "staging a";; esac
      case "$(Build.BinariesDirectory)" in */b) echo "binaries b";; esac
      case "$(Common.TestResultsDirectory)" in */TestResults) echo "test results";; esac
      test -d "$(Agent.TempDirectory)" && test -d "$AGENT_TOOLSDIRECTORY" && echo "agent dirs"
      test "$(Pipeline.Workspace)" = "$(Agent.BuildDirectory)" && echo "workspace"
      echo "plain=$PLAINVAR version=$(Build.SourceVersion)"
      test "$(outDir)" = "$BUILD_ARTIFACTSTAGINGDIRECTORY/out-L" && test "$OUTDIR" = "$(outDir)" && echo "nested macros"
      test -f src/main.txt && echo "checked out"
    name: show
  - script: |
      echo "##vso[task.setvariable variable=token;issecret=true]s3cr3t-value"
      echo "##vso[task.setvariable variable=locked]changed"
      echo "##vso[task.setvariable variable=Build.BuildId]99"
    name: set
  - script: |
      echo "macro: $(token)"
      echo "env: [$TOKEN]"
      echo "mapped: $MAPPED"
      echo "locked: $(locked) id: $(Build.BuildId)"
    name: use
    env:
      MAPPED: $(token)
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	show := r.logOf(t, "__default.Vars.show")
	want := []string{
		"id=1 env=1",
		"branch=refs/heads/main name=main reason=IndividualCI",
		"repo=app def=app by=Tess Ter",
		"job=Vars stage=__default pos=1/1 attempt=1",
		"os=Linux status=Succeeded",
		"cwd is sources", "default working dir", "staging a", "binaries b", "test results", "agent dirs", "workspace",
	}
	if diff := cmp.Diff(want, show[:len(want)]); diff != "" {
		t.Errorf("predefined variables (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(show[len(want)], "plain=plain-value version=") || len(show[len(want)]) != len("plain=plain-value version=")+40 {
		t.Errorf("plain variable / source version line: %q", show[len(want)])
	}
	if show[len(show)-2] != "nested macros" {
		t.Errorf("a variable naming another variable or a workspace directory: %q", show[len(show)-2])
	}
	if show[len(show)-1] != "checked out" {
		t.Errorf("checkout: last line %q", show[len(show)-1])
	}
	if diff := cmp.Diff([]string{"macro: ***", "env: []", "mapped: ***", "locked: original id: 1"}, r.logOf(t, "__default.Vars.use")); diff != "" {
		t.Errorf("secret and read-only handling (-want +got):\n%s", diff)
	}
	if j := r.job("__default.Vars"); j.Result != store.ResultSucceeded {
		t.Errorf("job result %s", j.Result)
	}
}

func TestRunPullRequestVariables(t *testing.T) {
	r := runYAML(t, `
steps:
- checkout: none
- script: |
    echo "$(Build.Reason) $(Build.SourceBranch) $(System.PullRequest.SourceBranch) $(System.PullRequest.TargetBranch)"
  name: pr
`, "--event", "pr", "--branch", "feature/x", "--target-branch", "main")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"PullRequest refs/pull/1/merge refs/heads/feature/x refs/heads/main"}, r.logOf(t, "__default.Job.pr")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRunCompileTimePredefinedVariables: "Template expressions" give
// ${{ variables }} the predefined variables known before the run, and they
// have the values the run gives them.
func TestRunCompileTimePredefinedVariables(t *testing.T) {
	r := runYAML(t, `
steps:
- checkout: none
- script: |
    echo "${{ variables['Build.DefinitionName'] }}|${{ variables['System.TeamProject'] }}|${{ variables['Build.Repository.Name'] }}|${{ variables['Build.RequestedFor'] }}|${{ variables['Build.SourceBranchName'] }}"
    echo "$(Build.DefinitionName)|$(System.TeamProject)|$(Build.Repository.Name)|$(Build.RequestedFor)|$(Build.SourceBranchName)"
  name: show
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := r.logOf(t, "__default.Job.show")
	if len(got) != 2 || got[0] != got[1] || got[0] != "app|app|app|Tess Ter|main" {
		t.Errorf("compile-time and run-time values differ or are wrong: %q", got)
	}
}

func TestRunCheckoutMultipleRepositories(t *testing.T) {
	other := writeRepo(t, "tools", map[string]string{"tool.sh": "echo tool\n"})
	r := runYAML(t, `
resources:
  repositories:
  - repository: tools
    type: git
    name: `+other+`
jobs:
- job: Multi
  steps:
  - checkout: self
  - checkout: tools
  - script: ls $(Build.SourcesDirectory) && test -f app/src/main.txt && bash tools/tool.sh
    name: list
- job: Deploy
  steps:
  - checkout: none
  - script: ls -A "$(Build.SourcesDirectory)" | wc -l
    name: empty
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %v", r.code, r.stderr, r.results())
	}
	if diff := cmp.Diff([]string{"app", "tools", "tool"}, r.logOf(t, "__default.Multi.list")); diff != "" {
		t.Errorf("multi checkout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0"}, r.logOf(t, "__default.Deploy.empty")); diff != "" {
		t.Errorf("checkout none (-want +got):\n%s", diff)
	}
}

func TestRunArtifactsAndTasks(t *testing.T) {
	r := runYAML(t, `
stages:
- stage: Build
  jobs:
  - job: Make
    steps:
    - script: |
        mkdir -p $(Build.BinariesDirectory)/out/sub
        echo bin > $(Build.BinariesDirectory)/out/app.bin
        echo nested > $(Build.BinariesDirectory)/out/sub/n.txt
      name: build
    - task: CopyFiles@2
      inputs:
        SourceFolder: $(Build.SourcesDirectory)/src
        Contents: '**/*.txt'
        TargetFolder: $(Build.ArtifactStagingDirectory)/copied
    - task: ArchiveFiles@2
      inputs:
        rootFolderOrFile: $(Build.BinariesDirectory)/out
        archiveType: tar
        archiveFile: $(Build.ArtifactStagingDirectory)/out.tar.gz
    - task: ArchiveFiles@2
      inputs:
        rootFolderOrFile: $(Build.BinariesDirectory)/out
        includeRootFolder: false
        archiveFile: $(Build.ArtifactStagingDirectory)/out.zip
    - publish: $(Build.ArtifactStagingDirectory)
      artifact: drop
    - script: |
        mkdir -p $(Common.TestResultsDirectory)
        cat > $(Common.TestResultsDirectory)/TEST-unit.xml <<'XML'
        <testsuites><testsuite name="unit"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase><testcase name="c"><skipped/></testcase></testsuite></testsuites>
        XML
      name: tests
    - task: PublishTestResults@2
      name: results
      inputs:
        testResultsFiles: '**/TEST-*.xml'
        searchFolder: $(Common.TestResultsDirectory)
        failTaskOnFailedTests: true
      continueOnError: true
- stage: Use
  dependsOn: Build
  condition: succeededOrFailed()
  jobs:
  - job: Get
    steps:
    - checkout: none
    - download: current
      artifact: drop
    - script: |
        cd $(Pipeline.Workspace)/drop
        find . -type f | sort
        tar -tzf out.tar.gz | sort
        unzip -Z1 out.zip | sort
      name: list
`)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %v", r.code, r.stderr, r.results())
	}
	r.want(t, map[string]store.Result{
		"Build.Make.results": store.ResultSucceededWithIssues, "Build.Make": store.ResultSucceededWithIssues,
		"Use.Get.list": store.ResultSucceeded,
	})
	if r.summary.Result != store.ResultSucceededWithIssues {
		t.Errorf("run result %s, want succeededWithIssues", r.summary.Result)
	}
	want := []string{"./copied/main.txt", "./out.tar.gz", "./out.zip", "out/app.bin", "out/sub/n.txt", "app.bin", "sub/n.txt"}
	if diff := cmp.Diff(want, r.logOf(t, "Use.Get.list")); diff != "" {
		t.Errorf("downloaded artifact (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Test results: 3 total, 1 passed, 1 failed, 1 skipped"}, r.summary.Summaries); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(r.data, "artifacts", r.summary.RunID, "drop", "out.zip")); err != nil {
		t.Errorf("artifact not stored under the data folder: %v", err)
	}
}
