package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fileEntry is one file, directory or symlink of a layer being built.
type fileEntry struct {
	name     string // relative to /, slash separated, no trailing slash
	typ      byte   // tar.TypeReg, TypeDir or TypeSymlink
	mode     int64  // permission and special bits
	uid, gid int
	link     string // symlink target
	size     int64
	src      string // content on disk (build context), or
	data     []byte // content in memory (another stage or image)
}

// layerSpec is the full content of one layer: writing it twice gives equal
// bytes.
type layerSpec struct {
	entries []fileEntry
	epoch   time.Time
}

// normalize sorts the entries, drops duplicates (the last one wins, as a
// later copy overwrites an earlier one) and adds missing parent directories
// (mode 0755, owner 0:0).
func (s *layerSpec) normalize() {
	byName := map[string]fileEntry{}
	for _, e := range s.entries {
		byName[e.name] = e
	}
	for _, e := range s.entries {
		for d := path.Dir(e.name); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := byName[d]; !ok {
				byName[d] = fileEntry{name: d, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	s.entries = s.entries[:0]
	for _, e := range byName {
		s.entries = append(s.entries, e)
	}
	slices.SortFunc(s.entries, func(a, b fileEntry) int { return strings.Compare(a.name, b.name) })
}

// writeTar writes the layer's uncompressed tar to w.
func (s *layerSpec) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range s.entries {
		h := &tar.Header{
			Typeflag: e.typ, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: s.epoch, Format: tar.FormatPAX,
		}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeSymlink:
			h.Linkname = e.link
		case tar.TypeReg:
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if e.src == "" {
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("layer entry %s: %w", e.name, err)
			}
			continue
		}
		f, err := os.Open(e.src)
		if err != nil {
			return fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		n, err := io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("layer entry %s from %s: %w", e.name, e.src, err)
		}
		if n != e.size {
			return fmt.Errorf("layer entry %s: %s changed size during the build", e.name, e.src)
		}
	}
	return tw.Close()
}

// diffID is the sha256 of the layer's uncompressed tar.
func (s *layerSpec) diffID() (v1.Hash, error) {
	h := sha256.New()
	if err := s.writeTar(h); err != nil {
		return v1.Hash{}, err
	}
	return hashOf(h), nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// compress writes the gzipped tar to w (fixed gzip header, so the bytes are
// stable) and returns the diff ID, digest and compressed size.
func (s *layerSpec) compress(w io.Writer) (diffID, digest v1.Hash, size int64, err error) {
	dh := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, dh)}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return diffID, digest, 0, err
	}
	zw.Header = gzip.Header{OS: 255}
	uh := sha256.New()
	if err := s.writeTar(io.MultiWriter(zw, uh)); err != nil {
		return diffID, digest, 0, err
	}
	if err := zw.Close(); err != nil {
		return diffID, digest, 0, err
	}
	return hashOf(uh), hashOf(dh), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// staticLayer is a gzipped layer whose digests are known.
type staticLayer struct {
	diffID, digest v1.Hash
	size           int64
	mediaType      types.MediaType
	open           func() (io.ReadCloser, error)
}

var _ v1.Layer = (*staticLayer)(nil)

func (l *staticLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *staticLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *staticLayer) Size() (int64, error)                 { return l.size, nil }
func (l *staticLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
func (l *staticLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *staticLayer) Uncompressed() (io.ReadCloser, error) { return gunzip(l.open) }

func gunzip(open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &gzipReadCloser{zr, rc}, nil
}

type gzipReadCloser struct {
	*gzip.Reader
	under io.Closer
}

func (g *gzipReadCloser) Close() error {
	g.Reader.Close()
	return g.under.Close()
}

// layerCache keeps built layers in a directory, content addressed by their
// diff ID (the sha256 of the uncompressed tar, which is everything that
// went into the layer: names, modes, owners, times and contents). A hit
// skips compression, the costly part of building a layer; two builds that
// copy the same files share one blob.
type layerCache struct {
	dir string
}

type cacheMeta struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// layer returns the layer for spec, from the cache when it has it, and
// whether it was a hit. A nil cache builds in memory.
func (c *layerCache) layer(spec *layerSpec, mt types.MediaType) (v1.Layer, bool, error) {
	if c == nil || c.dir == "" {
		var buf bytes.Buffer
		diffID, digest, size, err := spec.compress(&buf)
		if err != nil {
			return nil, false, err
		}
		b := buf.Bytes()
		return &staticLayer{diffID: diffID, digest: digest, size: size, mediaType: mt,
			open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}, false, nil
	}
	// First by the inputs' metadata: no file is read when none changed.
	inKey, inOK := spec.inputKey()
	inFile := filepath.Join(c.dir, "inputs", inKey)
	if inOK {
		if raw, err := os.ReadFile(inFile); err == nil {
			if d, err := v1.NewHash(strings.TrimSpace(string(raw))); err == nil {
				if l, ok := c.lookup(d, mt); ok {
					return l, true, nil
				}
			}
		}
	}
	// Then by content: another checkout of the same files.
	diffID, err := spec.diffID()
	if err != nil {
		return nil, false, err
	}
	remember := func() {
		if inOK && os.MkdirAll(filepath.Dir(inFile), 0o755) == nil {
			_ = writeFileAtomic(inFile, []byte(diffID.String()))
		}
	}
	if l, ok := c.lookup(diffID, mt); ok {
		remember()
		return l, true, nil
	}
	blob := filepath.Join(c.dir, diffID.Hex+".tar.gz")
	metaFile := filepath.Join(c.dir, diffID.Hex+".json")
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, ".layer-*")
	if err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	gotDiff, digest, size, err := spec.compress(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, err
	}
	if gotDiff != diffID {
		return nil, false, errors.New("layer cache: a source file changed during the build")
	}
	if err := os.Rename(tmp.Name(), blob); err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	raw, _ := json.Marshal(cacheMeta{Digest: digest.String(), Size: size})
	if err := writeFileAtomic(metaFile, raw); err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	remember()
	return &staticLayer{diffID: diffID, digest: digest, size: size, mediaType: mt,
		open: func() (io.ReadCloser, error) { return os.Open(blob) }}, false, nil
}

// lookup returns the cached layer whose diff ID is diffID.
func (c *layerCache) lookup(diffID v1.Hash, mt types.MediaType) (v1.Layer, bool) {
	blob := filepath.Join(c.dir, diffID.Hex+".tar.gz")
	raw, err := os.ReadFile(filepath.Join(c.dir, diffID.Hex+".json"))
	if err != nil {
		return nil, false
	}
	var m cacheMeta
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	d, err := v1.NewHash(m.Digest)
	if err != nil {
		return nil, false
	}
	if st, err := os.Stat(blob); err != nil || st.Size() != m.Size {
		return nil, false
	}
	return &staticLayer{diffID: diffID, digest: d, size: m.Size, mediaType: mt,
		open: func() (io.ReadCloser, error) { return os.Open(blob) }}, true
}

// inputKey hashes what the layer is made of without reading the build
// context's files: names, modes, owners, the epoch, and for each file on
// disk its path, size, modification time, inode and change time (as git's
// index does); in-memory contents are hashed. ok is false when a file
// cannot be stat'ed.
func (s *layerSpec) inputKey() (string, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "conveyor-layer-v1\n%d\n", s.epoch.Unix())
	for _, e := range s.entries {
		fmt.Fprintf(h, "%q %c %o %d %d %q %d\n", e.name, e.typ, e.mode, e.uid, e.gid, e.link, e.size)
		switch {
		case e.src != "":
			st, err := os.Stat(e.src)
			if err != nil || st.Size() != e.size {
				return "", false
			}
			fmt.Fprintf(h, "file %q %d %s\n", e.src, st.ModTime().UnixNano(), statIdentity(st))
		case e.typ == tar.TypeReg:
			d := sha256.Sum256(e.data)
			fmt.Fprintf(h, "data %x\n", d)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// statIdentity is the inode and change time of a file, which change when
// its content is replaced even with the same size and mtime.
func statIdentity(st os.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d.%d", sys.Dev, sys.Ino, sys.Ctim.Sec, sys.Ctim.Nsec)
	}
	return ""
}
