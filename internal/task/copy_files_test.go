package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCopyFilesInputs follows CopyFiles@2's reference: OverWrite,
// CleanTargetFolder, flattenFolders, preserveTimestamp, files only, and clear errors for bad inputs.
func TestCopyFilesInputs(t *testing.T) {
	setup := func(t *testing.T, inputs map[string]string) (*Env, string) {
		env, _ := testEnv(t, inputs)
		writeFiles(t, env.Dirs.Sources, map[string]string{"a.txt": "new a", "d/b.txt": "new b", "d/e/c.txt": "new c"})
		if err := os.MkdirAll(filepath.Join(env.Dirs.Sources, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(env.Dirs.ArtifactStaging, "out")
		writeFiles(t, out, map[string]string{"a.txt": "old a", "stale.txt": "old"})
		env.Inputs["TargetFolder"] = out
		return env, out
	}
	read := func(t *testing.T, p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	t.Run("no overwrite keeps existing files", func(t *testing.T) {
		env, out := setup(t, map[string]string{})
		if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%+v %v", res, err)
		}
		if got := read(t, filepath.Join(out, "a.txt")); got != "old a" {
			t.Errorf("a.txt = %q, want the old content", got)
		}
		if _, err := os.Stat(filepath.Join(out, "empty")); !os.IsNotExist(err) {
			t.Errorf("an empty folder was copied (%v): Azure copies files only", err)
		}
	})
	t.Run("overwrite and clean", func(t *testing.T) {
		env, out := setup(t, map[string]string{"OverWrite": "true", "CleanTargetFolder": "TRUE"})
		if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%+v %v", res, err)
		}
		got, _ := matchFiles(out, "**")
		if diff := cmp.Diff([]string{"a.txt", "d/b.txt", "d/e/c.txt"}, got); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
		if got := read(t, filepath.Join(out, "a.txt")); got != "new a" {
			t.Errorf("a.txt = %q, want it overwritten", got)
		}
	})
	t.Run("flatten", func(t *testing.T) {
		env, out := setup(t, map[string]string{"Contents": "d/**", "flattenFolders": "true", "CleanTargetFolder": "true"})
		if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%+v %v", res, err)
		}
		got, _ := matchFiles(out, "**")
		if diff := cmp.Diff([]string{"b.txt", "c.txt"}, got); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
	})
	t.Run("preserveTimestamp", func(t *testing.T) {
		env, out := setup(t, map[string]string{"Contents": "d/b.txt", "preserveTimestamp": "true"})
		old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(env.Dirs.Sources, "d", "b.txt"), old, old); err != nil {
			t.Fatal(err)
		}
		if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%+v %v", res, err)
		}
		st, err := os.Stat(filepath.Join(out, "d", "b.txt"))
		if err != nil || !st.ModTime().Equal(old) {
			t.Errorf("copied b.txt mtime %v (%v), want %v", st.ModTime(), err, old)
		}
		env.Inputs = map[string]string{"Contents": "a.txt", "TargetFolder": filepath.Join(out, "plain"), "preserveTimestamp": "false"}
		if err := os.Chtimes(filepath.Join(env.Dirs.Sources, "a.txt"), old, old); err != nil {
			t.Fatal(err)
		}
		if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%+v %v", res, err)
		}
		if st, err := os.Stat(filepath.Join(out, "plain", "a.txt")); err != nil || st.ModTime().Equal(old) {
			t.Errorf("without preserveTimestamp the copy kept the source time (%v)", err)
		}
	})
	for _, tc := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"TargetFolder": ""}, "input TargetFolder is required"},
		{map[string]string{"retryCount": "many"}, "input retryCount"},
		{map[string]string{"OverWrite": "yes please"}, "input OverWrite"},
		{map[string]string{"SourceFolder": "nope"}, "source folder"},
	} {
		env, _ := setup(t, map[string]string{})
		for k, v := range tc.inputs {
			env.Inputs[k] = v
		}
		res, err := runCopyFiles(t.Context(), env)
		if err != nil || res.Status != Failed || !strings.Contains(res.Message, tc.want) || !strings.Contains(res.Message, "CopyFiles@2") {
			t.Errorf("%v: %+v %v, want Failed naming CopyFiles@2 and %q", tc.inputs, res, err, tc.want)
		}
	}
}
