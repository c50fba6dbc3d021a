package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The -update flag rewrites the golden files under testdata/. It is
// registered at init unless another test file of the package registered it
// already (package variables initialise before init functions run).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// helmGolden compares got with testdata/name, rewriting it under -update.
func helmGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRenderHelm(t *testing.T) {
	packaged, err := PackageHelmChart("testdata/helm/web", HelmPackageOptions{Destination: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts HelmRenderOptions
	}{
		{"defaults", HelmRenderOptions{Chart: "testdata/helm/web"}},
		{"release-values-overrides", HelmRenderOptions{
			Chart:       "testdata/helm/web",
			ReleaseName: "shop",
			Namespace:   "staging",
			ValueFiles:  []string{"testdata/helm/values-staging.yaml"},
			Overrides:   []string{"image.tag=2.0.0,unready=true", `message=a\,b`},
		}},
		{"string-override-crds-kube-version", HelmRenderOptions{
			Chart:           "testdata/helm/web",
			ReleaseName:     "shop",
			StringOverrides: []string{"image.tag=1.10"},
			IncludeCRDs:     true,
			KubeVersion:     "v1.37.2",
		}},
		{"packaged", HelmRenderOptions{Chart: packaged, ReleaseName: "shop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderHelm(t.Context(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			helmGolden(t, "helm_render/"+tt.name+".yaml", got)
		})
	}
}

func TestRenderHelmPackagedEqualsFolder(t *testing.T) {
	packaged, err := PackageHelmChart("testdata/helm/web", HelmPackageOptions{Destination: t.TempDir(), Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := filepath.Base(packaged), "web-0.1.0.tgz"; got != want {
		t.Errorf("package file = %s, want %s", got, want)
	}
	a, err := RenderHelm(t.Context(), HelmRenderOptions{Chart: "testdata/helm/web"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := RenderHelm(t.Context(), HelmRenderOptions{Chart: packaged})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("packaged chart renders differently (-folder +packaged):\n%s", diff)
	}
}

func TestRenderHelmErrors(t *testing.T) {
	tests := []struct {
		name string
		opts HelmRenderOptions
		want string
	}{
		{"no chart", HelmRenderOptions{}, "no chart given"},
		{"missing folder", HelmRenderOptions{Chart: "./testdata/helm/nope"}, "testdata/helm/nope"},
		{"repo chart", HelmRenderOptions{Chart: "stable/mysql"}, "chart repositories (repo/chart) are not supported"},
		{"bad set", HelmRenderOptions{Chart: "testdata/helm/web", Overrides: []string{"a[=b"}}, "values:"},
		{"missing values file", HelmRenderOptions{Chart: "testdata/helm/web", ValueFiles: []string{"testdata/none.yaml"}}, "none.yaml"},
		{"missing dependency", HelmRenderOptions{Chart: "testdata/helm/needsdep"}, "vendor the dependencies"},
		{"bad kube version", HelmRenderOptions{Chart: "testdata/helm/web", KubeVersion: "one"}, `kube version "one"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderHelm(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RenderHelm error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPickChartVersion(t *testing.T) {
	tags := []string{"0.1.0", "0.2.0", "1.0.0-rc.1", "1.0.0+build.1", "latest"}
	tests := []struct {
		constraint, want, err string
	}{
		{"", "1.0.0_build.1", ""},
		{"<0.2.0", "0.1.0", ""},
		{"~0.2", "0.2.0", ""},
		{">=2", "", "no chart version matches"},
		{"not a version", "", "neither a version nor a constraint"},
	}
	for _, tt := range tests {
		t.Run(tt.constraint, func(t *testing.T) {
			got, err := pickChartVersion(tags, tt.constraint)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("pickChartVersion(%q) = %q, want %q", tt.constraint, got, tt.want)
			}
		})
	}
}
