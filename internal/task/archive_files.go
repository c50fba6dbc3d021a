package task

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// runArchiveFiles is ArchiveFiles@2 for zip and tar: inputs rootFolderOrFile
// (default $(Build.BinariesDirectory)), includeRootFolder (default true),
// archiveType (zip|tar; 7z and wim are refused), tarCompression
// (gz|bz2|xz|none, default gz; bz2 and xz run the bzip2 and xz programs),
// archiveFile (default $(Build.ArtifactStagingDirectory)/$(Build.BuildId)
// with the type's extension), replaceExistingArchive (default true; false
// adds the files to an existing archive, replacing entries of the same
// name), verbose and quiet (accepted, no effect).
func runArchiveFiles(ctx context.Context, env *Env) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{Status: Failed, Message: "ArchiveFiles@2: " + fmt.Sprintf(format, a...)}, nil
	}
	root := filepath.Clean(env.Input("rootFolderOrFile", env.Dirs.Binaries)) // "dir/" names dir
	if !filepath.IsAbs(root) {
		root = filepath.Join(env.Dirs.Sources, root)
	}
	includeRoot, err := env.BoolInput("includeRootFolder", true)
	if err != nil {
		return fail("%v", err)
	}
	replace, err := env.BoolInput("replaceExistingArchive", true)
	if err != nil {
		return fail("%v", err)
	}
	for _, name := range []string{"verbose", "quiet"} {
		if _, err := env.BoolInput(name, false); err != nil {
			return fail("%v", err)
		}
	}
	kind := strings.ToLower(env.Input("archiveType", "zip"))
	comp := strings.ToLower(env.Input("tarCompression", "gz"))
	ext := ".zip"
	switch kind {
	case "zip":
	case "tar":
		switch comp {
		case "gz", "bz2", "xz":
			ext = ".tar." + comp
		case "none":
			ext = ".tar"
		default:
			return fail("input tarCompression: %q is not allowed: use gz, bz2, xz or none", comp)
		}
	case "7z", "wim":
		return fail("archiveType %s is not supported by Conveyor: use zip or tar", kind)
	default:
		return fail("input archiveType: %q is not allowed: use zip or tar", kind)
	}
	out := env.Input("archiveFile", filepath.Join(env.Dirs.ArtifactStaging, env.Variables["Build.BuildId"]+ext))
	if !filepath.IsAbs(out) {
		out = filepath.Join(env.Dirs.Sources, out)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fail("rootFolderOrFile %s not found", root)
	}
	if replace {
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return Result{}, fmt.Errorf("archive files: replace %s: %w", out, err)
		}
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
	names := map[string]bool{}
	for _, p := range entries {
		rel, _ := filepath.Rel(base, p)
		names[filepath.ToSlash(rel)] = true
	}
	// The archive is written next to out and renamed over it when complete,
	// so a failure leaves no half archive (and an existing one intact).
	tmp := out + ".partial"
	defer os.Remove(tmp)
	f, err := os.Create(tmp)
	if err != nil {
		return Result{}, fmt.Errorf("archive files: %w", err)
	}
	kept := 0
	switch {
	case kind == "zip":
		var old *zip.ReadCloser
		if !replace {
			if old, err = zip.OpenReader(out); err != nil && !os.IsNotExist(err) {
				f.Close()
				return fail("add to %s: it is not a zip archive (%v): set replaceExistingArchive: true", out, err)
			}
		}
		err = writeZip(f, base, entries, old, names, &kept)
		if old != nil {
			old.Close()
		}
	case comp == "gz":
		gz := gzip.NewWriter(f)
		err = writeTarWith(gz, base, entries, out, replace, comp, names, &kept)
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
	default:
		err = writeTarWith(f, base, entries, out, replace, comp, names, &kept)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var notArchive *existingArchiveError
	if errors.As(err, &notArchive) {
		return fail("%v", err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("archive files %s: %w", out, err)
	}
	if comp == "bz2" || comp == "xz" {
		program := map[string]string{"bz2": "bzip2", "xz": "xz"}[comp]
		ex, err := env.Exec(ctx, Command{Path: program, Args: []string{"-z", "-f", tmp}, Dir: filepath.Dir(tmp)})
		if err != nil {
			return Result{}, fmt.Errorf("archive files: run %s: %w", program, err)
		}
		if ex.Code != 0 {
			return fail("%s exited with code %d", program, ex.Code)
		}
		if err := os.Rename(tmp+"."+comp, tmp); err != nil {
			return Result{}, fmt.Errorf("archive files: %w", err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return Result{}, fmt.Errorf("archive files: %w", err)
	}
	if kept > 0 {
		env.Logf("Added %d file(s) to %s (%d kept from the existing archive)", len(entries), out, kept)
	} else {
		env.Logf("Archived %d file(s) to %s", len(entries), out)
	}
	return Result{Status: Succeeded}, nil
}

// existingArchiveError is an existing archive that replaceExistingArchive:
// false cannot add to.
type existingArchiveError struct {
	path string
	err  error
}

func (e *existingArchiveError) Error() string {
	return fmt.Sprintf("add to %s: cannot read the existing archive (%v): set replaceExistingArchive: true", e.path, e.err)
}

// writeTarWith writes a tar of files to w, first copying the entries of the
// existing archive at out (compressed with comp) whose names are not in
// names, unless replace is set.
func writeTarWith(w io.Writer, base string, files []string, out string, replace bool, comp string, names map[string]bool, kept *int) error {
	tw := tar.NewWriter(w)
	if !replace {
		if err := copyOldTar(tw, out, comp, names, kept); err != nil {
			return err
		}
	}
	return writeTar(tw, base, files)
}

func copyOldTar(tw *tar.Writer, out, comp string, names map[string]bool, kept *int) error {
	f, err := os.Open(out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	switch comp {
	case "gz":
		gz, err := gzip.NewReader(f)
		if err != nil {
			return &existingArchiveError{out, err}
		}
		r = gz
	case "bz2":
		r = bzip2.NewReader(f)
	case "xz":
		return &existingArchiveError{out, errors.New("adding to a .tar.xz is not supported")}
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &existingArchiveError{out, err}
		}
		if names[h.Name] {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return &existingArchiveError{out, err}
		}
		*kept++
	}
}

// writeZip writes a zip of files to w, first copying the entries of old (if
// not nil) whose names are not in names.
func writeZip(w io.Writer, base string, files []string, old *zip.ReadCloser, names map[string]bool, kept *int) error {
	zw := zip.NewWriter(w)
	if old != nil {
		for _, e := range old.File {
			if names[e.Name] {
				continue
			}
			if err := zw.Copy(e); err != nil {
				return err
			}
			*kept++
		}
	}
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

func writeTar(tw *tar.Writer, base string, files []string) error {
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
