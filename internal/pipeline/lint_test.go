package pipeline

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLintChecksPushAndPR(t *testing.T) {
	fsys := fstest.MapFS{"azure-pipelines.yml": {Data: []byte(`steps:
- ${{ if eq(variables['Build.Reason'], 'PullRequest') }}:
  - scirpt: echo only in pull requests
- script: echo always
`)}}
	got, _ := Lint(fsys, "azure-pipelines.yml", Options{})
	want := `azure-pipelines.yml:3:5: steps[0]: unknown key "scirpt" (did you mean "script"?)`
	if diff := cmp.Diff(want, got.Error()); diff != "" {
		t.Errorf("Lint (-want +got):\n%s", diff)
	}
	if got, _ := Lint(fsys, "azure-pipelines.yml", Options{Input: Input{Event: EventPush}}); len(got) != 0 {
		t.Errorf("Lint for push = %v, want no problems", got)
	}
}
