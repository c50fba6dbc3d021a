package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestManifestInputs(t *testing.T) {
	if diff := cmp.Diff([]string{"reg/web:v2", "reg/api@sha256:1", "redis:7"}, lines(" reg/web:v2\n\nreg/api@sha256:1 , redis:7\n")); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from file"), 0o644)
	tests := []struct {
		args    string
		want    map[string]string
		wantErr string
	}{
		{"--from-literal=user=admin --from-literal pass=s3=cret", map[string]string{"user": "admin", "pass": "s3=cret"}, ""},
		{"--from-file=a.txt --from-file=key=a.txt", map[string]string{"a.txt": "from file", "key": "from file"}, ""},
		{"--from-env-file=x", nil, "--from-env-file=x is not supported"},
		{"--from-literal=novalue", nil, `--from-literal "novalue": write key=value`},
		{"", nil, "no data"},
	}
	for _, tt := range tests {
		got, err := secretData(dir, splitArgs(tt.args))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("secretData(%q) error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("secretData(%q): %v", tt.args, err)
			continue
		}
		gotS := map[string]string{}
		for k, v := range got {
			gotS[k] = string(v)
		}
		if diff := cmp.Diff(tt.want, gotS); diff != "" {
			t.Errorf("secretData(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestReadManifests(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"k8s/a.yaml", "k8s/b.yml", "k8s/sub/c.yaml", "k8s/notes.txt", "other.yaml"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x: 1\n"), 0o644)
	}
	names := func(input string) ([]string, error) {
		ms, err := readManifests(dir, input)
		var out []string
		for _, m := range ms {
			rel, _ := filepath.Rel(dir, m.Name)
			out = append(out, filepath.ToSlash(rel))
		}
		return out, err
	}
	tests := []struct {
		input   string
		want    []string
		wantErr string
	}{
		{"other.yaml", []string{"other.yaml"}, ""},
		{"k8s", []string{"k8s/a.yaml", "k8s/b.yml"}, ""},
		{"k8s/**/*.yaml\nother.yaml\nk8s/a.yaml", []string{"k8s/a.yaml", "k8s/sub/c.yaml", "other.yaml"}, ""},
		{filepath.Join(dir, "other.yaml"), []string{"other.yaml"}, ""},
		{"missing.yaml", nil, "missing.yaml not found"},
		{"k8s/*.json", nil, "pattern k8s/*.json matches no file"},
		{"", nil, "input manifests is required"},
	}
	for _, tt := range tests {
		got, err := names(tt.input)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("readManifests(%q) error %v, want %q", tt.input, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("readManifests(%q): %v", tt.input, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("readManifests(%q) (-want +got):\n%s", tt.input, diff)
		}
	}
}

// TestManifestInputErrors checks the input errors KubernetesManifest@1
// gives before it reaches a cluster: each names the task and the input.
func TestManifestInputErrors(t *testing.T) {
	for _, tc := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"action": "redeploy", "kubernetesServiceConnection": "staging"}, `input action: "redeploy" is not known`},
		{map[string]string{"action": "deploy", "connectionType": "azureResourceManager"}, "input connectionType: azureResourceManager connections are not supported"},
		{map[string]string{"action": "deploy", "connectionType": "ssh"}, `input connectionType: "ssh" is not allowed`},
		{map[string]string{"action": "deploy", "kubernetesServiceConection": "staging"}, "input kubernetesServiceConnection is required"},
		// The alias kubernetesServiceEndpoint names the connection too: the
		// task gets as far as looking for conveyor.yaml's services.
		{map[string]string{"action": "deploy", "kubernetesServiceEndpoint": "staging"}, "no conveyor.yaml services"},
		{map[string]string{"action": "Deploy", "connectionType": "KubernetesServiceConnection", "kubernetesServiceConnection": "staging"}, "no conveyor.yaml services"},
	} {
		env, _ := testEnv(t, tc.inputs)
		res, err := runKubernetesManifest(t.Context(), env)
		if err != nil || res.Status != Failed || !strings.Contains(res.Message, tc.want) || !strings.HasPrefix(res.Message, "KubernetesManifest@1: ") {
			t.Errorf("%v: %+v %v, want Failed with %q", tc.inputs, res, err, tc.want)
		}
	}
}
