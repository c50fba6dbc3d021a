package gitops

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushOptions qualify Push.
type PushOptions struct {
	// Insecure allows plain HTTP.
	Insecure bool
	// Auth authenticates to the registry; nil means the docker config.
	Auth authn.Authenticator
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Source and Revision are recorded as the annotations
	// org.opencontainers.image.source and .revision (where the manifests
	// come from: a repository URL and a commit).
	Source, Revision string
	// Created is recorded as org.opencontainers.image.created; zero leaves
	// it out, so that the same folder always gives the same digest.
	Created time.Time
}

// Pushed is what Push stored.
type Pushed struct {
	// Ref is the artifact by digest: host/repository@sha256:….
	Ref string `json:"ref"`
	// Digest is the manifest's digest.
	Digest string `json:"digest"`
	// Tag is the tag pushed, empty for a push by digest only.
	Tag string `json:"tag,omitempty"`
	// Files is the number of files packed.
	Files int `json:"files"`
}

// Push packs the files of dir (regular files, recursively; hidden folders
// such as .git left out) into a tar+gzip layer with stable bytes (sorted
// names, zero times, fixed modes) and pushes it to ref
// (oci://host/repository:tag, the scheme optional) as an OCI artifact with
// Flux's media types, so that OCISource and Flux's OCIRepository read it.
// Pushing the same folder twice gives the same digest.
func Push(ctx context.Context, dir, ref string, o PushOptions) (Pushed, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	tag, err := name.NewTag(strings.TrimPrefix(ref, "oci://"), nopts...)
	if err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w: use oci://host/repository:tag", ref, err)
	}
	content, files, err := packDir(dir)
	if err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w", dir, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if o.Auth != nil {
		opts = append(opts, remote.WithAuth(o.Auth))
	} else {
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	repo := tag.Context()
	cfg := static.NewLayer([]byte("{}"), ArtifactConfigMediaType)
	layer := static.NewLayer(content, ArtifactContentMediaType)
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return Pushed{}, fmt.Errorf("push %s: %w", tag, err)
		}
	}
	ann := map[string]string{}
	if o.Source != "" {
		ann["org.opencontainers.image.source"] = o.Source
	}
	if o.Revision != "" {
		ann["org.opencontainers.image.revision"] = o.Revision
	}
	if !o.Created.IsZero() {
		ann["org.opencontainers.image.created"] = o.Created.UTC().Format(time.RFC3339)
	}
	cfgDesc, err := descriptor(cfg, ArtifactConfigMediaType)
	if err != nil {
		return Pushed{}, err
	}
	layerDesc, err := descriptor(layer, ArtifactContentMediaType)
	if err != nil {
		return Pushed{}, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: []v1.Descriptor{layerDesc}}
	if len(ann) > 0 {
		m.Annotations = ann
	}
	body, err := json.Marshal(m)
	if err != nil {
		return Pushed{}, err
	}
	raw := rawManifest{body: body, mediaType: types.OCIManifestSchema1}
	if err := remote.Put(tag, raw, opts...); err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w", tag, err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: repo.Digest(h.String()).String(), Digest: h.String(), Tag: tag.TagStr(), Files: files}, nil
}

func descriptor(l v1.Layer, mt types.MediaType) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// packDir returns the tar+gzip of dir's regular files, stable byte for byte.
func packDir(dir string) ([]byte, int, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(names) == 0 {
		return nil, 0, fmt.Errorf("no files to push")
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, 0, err
	}
	tw := tar.NewWriter(zw)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return nil, 0, err
		}
		h := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), len(names), nil
}
