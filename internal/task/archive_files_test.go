package task

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// archiveNames lists the entry names of a zip or (compressed) tar archive;
// .tar.xz is read with the xz program.
func archiveNames(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		slices.Sort(names)
		return names
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = bytes.NewReader(data)
	switch {
	case strings.HasSuffix(path, ".gz"):
		if r, err = gzip.NewReader(r); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(path, ".bz2"):
		r = bzip2.NewReader(r)
	case strings.HasSuffix(path, ".xz"):
		out, err := exec.Command("xz", "-dc", path).Output()
		if err != nil {
			t.Fatalf("xz -dc %s: %v", path, err)
		}
		r = bytes.NewReader(out)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names
}

// TestArchiveFilesInputs follows ArchiveFiles@2's reference: every
// tarCompression, replaceExistingArchive: false adding to an archive, and
// errors naming the input for values it does not allow.
func TestArchiveFilesInputs(t *testing.T) {
	for _, comp := range []string{"bz2", "xz"} {
		t.Run(comp, func(t *testing.T) {
			env, _ := testEnv(t, map[string]string{"archiveType": "tar", "tarCompression": comp})
			writeFiles(t, env.Dirs.Binaries, map[string]string{"x.txt": "x", "y/z.txt": "z"})
			if res, err := runArchiveFiles(t.Context(), env); err != nil || res.Status != Succeeded {
				t.Fatalf("%+v %v", res, err)
			}
			out := filepath.Join(env.Dirs.ArtifactStaging, "7.tar."+comp)
			if diff := cmp.Diff([]string{"b/x.txt", "b/y/z.txt"}, archiveNames(t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, tc := range []struct{ kind, comp, file string }{{"zip", "", "a.zip"}, {"tar", "none", "a.tar"}, {"tar", "gz", "a.tar.gz"}, {"tar", "bz2", "a.tar.bz2"}} {
		t.Run("add to "+tc.file, func(t *testing.T) {
			env, _ := testEnv(t, map[string]string{"archiveType": tc.kind, "tarCompression": tc.comp, "archiveFile": tc.file,
				"rootFolderOrFile": "one", "includeRootFolder": "false"})
			writeFiles(t, env.Dirs.Sources, map[string]string{"one/a.txt": "a1", "one/b.txt": "b1", "two/b.txt": "b2", "two/c.txt": "c2"})
			if res, err := runArchiveFiles(t.Context(), env); err != nil || res.Status != Succeeded {
				t.Fatalf("%+v %v", res, err)
			}
			env.Inputs["rootFolderOrFile"] = "two"
			env.Inputs["replaceExistingArchive"] = "false"
			if res, err := runArchiveFiles(t.Context(), env); err != nil || res.Status != Succeeded {
				t.Fatalf("%+v %v", res, err)
			}
			out := filepath.Join(env.Dirs.Sources, tc.file)
			if diff := cmp.Diff([]string{"a.txt", "b.txt", "c.txt"}, archiveNames(t, out)); diff != "" {
				t.Errorf("after adding (-want +got):\n%s", diff)
			}
			env.Inputs["replaceExistingArchive"] = "true"
			if res, err := runArchiveFiles(t.Context(), env); err != nil || res.Status != Succeeded {
				t.Fatalf("%+v %v", res, err)
			}
			if diff := cmp.Diff([]string{"b.txt", "c.txt"}, archiveNames(t, out)); diff != "" {
				t.Errorf("after replacing (-want +got):\n%s", diff)
			}
		})
	}
	// A root written with a trailing slash is still prepended.
	env, _ := testEnv(t, map[string]string{"archiveFile": "slash.zip"})
	writeFiles(t, env.Dirs.Binaries, map[string]string{"x.txt": "x"})
	env.Inputs["rootFolderOrFile"] = env.Dirs.Binaries + "/"
	if res, err := runArchiveFiles(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("%+v %v", res, err)
	}
	if diff := cmp.Diff([]string{"b/x.txt"}, archiveNames(t, filepath.Join(env.Dirs.Sources, "slash.zip"))); diff != "" {
		t.Errorf("root with a trailing slash (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"archiveType": "rar"}, "input archiveType"},
		{map[string]string{"archiveType": "7z"}, "archiveType 7z is not supported"},
		{map[string]string{"archiveType": "tar", "tarCompression": "zstd"}, "input tarCompression"},
		{map[string]string{"includeRootFolder": "maybe"}, "input includeRootFolder"},
		{map[string]string{"rootFolderOrFile": "nope"}, "rootFolderOrFile"},
	} {
		env, _ := testEnv(t, tc.inputs)
		res, err := runArchiveFiles(t.Context(), env)
		if err != nil || res.Status != Failed || !strings.Contains(res.Message, tc.want) || !strings.Contains(res.Message, "ArchiveFiles@2") {
			t.Errorf("%v: %+v %v, want Failed naming ArchiveFiles@2 and %q", tc.inputs, res, err, tc.want)
		}
	}
}
