package task

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// runArchiveFiles is ArchiveFiles@2 for zip and tar: inputs rootFolderOrFile
// (default $(Build.BinariesDirectory)), includeRootFolder (default true),
// archiveType (zip|tar), tarCompression (gz|none), archiveFile (default
// $(Build.ArtifactStagingDirectory)/$(Build.BuildId).zip),
// replaceExistingArchive (default true).
func runArchiveFiles(_ context.Context, env *Env) (Result, error) {
	root := env.Input("rootFolderOrFile", env.Dirs.Binaries)
	if !filepath.IsAbs(root) {
		root = filepath.Join(env.Dirs.Sources, root)
	}
	includeRoot, err := env.BoolInput("includeRootFolder", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	replace, err := env.BoolInput("replaceExistingArchive", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	kind := strings.ToLower(env.Input("archiveType", "zip"))
	comp := strings.ToLower(env.Input("tarCompression", "gz"))
	ext := ".zip"
	if kind == "tar" {
		ext = ".tar"
		if comp == "gz" {
			ext = ".tar.gz"
		}
	}
	out := env.Input("archiveFile", filepath.Join(env.Dirs.ArtifactStaging, env.Variables["Build.BuildId"]+ext))
	if !filepath.IsAbs(out) {
		out = filepath.Join(env.Dirs.Sources, out)
	}
	st, err := os.Stat(root)
	if err != nil {
		return Result{Status: Failed, Message: fmt.Sprintf("rootFolderOrFile %s not found", root)}, nil
	}
	if replace {
		_ = os.Remove(out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Result{}, fmt.Errorf("archive files: %w", err)
	}
	// Entries are named relative to the root's parent when includeRootFolder
	// is true (or when the root is a file), else relative to the root.
	base := root
	if includeRoot || !st.IsDir() {
		base = filepath.Dir(root)
	}
	var entries []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			entries = append(entries, p)
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("archive files: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return Result{}, fmt.Errorf("archive files: %w", err)
	}
	switch kind {
	case "zip":
		err = writeZip(f, base, entries)
	case "tar":
		switch comp {
		case "gz":
			gz := gzip.NewWriter(f)
			err = writeTar(gz, base, entries)
			if cerr := gz.Close(); err == nil {
				err = cerr
			}
		case "none":
			err = writeTar(f, base, entries)
		default:
			f.Close()
			return Result{Status: Failed, Message: fmt.Sprintf("tarCompression %s is not supported: use gz or none", comp)}, nil
		}
	default:
		f.Close()
		return Result{Status: Failed, Message: fmt.Sprintf("archiveType %s is not supported: use zip or tar", kind)}, nil
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("archive files %s: %w", out, err)
	}
	env.Logf("Archived %d file(s) to %s", len(entries), out)
	return Result{Status: Succeeded}, nil
}

func writeZip(w io.Writer, base string, files []string) error {
	zw := zip.NewWriter(w)
	for _, p := range files {
		rel, _ := filepath.Rel(base, p)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(st)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if err := copyInto(fw, p); err != nil {
			return err
		}
	}
	return zw.Close()
}

func writeTar(w io.Writer, base string, files []string) error {
	tw := tar.NewWriter(w)
	for _, p := range files {
		rel, _ := filepath.Rel(base, p)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(st, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if err := copyInto(tw, p); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyInto(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
