package task

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnknownInputs(t *testing.T) {
	tests := []struct {
		task   string
		inputs map[string]string
		want   []string
	}{
		{"Bash@3", map[string]string{"targetType": "inline", "SCRIPT": "x"}, nil},
		{"bash@3", map[string]string{"scirpt": "x"}, []string{"Bash@3 has no input scirpt: it is ignored (did you mean script?)"}},
		{"CopyFiles@2", map[string]string{"TargetFoldr": "out", "bogus": "1"}, []string{
			"CopyFiles@2 has no input TargetFoldr: it is ignored (did you mean TargetFolder?)",
			"CopyFiles@2 has no input bogus: it is ignored"}},
		// Aliases are inputs too.
		{"KubernetesManifest@1", map[string]string{"kubernetesServiceEndpoint": "c", "manifests": "m"}, nil},
		{"PublishPipelineArtifact@1", map[string]string{"path": "p", "artifactName": "a", "artifactType": "pipeline"}, nil},
		{"DownloadPipelineArtifact@2", map[string]string{"source": "specific", "runId": "1", "patterns": "**", "downloadPath": "d"}, nil},
		{"HelmDeploy@1", map[string]string{"kubernetesServiceEndpoint": "c", "chartType": "FilePath", "chartPath": "x"}, nil},
		// Tasks of Conveyor's own have no list and no warnings.
		{"PromoteImage@1", map[string]string{"anything": "x"}, nil},
	}
	for _, tt := range tests {
		got := UnknownInputs(tt.task, tt.inputs)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s %v (-want +got):\n%s", tt.task, tt.inputs, diff)
		}
	}
}

// TestMisspeltRequiredInput checks what a user sees when a required input
// is misspelt: the warning names the input written and the one meant, and
// the failure names the missing input.
func TestMisspeltRequiredInput(t *testing.T) {
	env, log := testEnv(t, map[string]string{"targetFolder_": "out"})
	tk, ok := Lookup("CopyFiles@2")
	if !ok {
		t.Fatal("CopyFiles@2 is not registered")
	}
	res, err := tk.Run(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Failed || !strings.Contains(res.Message, "input TargetFolder is required") {
		t.Errorf("result %+v, want Failed naming TargetFolder", res)
	}
	if want := "##[warning]CopyFiles@2 has no input targetFolder_: it is ignored (did you mean TargetFolder?)\n"; !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not contain %q", log.String(), want)
	}
}

// TestDocumentedInputsCoverWhatTasksRead keeps documentedInputs in step with
// the code: every input a task's file reads must be listed, or users of it
// would be warned that it is ignored.
func TestDocumentedInputsCoverWhatTasksRead(t *testing.T) {
	files := map[string][]string{
		"Bash@3":                     {"script.go"},
		"CopyFiles@2":                {"copy_files.go"},
		"ArchiveFiles@2":             {"archive_files.go"},
		"HelmDeploy@1":               {"helm_deploy.go"},
		"KubernetesManifest@1":       {"kubernetes_manifest.go", "kubernetes_manifest_bake.go", "kubernetes_manifest_gate.go"},
		"Kubernetes@1":               {"kubernetes.go"},
		"Docker@2":                   {"docker.go"},
		"AzureKeyVault@2":            {"azure_key_vault.go"},
		"PublishPipelineArtifact@1":  {"publish_pipeline_artifact.go"},
		"DownloadPipelineArtifact@2": {"download_pipeline_artifact.go"},
		"PublishTestResults@2":       {"publish_test_results.go"},
		"ManualValidation@1":         {"manual_validation.go"},
	}
	read := regexp.MustCompile(`(?:Input|BoolInput|intInput\(env,)\s*\(?"([A-Za-z.]+)"`)
	for task, fs := range files {
		inputs := map[string]string{}
		for _, f := range fs {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range read.FindAllStringSubmatch(string(src), -1) {
				inputs[m[1]] = "x"
			}
		}
		if len(inputs) == 0 {
			t.Errorf("%s: found no inputs read in %v", task, fs)
		}
		if got := UnknownInputs(task, inputs); len(got) > 0 {
			t.Errorf("%s reads inputs documentedInputs does not list:\n%s", task, strings.Join(got, "\n"))
		}
	}
}
