package gitops

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
)

func refs(t *testing.T, dir string, o RenderOptions) []string {
	t.Helper()
	objs, err := Render(t.Context(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, obj := range objs {
		out = append(out, deploy.RefOf(obj).String())
	}
	return out
}

func TestRenderKinds(t *testing.T) {
	plain := writeDir(t, map[string]string{"b.yaml": extraConfigMap, "a/web.yml": webApp("x:1", 1), "notes.txt": "no", ".hidden/x.yaml": "bad: [",
		"list.json": `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}`})
	kust := writeDir(t, map[string]string{"kustomization.yaml": "namePrefix: dev-\nresources: [cm.yaml]\n", "cm.yaml": extraConfigMap})
	chart := writeDir(t, map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
		"values.yaml":            "greeting: hi\n",
		"prod.yaml":              "greeting: prod\n",
		"templates/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}-cm'}\ndata: {greeting: '{{ .Values.greeting }}', ns: '{{ .Release.Namespace }}'}\n",
		"templates/_helpers.tpl": "",
	})
	tests := []struct {
		name string
		dir  string
		o    RenderOptions
		want []string
	}{
		{"plain, recursive, in path order", plain, RenderOptions{}, []string{"Deployment/web", "ConfigMap/web-config", "ConfigMap/extra", "Secret/s"}},
		{"kustomize found", kust, RenderOptions{}, []string{"ConfigMap/dev-extra"}},
		{"kustomize folder read as plain", kust, RenderOptions{Type: config.RenderPlain}, []string{"ConfigMap/extra"}},
		{"helm found", chart, RenderOptions{ReleaseName: "rel", Namespace: "ns1"}, []string{"ConfigMap/rel-cm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, refs(t, tt.dir, tt.o)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	objs, err := Render(t.Context(), chart, RenderOptions{Type: config.RenderHelm, ReleaseName: "rel", Namespace: "ns1", Values: []string{"prod.yaml"}, Set: []string{"greeting=set"}})
	if err != nil {
		t.Fatal(err)
	}
	if data := objs[0].Object["data"].(map[string]any); data["greeting"] != "set" || data["ns"] != "ns1" {
		t.Errorf("helm values: %v, want --set to win and the namespace", data)
	}
	bad := writeDir(t, map[string]string{"ok.yaml": extraConfigMap, "bad.yaml": "kind: ConfigMap\napiVersion: v1\nmetadata: {}\n"})
	if _, err := Render(t.Context(), bad, RenderOptions{}); err == nil || !strings.Contains(err.Error(), "manifest bad.yaml:1") {
		t.Errorf("bad manifest: %v, want the file and line", err)
	}
}

func TestGitSourceRefs(t *testing.T) {
	repo := newGitRepo(t)
	c1 := repo.commit("one", map[string]string{"k/a.yaml": "v: 1\n", "top.yaml": "t: 1\n"})
	repo.git("tag", "v1")
	repo.git("tag", "-a", "v1-annotated", "-m", "annotated")
	c2 := repo.commit("two", map[string]string{"k/a.yaml": "v: 2\n"})
	repo.git("branch", "release", c1)
	m := mirrors(t)
	tests := []struct{ ref, path, wantRev, wantA string }{
		{"", "k", "main@sha1:" + c2, "v: 2\n"},
		{"v1", "k", "v1@sha1:" + c1, "v: 1\n"},
		{"v1-annotated", "k", "v1-annotated@sha1:" + c1, "v: 1\n"},
		{"refs/heads/release", "/k/", "release@sha1:" + c1, "v: 1\n"},
		{c1, "k", "sha1:" + c1, "v: 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			dir := t.TempDir()
			rev, err := (&GitSource{Mirrors: m, URL: repo.dir, Ref: tt.ref, Path: tt.path}).Fetch(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if rev != tt.wantRev {
				t.Errorf("revision %s, want %s", rev, tt.wantRev)
			}
			got := readDir(t, dir)
			if diff := cmp.Diff(map[string]string{"a.yaml": tt.wantA}, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (&GitSource{Mirrors: m, URL: repo.dir, Path: "top.yaml"}).Fetch(t.Context(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("path to a file: %v", err)
	}
}

func TestExtractTarRefusesEscapes(t *testing.T) {
	for _, n := range []string{"../evil.yaml", "/etc/evil.yaml", "a/../../evil.yaml"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
		tw.Close()
		if _, err := extractTar(&buf, t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "leaves the folder") {
			t.Errorf("entry %s: %v, want refused", n, err)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "link.yaml", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	tw.Close()
	dir := t.TempDir()
	if n, err := extractTar(&buf, dir, ""); err != nil || n != 0 || len(readDir(t, dir)) != 0 {
		t.Errorf("symlink: %d files, %v; want it skipped", n, err)
	}
}

func TestResultString(t *testing.T) {
	ok := Result{Name: "web", Revision: "main@sha1:abc", Health: Healthy, Duration: 1500 * time.Millisecond,
		Applied: deploy.ChangeSet{Entries: []deploy.ChangeSetEntry{{Ref: deploy.ObjectRef{Kind: "Deployment", Name: "web"}, Action: deploy.Configured}}},
		Pruned:  deploy.ChangeSet{Entries: []deploy.ChangeSetEntry{{Ref: deploy.ObjectRef{Kind: "ConfigMap", Name: "old"}, Action: deploy.Deleted}}}}
	failed := Result{Name: "web", Phase: PhaseFetch, Err: errors.New("gitops web: fetch: git /x@main: ref \"main\" is not a branch"), Duration: time.Second}
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{ok, "web at main@sha1:abc: 0 created, 1 configured, 0 unchanged, 1 pruned; healthy (1.5s)"},
		{failed, `web: fetch: git /x@main: ref "main" is not a branch (1s)`},
		{Result{Name: "web", Suspended: true}, "web: suspended"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
