package gitops

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Source is where desired state comes from.
type Source interface {
	// Fetch writes the files of the source's current revision into dir (an
	// existing empty folder) and returns the revision
	// ("main@sha1:<commit>", "v1@sha256:<digest>").
	Fetch(ctx context.Context, dir string) (revision string, err error)
	// String names the source for messages, without credentials.
	String() string
}

// maxContentBytes bounds what a source may unpack.
const maxContentBytes = 256 << 20

// extractTar writes the regular files and folders of the tar stream r that
// lie under sub ("" for all) into dir, with sub stripped from their names.
// Names that are absolute or leave dir are refused; links and other special
// entries are skipped (a source holds manifests, not a file system).
func extractTar(r io.Reader, dir, sub string) (int, error) {
	sub = strings.Trim(path.Clean("/"+sub), "/")
	tr := tar.NewReader(r)
	var total int64
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if name == "" || name == "." {
			continue
		}
		if path.IsAbs(name) || strings.HasPrefix(path.Clean(name), "../") || path.Clean(name) == ".." {
			return files, fmt.Errorf("read archive: entry %q leaves the folder", h.Name)
		}
		name = path.Clean(name)
		if sub != "" {
			rest, ok := strings.CutPrefix(name, sub+"/")
			if !ok {
				continue
			}
			name = rest
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return files, err
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxContentBytes {
				return files, fmt.Errorf("read archive: more than %d MiB of content", maxContentBytes>>20)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return files, err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return files, err
			}
			_, err = io.Copy(f, io.LimitReader(tr, h.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, fmt.Errorf("read archive: %s: %w", h.Name, err)
			}
			files++
		}
	}
	return files, nil
}

// redact drops the password of a URL for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = url.User("***")
	return p.String()
}
