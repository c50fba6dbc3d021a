package trigger

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestArchiveExportsAFolderOfACommit(t *testing.T) {
	repo := newGitRepo(t, map[string]string{"deploy/app.yaml": "a: 1\n", "deploy/sub/b.yaml": "b: 1\n", "README.md": "x"})
	first := repo.head()
	repo.commit("change", map[string]string{"deploy/app.yaml": "a: 2\n"})
	g := NewGit(t.TempDir())
	dir, err := g.Sync(t.Context(), repo.dir, first)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sub  string
		want map[string]string
	}{
		{"deploy", map[string]string{"app.yaml": "a: 1\n", "sub/b.yaml": "b: 1\n"}},
		{"/deploy/sub/", map[string]string{"b.yaml": "b: 1\n"}},
		{"", map[string]string{"README.md": "x", "deploy/app.yaml": "a: 1\n", "deploy/sub/b.yaml": "b: 1\n"}},
	} {
		out, err := g.Archive(t.Context(), dir, first, tt.sub)
		if err != nil {
			t.Fatalf("Archive(%q): %v", tt.sub, err)
		}
		if diff := cmp.Diff(tt.want, tarFiles(t, out)); diff != "" {
			t.Errorf("Archive(%q) (-want +got):\n%s", tt.sub, diff)
		}
	}
	for _, sub := range []string{"README.md", "nope"} {
		if _, err := g.Archive(t.Context(), dir, first, sub); err == nil || !strings.Contains(err.Error(), "is not a folder of commit") {
			t.Errorf("Archive(%q): %v, want not a folder", sub, err)
		}
	}
}

func tarFiles(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			out[h.Name] = string(data)
		}
	}
	return out
}
