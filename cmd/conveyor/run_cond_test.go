package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
)

func TestRunConditionArgumentsAndContinueOnError(t *testing.T) {
	r := runYAML(t, `
stages:
- stage: A
  jobs:
  - job: Ok
    steps:
    - checkout: none
    - script: |
        echo "##vso[task.setvariable variable=fixed;isreadonly=true]first"
      name: set
    - script: |
        echo "##vso[task.setvariable variable=fixed]second"
        echo "##vso[task.setvariable variable=free]yes"
        echo "##vso[task.setvariable variable=blocked]no"
      name: reset
      target:
        settableVariables:
        - fixed
        - free
    - script: echo 'fixed=$(fixed) free=$(free) blocked=$(blocked)'
      name: show
  - job: Flaky
    continueOnError: true
    steps:
    - checkout: none
    - script: exit 1
  - job: Broken
    steps:
    - checkout: none
    - script: exit 1
  - job: OnlyIfBrokenFailed
    dependsOn: [Ok, Broken]
    condition: failed('Broken')
    steps:
    - checkout: none
    - script: echo ran
  - job: NeedsBoth
    dependsOn: [Ok, Flaky]
    condition: succeeded('Ok', 'Flaky')
    steps:
    - checkout: none
    - script: echo ran
  - job: AfterAll
    dependsOn: [Ok, Broken]
    condition: succeededOrFailed()
    steps:
    - checkout: none
    - script: echo ran
  - job: CustomNoStatus
    dependsOn: Broken
    condition: eq(variables['Build.Reason'], 'IndividualCI')
    steps:
    - checkout: none
    - script: echo runs although Broken failed
- stage: B
  dependsOn: A
  condition: eq(dependencies.A.result, 'Failed')
  jobs:
  - job: Report
    steps:
    - checkout: none
    - script: echo "A failed"
`)
	if r.code != exitFailed {
		t.Errorf("exit %d, want %d", r.code, exitFailed)
	}
	r.want(t, map[string]store.Result{
		"A.Ok": store.ResultSucceeded, "A.Flaky": store.ResultSucceededWithIssues, "A.Broken": store.ResultFailed,
		"A.OnlyIfBrokenFailed": store.ResultSucceeded, "A.NeedsBoth": store.ResultSucceeded,
		"A.AfterAll": store.ResultSucceeded, "A.CustomNoStatus": store.ResultSucceeded,
		"A": store.ResultFailed, "B": store.ResultSucceeded, "B.Report": store.ResultSucceeded,
	})
	if diff := cmp.Diff([]string{"fixed=first free=yes blocked=$(blocked)"}, r.logOf(t, "A.Ok.show")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRunCounter(t *testing.T) {
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": `
variables:
  major: 1
  rev: $[counter(variables['major'], 100)]
jobs:
- job: A
  steps:
  - checkout: none
  - script: echo "$(major).$(rev)"
    name: show
- job: B
  steps:
  - checkout: none
  - script: echo "$(major).$(rev)"
    name: show
`})
	data := t.TempDir()
	for _, want := range []string{"1.100", "1.101"} {
		r := runIn(t, t.Context(), repo, "--data", data)
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, id := range []string{"__default.A.show", "__default.B.show"} {
			if diff := cmp.Diff([]string{want}, r.logOf(t, id)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", id, diff)
			}
		}
	}
}
