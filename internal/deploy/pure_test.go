package deploy

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseImage(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
	}{
		{"nginx", ImageRef{Repository: "nginx"}},
		{"nginx:1.27", ImageRef{Repository: "nginx", Tag: "1.27"}},
		{"127.0.0.1:5001/web", ImageRef{Repository: "127.0.0.1:5001/web"}},
		{"127.0.0.1:5001/team/web:v2", ImageRef{Repository: "127.0.0.1:5001/team/web", Tag: "v2"}},
		{"ghcr.io/a/b@sha256:abc", ImageRef{Repository: "ghcr.io/a/b", Digest: "sha256:abc"}},
		{"ghcr.io/a/b:v1@sha256:abc", ImageRef{Repository: "ghcr.io/a/b", Tag: "v1", Digest: "sha256:abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := ParseImage(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseImage(%q) (-want +got):\n%s", tt.in, diff)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestCanaryReplicas(t *testing.T) {
	tests := []struct {
		replicas int64
		pct      float64
		want     int64
	}{
		{4, 25, 1}, {10, 25, 3}, {10, 50, 5}, {3, 50, 2}, {1, 10, 1}, {0, 50, 1}, {8, 0, 1}, {5, 30, 2}, {10, 100, 10}, {7, 15, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d×%v%%", tt.replicas, tt.pct), func(t *testing.T) {
			if got := CanaryReplicas(tt.replicas, tt.pct); got != tt.want {
				t.Errorf("CanaryReplicas(%d, %v) = %d, want %d", tt.replicas, tt.pct, got, tt.want)
			}
		})
	}
}

func TestSubstituteImages(t *testing.T) {
	tests := []struct {
		name       string
		images     []string
		containers []string
		want       []string
		changed    int
	}{
		{"tag replaced", []string{"reg:5000/web:v1"}, []string{"reg:5000/web:v2"}, []string{"reg:5000/web:v2"}, 1},
		{"digest replaces tag", []string{"reg:5000/web:v1"}, []string{"reg:5000/web@sha256:1"}, []string{"reg:5000/web@sha256:1"}, 1},
		{"other repository untouched", []string{"reg:5000/web:v1", "redis:7"}, []string{"reg:5000/web:v2"}, []string{"reg:5000/web:v2", "redis:7"}, 1},
		{"untagged matches", []string{"web"}, []string{"web:v3"}, []string{"web:v3"}, 1},
		{"prefix is not a match", []string{"reg/web-api:v1"}, []string{"reg/web:v2"}, []string{"reg/web-api:v1"}, 0},
		{"none", []string{"web:v1"}, nil, []string{"web:v1"}, 0},
		{"bare name matches any registry", []string{"web", "team/api:1"}, []string{"127.0.0.1:5001/web@sha256:2", "reg.io/team/api:2"}, []string{"127.0.0.1:5001/web@sha256:2", "reg.io/team/api:2"}, 2},
		{"registry host is not bare", []string{"other.io/web:v1"}, []string{"reg.io/web:v2"}, []string{"other.io/web:v1"}, 0},
		{"exact match wins", []string{"web"}, []string{"reg.io/web:v2", "web:v9"}, []string{"web:v9"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deploymentWith(tt.images...)
			n := SubstituteImages([]*unstructured.Unstructured{d}, tt.containers)
			var got []string
			eachContainer(d, func(c map[string]any) { got = append(got, c["image"].(string)) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if n != tt.changed {
				t.Errorf("changed %d, want %d", n, tt.changed)
			}
		})
	}
}

func deploymentWith(images ...string) *unstructured.Unstructured {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": cs}}},
	}}
}

// mapResolver resolves tags from a fixed table.
type mapResolver map[string]string

func (m mapResolver) Digest(_ context.Context, ref string) (string, error) {
	if d, ok := m[ref]; ok {
		return d, nil
	}
	return "", fmt.Errorf("MANIFEST_UNKNOWN: %s", ref)
}

func TestResolveDigestsError(t *testing.T) {
	_, err := ResolveDigests(t.Context(), []*unstructured.Unstructured{deploymentWith("reg/web:missing")}, mapResolver{})
	want := "image reg/web:missing: resolve tag to a digest: MANIFEST_UNKNOWN: reg/web:missing (push the image first, or name it by digest)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestParseManifestsErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"apiVersion: v1\nkind: ConfigMap\n", "manifest m.yaml:1: object lacks metadata.name: every Kubernetes object needs apiVersion, kind and metadata.name"},
		{"---\n---\nkind: ConfigMap\nmetadata: {name: a}\n", "manifest m.yaml:3: object lacks apiVersion: every Kubernetes object needs apiVersion, kind and metadata.name"},
		{"a: [\n", "manifest m.yaml:1: yaml: line 1: "},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# the second\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [b}\n", "manifest m.yaml:5: yaml: line 7: "},
		{"- a\n- b\n", "manifest m.yaml:1: not a Kubernetes object"},
	}
	for _, tt := range tests {
		_, err := ParseManifests([]Manifest{{Name: "m.yaml", Data: []byte(tt.data)}})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ParseManifests(%q) error %v, want prefix %q", tt.data, err, tt.want)
		}
	}
}

// TestBuildGolden runs the pure build steps (substitute, pull secrets,
// pin to digests, annotate, sort) and the canary derivation on each
// testdata/golden/*.txt input: the manifests before a line "#### want",
// the expected objects after it. Run with -update to rewrite the expected
// part.
func TestBuildGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	resolver := mapResolver{
		"reg.local:5000/web:v2": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
		"redis:7":               "sha256:7777777777777777777777777777777777777777777777777777777777777777",
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			const sep = "#### want\n"
			in, want, _ := strings.Cut(string(data), sep)
			objs, err := ParseManifests([]Manifest{{Name: f, Data: []byte(in)}})
			if err != nil {
				t.Fatal(err)
			}
			SubstituteImages(objs, []string{"reg.local:5000/web:v2"})
			AddImagePullSecrets(objs, []string{"regcred"})
			digests, err := ResolveDigests(t.Context(), objs, resolver)
			if err != nil {
				t.Fatal(err)
			}
			PinImages(objs, digests)
			Annotate(objs, Metadata{Pipeline: "webapp-cd", Run: "run-1", RunNumber: 7, Commit: "0123456789abcdef"})
			SortForApply(objs)
			var out bytes.Buffer
			enc, err := EncodeManifests(objs)
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString("# built\n")
			out.Write(enc)
			stable := map[string]*unstructured.Unstructured{}
			for _, o := range objs {
				if IsCanaryWorkload(o) {
					live := o.DeepCopy()
					live.SetResourceVersion("42")
					live.SetUID("uid-1")
					live.Object["status"] = map[string]any{"replicas": int64(3)}
					stable[o.GetName()] = live
				}
			}
			canary, err := CanaryObjects(objs, Canary{Percentage: 25}, func(o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
				return stable[o.GetName()], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			enc, err = EncodeManifests(canary)
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString("---\n# canary at 25%\n")
			out.Write(enc)
			if *update {
				if err := os.WriteFile(f, []byte(in+sep+out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, out.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", f, diff)
			}
		})
	}
}
