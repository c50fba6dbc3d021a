package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestManifestBake(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		want   []string // substrings of the bundle
		docs   int
	}{
		{"helm", map[string]string{
			"renderType":    "helm",
			"helmChart":     "charts/web",
			"releaseName":   "shop",
			"namespace":     "staging",
			"overrideFiles": "charts/values-staging.yaml",
			"overrides":     "image.tag:2.0.0\nmessage:see http://x:80/a,b",
		}, []string{"name: shop-web", "namespace: staging", "replicas: 3", `image: "registry.example/web:2.0.0"`, `value: "see http://x:80/a,b"`}, 3},
		{"helm default render type", map[string]string{"helmChart": "charts/web"}, []string{"name: release-name-web", "namespace: default"}, 3},
		{"kustomize with containers", map[string]string{
			"renderType":        "kustomize",
			"kustomizationPath": "kustomize/base",
			"containers":        "registry.example/web@sha256:1111111111111111111111111111111111111111111111111111111111111111\nother.example/x:1",
		}, []string{"name: web", "image: registry.example/web@sha256:1111"}, 2},
		{"kustomize overlay", map[string]string{
			"renderType":        "kustomize",
			"kustomizationPath": "kustomize/overlays/staging",
		}, []string{"name: staging-web", "namespace: staging", "replicas: 3", "image: 127.0.0.1:5001/web@sha256:0123"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, log := testEnv(t, tt.inputs)
			bakeTestData(t, env)
			vars := helmCaptureVars(env)
			res, err := runManifestBake(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Succeeded {
				t.Fatalf("status %s: %s\n%s", res.Status, res.Message, log)
			}
			bundle := vars["manifestsBundle"]
			if dir := filepath.Dir(bundle); dir != env.Dirs.Temp || !strings.HasPrefix(filepath.Base(bundle), "baked-template-") {
				t.Errorf("manifestsBundle = %s, want a baked-template-*.yaml in %s", bundle, env.Dirs.Temp)
			}
			b, err := os.ReadFile(bundle)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("bundle lacks %q:\n%s", w, b)
				}
			}
			if got := bakeCountDocuments(b); got != tt.docs {
				t.Errorf("bundle has %d documents, want %d", got, tt.docs)
			}
		})
	}
}

func TestManifestBakeFailures(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"kompose", map[string]string{"renderType": "kompose", "dockerComposeFile": "compose.yaml"}, "renderType kompose is not supported"},
		{"unknown type", map[string]string{"renderType": "jsonnet"}, `renderType "jsonnet": use helm or kustomize`},
		{"no chart", map[string]string{"renderType": "helm"}, "input helmChart is required"},
		{"no kustomization", map[string]string{"renderType": "kustomize"}, "input kustomizationPath is required"},
		{"bad override", map[string]string{"helmChart": "charts/web", "overrides": "replicaCount=2"}, `"replicaCount=2" is not name:value`},
		{"broken kustomization", map[string]string{"renderType": "kustomize", "kustomizationPath": "kustomize/broken"}, "missing.yaml"},
		{"missing chart", map[string]string{"helmChart": "charts/none"}, "charts/none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := testEnv(t, tt.inputs)
			bakeTestData(t, env)
			vars := helmCaptureVars(env)
			res, err := runManifestBake(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Failed || !strings.Contains(res.Message, tt.want) {
				t.Fatalf("result %s %q, want Failed with %q", res.Status, res.Message, tt.want)
			}
			if diff := cmp.Diff(map[string]string{}, vars); diff != "" {
				t.Errorf("variables set on failure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBakeOverrides(t *testing.T) {
	got, err := bakeOverrides("a:1\n\n b.c : x:y \nd:1,2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a=1", "b.c=x:y", `d=1\,2`}, got); diff != "" {
		t.Errorf("bakeOverrides (-want +got):\n%s", diff)
	}
}

// bakeTestData copies the deploy package's chart and kustomizations into the
// sources of env.
func bakeTestData(t *testing.T, env *Env) {
	t.Helper()
	helmTestChart(t, env)
	if _, err := copyTree(filepath.Join("..", "deploy", "testdata", "kustomize"), filepath.Join(env.Dirs.Sources, "kustomize")); err != nil {
		t.Fatal(err)
	}
}
