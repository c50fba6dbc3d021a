package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the CLI in dir and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	code := exitOK
	if err != nil {
		code = exitFailed
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		if ee, ok := err.(*exitError); !ok || ee.err != nil {
			errb.WriteString(err.Error())
		}
	}
	return out.String(), errb.String(), code
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLint(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		wantOut  string
		wantCode int
	}{
		{
			name:     "ok",
			files:    map[string]string{"azure-pipelines.yml": "steps:\n- script: echo hi\n"},
			args:     []string{"lint"},
			wantOut:  "ok\n",
			wantCode: exitOK,
		},
		{
			name:  "problems",
			files: map[string]string{"ci/pipeline.yml": "steps:\n- scirpt: echo hi\n- task: Bash\n"},
			args:  []string{"lint", "-f", "ci/pipeline.yml"},
			wantOut: "ci/pipeline.yml:2:3: steps[0]: unknown key \"scirpt\" (did you mean \"script\"?)\n" +
				"ci/pipeline.yml:3:9: steps[1].task: task \"Bash\": write the task as Name@MajorVersion, e.g. Bash@3\n",
			wantCode: exitFailed,
		},
		{
			name:     "template relative to the including file",
			files:    map[string]string{"ci/pipeline.yml": "steps:\n- template: steps.yml\n", "ci/steps.yml": "steps:\n- script: echo\n"},
			args:     []string{"lint", "-f", "ci/pipeline.yml"},
			wantOut:  "ok\n",
			wantCode: exitOK,
		},
		{
			name:     "warnings go to stderr",
			files:    map[string]string{"azure-pipelines.yml": "container: ubuntu:24.04\nsteps:\n- script: echo hi\n"},
			args:     []string{"lint"},
			wantOut:  "ok\n",
			wantCode: exitOK,
		},
		{
			name:     "missing file",
			files:    map[string]string{},
			args:     []string{"lint"},
			wantOut:  "",
			wantCode: exitBadUser,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			out, _, code := runCLI(t, dir, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	pipeline := `parameters:
- name: env
  type: string
  default: dev
  values: [dev, prod]
stages:
- stage: Build
  jobs:
  - job: B
    steps:
    - script: echo ${{ parameters.env }} $(v)
- ${{ if eq(variables['Build.SourceBranch'], 'refs/heads/main') }}:
  - stage: Deploy
    jobs:
    - job: D
      steps:
      - script: echo deploy
`
	dir := writeFiles(t, map[string]string{"azure-pipelines.yml": pipeline})

	t.Run("text on a feature branch", func(t *testing.T) {
		out, _, code := runCLI(t, dir, "plan", "--branch", "feature/x", "--param", "env=prod")
		if code != exitOK {
			t.Fatalf("exit code = %d", code)
		}
		want := "stage Build\n  job B\n    - Checkout self: checkout self\n    - CmdLine: CmdLine@2\n        | echo prod $(v)\n"
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})
	t.Run("json on main", func(t *testing.T) {
		out, _, code := runCLI(t, dir, "plan", "--branch", "refs/heads/main", "--var", "v=1", "--output", "json")
		if code != exitOK {
			t.Fatalf("exit code = %d", code)
		}
		var p struct {
			Stages []struct {
				Name      string   `json:"name"`
				DependsOn []string `json:"dependsOn"`
			} `json:"stages"`
			Variables []struct{ Name, Value string } `json:"variables"`
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Stages) != 2 || p.Stages[1].Name != "Deploy" || !cmp.Equal(p.Stages[1].DependsOn, []string{"Build"}) {
			t.Errorf("stages = %+v, want Build and Deploy after it", p.Stages)
		}
		if len(p.Variables) != 1 || p.Variables[0].Name != "v" || p.Variables[0].Value != "1" {
			t.Errorf("variables = %+v, want v=1", p.Variables)
		}
	})
	t.Run("bad param value", func(t *testing.T) {
		_, errOut, code := runCLI(t, dir, "plan", "--param", "env=qa")
		if code != exitFailed {
			t.Errorf("exit code = %d, want %d", code, exitFailed)
		}
		if !strings.Contains(errOut, `value "qa" is not allowed`) {
			t.Errorf("stderr = %q", errOut)
		}
	})
	for _, args := range [][]string{
		{"plan", "--event", "tag"},
		{"plan", "--output", "yaml"},
		{"plan", "--param", "novalue"},
		{"plan", "--nosuchflag"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if _, _, code := runCLI(t, dir, args...); code != exitBadUser {
				t.Errorf("exit code = %d, want %d", code, exitBadUser)
			}
		})
	}
}
