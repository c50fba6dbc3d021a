package deploy

import (
	"strings"
	"testing"
)

func TestRenderKustomize(t *testing.T) {
	for _, dir := range []string{"base", "overlays/staging"} {
		t.Run(dir, func(t *testing.T) {
			got, err := RenderKustomize("testdata/kustomize/" + dir)
			if err != nil {
				t.Fatal(err)
			}
			helmGolden(t, "kustomize_render/"+strings.ReplaceAll(dir, "/", "-")+".yaml", got)
		})
	}
}

func TestRenderKustomizeErrors(t *testing.T) {
	tests := []struct {
		name, dir, want string
	}{
		{"missing resource", "testdata/kustomize/broken", "missing.yaml"},
		{"no kustomization", "testdata/helm", "render kustomization testdata/helm"},
		{"no folder", "testdata/none", "testdata/none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderKustomize(tt.dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RenderKustomize(%s) error = %v, want one containing %q", tt.dir, err, tt.want)
			}
		})
	}
}
