package gitops

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/supplychain"
)

// The media types of a manifests artifact, Flux's (flux push artifact).
const (
	ArtifactConfigMediaType  = "application/vnd.cncf.flux.config.v1+json"
	ArtifactContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// OCISource is a folder of an OCI artifact of manifests (Push, or flux push
// artifact) named by tag or digest, optionally only when it carries a
// cosign signature that verifies with a key.
type OCISource struct {
	// URL is oci://host[:port]/repository (the scheme is optional).
	URL string
	// Ref is a tag or a digest (sha256:…); empty means latest.
	Ref string
	// Path is the folder inside the artifact; empty means the root.
	Path string
	// Insecure allows plain HTTP.
	Insecure bool
	// Auth authenticates to the registry; nil means the docker config.
	Auth authn.Authenticator
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Verify, when set, refuses an artifact without a cosign signature
	// that verifies with this key (checked on the digest that is then
	// fetched).
	Verify *ecdsa.PublicKey
}

var _ Source = (*OCISource)(nil)

// String is oci://repo:tag or oci://repo@digest.
func (s *OCISource) String() string {
	out := "oci://" + s.repo()
	if strings.HasPrefix(s.ref(), "sha256:") {
		out += "@" + s.ref()
	} else {
		out += ":" + s.ref()
	}
	if p := strings.Trim(s.Path, "/"); p != "" && p != "." {
		out += " path " + p
	}
	return out
}

func (s *OCISource) repo() string { return strings.TrimPrefix(s.URL, "oci://") }

func (s *OCISource) ref() string {
	if s.Ref == "" {
		return "latest"
	}
	return s.Ref
}

func (s *OCISource) options(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if s.Auth != nil {
		opts = append(opts, remote.WithAuth(s.Auth))
	} else {
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if s.Transport != nil {
		opts = append(opts, remote.WithTransport(s.Transport))
	}
	return opts
}

func (s *OCISource) reference() (name.Reference, error) {
	var nopts []name.Option
	if s.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref := s.repo() + ":" + s.ref()
	if strings.HasPrefix(s.ref(), "sha256:") {
		ref = s.repo() + "@" + s.ref()
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("artifact reference %q: %w", ref, err)
	}
	return r, nil
}

// ErrNotAnArtifact is wrapped when the reference names something that
// holds no manifests layer.
var ErrNotAnArtifact = errors.New("not a manifests artifact")

// Fetch resolves the reference to a digest, verifies its signature when
// Verify is set, and unpacks the artifact's content layer into dir. The
// revision is "<tag>@sha256:<digest>" ("sha256:<digest>" for a digest
// ref).
func (s *OCISource) Fetch(ctx context.Context, dir string) (string, error) {
	ref, err := s.reference()
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(ref, s.options(ctx)...)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", ref, err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	if s.Verify != nil {
		vopts := supplychain.Options{Insecure: s.Insecure}
		if s.Auth != nil {
			// supplychain sets a keychain; a keychain (not WithAuth) replaces it.
			vopts.Remote = append(vopts.Remote, remote.WithAuthFromKeychain(staticKeychain{s.Auth}))
		}
		if s.Transport != nil {
			vopts.Remote = append(vopts.Remote, remote.WithTransport(s.Transport))
		}
		if _, err := supplychain.Verify(ctx, d.String(), s.Verify, vopts); err != nil {
			return "", fmt.Errorf("refusing %s: %w", d, err)
		}
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return "", fmt.Errorf("%s: %w: %v", d, ErrNotAnArtifact, err)
	}
	var layer *v1.Descriptor
	for i, l := range m.Layers {
		mt := string(l.MediaType)
		if mt == ArtifactContentMediaType || (layer == nil && (strings.HasSuffix(mt, ".tar+gzip") || strings.HasSuffix(mt, ".tar.gzip"))) {
			layer = &m.Layers[i]
		}
	}
	if layer == nil {
		return "", fmt.Errorf("%s: %w: no layer of media type %s (push it with `conveyor gitops push` or `flux push artifact`)", d, ErrNotAnArtifact, ArtifactContentMediaType)
	}
	if layer.Size > maxContentBytes {
		return "", fmt.Errorf("%s: content layer of %d bytes is too large", d, layer.Size)
	}
	l, err := remote.Layer(ref.Context().Digest(layer.Digest.String()), s.options(ctx)...)
	if err != nil {
		return "", fmt.Errorf("%s: content layer: %w", d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", fmt.Errorf("%s: content layer: %w", d, err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(io.LimitReader(rc, maxContentBytes))
	if err != nil {
		return "", fmt.Errorf("%s: content layer: %w", d, err)
	}
	n, err := extractTar(zr, dir, s.Path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", d, err)
	}
	if n == 0 && strings.Trim(s.Path, "/.") != "" {
		return "", fmt.Errorf("%s: path %s holds no files in the artifact: fix source.oci.path", d, s.Path)
	}
	if strings.HasPrefix(s.ref(), "sha256:") {
		return desc.Digest.String(), nil
	}
	return s.ref() + "@" + desc.Digest.String(), nil
}

// staticKeychain gives one authenticator for every registry.
type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
