package supplychain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media and artifact types of what this package stores next to an image.
const (
	// SimpleSigningMediaType is the layer of a cosign signature.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureArtifactType is the artifact type of a cosign signature referrer.
	SignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// DSSEMediaType is the layer (and artifact type) of an in-toto attestation.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// SignatureAnnotation holds the base64 signature on a signature layer.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// PredicateTypeAnnotation names an attestation's predicate type on its
	// layer (as cosign does) and on its manifest (for referrer filtering).
	PredicateTypeAnnotation = "predicateType"
	// maxArtifactBytes bounds what is read of a signature or attestation.
	maxArtifactBytes = 64 << 20
)

// Options reach a registry. The zero value uses the docker config keychain
// and HTTPS (plain HTTP for localhost).
type Options struct {
	// Insecure allows plain HTTP to the registry.
	Insecure bool
	// Remote are extra go-containerregistry options (transport, auth).
	Remote []remote.Option
}

func (o Options) remote(ctx context.Context) []remote.Option {
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	return append(ro, o.Remote...)
}

func (o Options) parse(ref string) (name.Reference, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// resolve returns the digest reference and descriptor of ref.
func (o Options) resolve(ctx context.Context, ref string) (name.Digest, *v1.Descriptor, error) {
	r, err := o.parse(ref)
	if err != nil {
		return name.Digest{}, nil, err
	}
	desc, err := remote.Head(r, o.remote(ctx)...)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return r.Context().Digest(desc.Digest.String()), desc, nil
}

// cosignTag is cosign's tag for an artifact of digest d: sha256-<hex>.<suffix>.
func cosignTag(d name.Digest, suffix string) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
}

// artifactLayer is one layer of an artifact manifest.
type artifactLayer struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// rawManifest is a manifest pushed as bytes (remote.Put's Taggable).
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
func (m rawManifest) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(m.body))
	return h, err
}
func (m rawManifest) Size() (int64, error) { return int64(len(m.body)), nil }
func descriptorOf(b []byte, mt types.MediaType) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(b))
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}, err
}

// pushArtifact writes an OCI image manifest with the given layers and an OCI
// image config (rootfs listing the layers, as cosign writes), whose subject
// is the image at subject (none when subjectDesc is nil: a tag-only
// artifact), and tags it when tag is set. It returns the manifest's digest.
func pushArtifact(ctx context.Context, subject name.Digest, subjectDesc *v1.Descriptor, artifactType string, layers []artifactLayer, annotations map[string]string, tag *name.Tag, o Options) (v1.Hash, error) {
	ro := o.remote(ctx)
	repo := subject.Context()
	cfg := map[string]any{
		"architecture": "", "os": "", "created": "0001-01-01T00:00:00Z",
		"config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	}
	var diffIDs []string
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Annotations:   annotations,
		Layers:        []v1.Descriptor{},
	}
	if subjectDesc != nil {
		m.Subject = &v1.Descriptor{MediaType: subjectDesc.MediaType, Digest: subjectDesc.Digest, Size: subjectDesc.Size}
	}
	for _, l := range layers {
		layer := static.NewLayer(l.Data, types.MediaType(l.MediaType))
		if err := remote.WriteLayer(repo, layer, ro...); err != nil {
			return v1.Hash{}, fmt.Errorf("push layer to %s: %w", repo, err)
		}
		d, err := descriptorOf(l.Data, types.MediaType(l.MediaType))
		if err != nil {
			return v1.Hash{}, err
		}
		d.Annotations = l.Annotations
		m.Layers = append(m.Layers, d)
		diffIDs = append(diffIDs, d.Digest.String())
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.WriteLayer(repo, static.NewLayer(cfgBytes, types.OCIConfigJSON), ro...); err != nil {
		return v1.Hash{}, fmt.Errorf("push config to %s: %w", repo, err)
	}
	m.Config, err = descriptorOf(cfgBytes, types.OCIConfigJSON)
	if err != nil {
		return v1.Hash{}, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, err
	}
	raw := rawManifest{body: body, mediaType: types.OCIManifestSchema1}
	h, _ := raw.Digest()
	if err := remote.Put(repo.Digest(h.String()), raw, ro...); err != nil {
		return v1.Hash{}, fmt.Errorf("push manifest to %s: %w", repo, err)
	}
	if tag != nil {
		if err := remote.Put(*tag, raw, ro...); err != nil {
			return v1.Hash{}, fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return h, nil
}

// artifact is a fetched artifact manifest and a way to read its layers.
type artifact struct {
	Digest       v1.Hash
	Manifest     *v1.Manifest
	ArtifactType string // as listed by the referrers API; empty when found by tag
	repo         name.Repository
	o            Options
}

// layer returns the content of one of the artifact's layers, checked
// against its digest.
func (a artifact) layer(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	if d.Size > maxArtifactBytes {
		return nil, fmt.Errorf("layer %s: %d bytes is too large", d.Digest, d.Size)
	}
	l, err := remote.Layer(a.repo.Digest(d.Digest.String()), a.o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxArtifactBytes+1))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	sum := sha256.Sum256(b)
	if d.Digest.Algorithm != "sha256" || hex.EncodeToString(sum[:]) != d.Digest.Hex {
		return nil, fmt.Errorf("layer %s: content does not match its digest", d.Digest)
	}
	return b, nil
}

// fetchArtifact reads the manifest at ref; nil without error when absent.
func fetchArtifact(ctx context.Context, ref name.Reference, o Options) (*artifact, error) {
	desc, err := remote.Get(ref, o.remote(ctx)...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == 404 {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	return &artifact{Digest: desc.Digest, Manifest: m, repo: ref.Context(), o: o}, nil
}

// referrers lists the artifacts referring to d with the given artifact
// type (the referrers API, or go-containerregistry's tag fallback).
func referrers(ctx context.Context, d name.Digest, artifactType string, o Options) ([]*artifact, error) {
	return referrersMatching(ctx, d, func(t string) bool { return t == artifactType }, o)
}

// referrersMatching lists the artifacts referring to d whose artifact type
// match accepts.
func referrersMatching(ctx context.Context, d name.Digest, match func(string) bool, o Options) ([]*artifact, error) {
	idx, err := remote.Referrers(d, o.remote(ctx)...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == 404 {
			return nil, nil
		}
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	var out []*artifact
	for _, m := range im.Manifests {
		if !match(m.ArtifactType) {
			continue
		}
		a, err := fetchArtifact(ctx, d.Context().Digest(m.Digest.String()), o)
		if err != nil {
			return nil, err
		}
		if a != nil {
			a.ArtifactType = m.ArtifactType
			out = append(out, a)
		}
	}
	return out, nil
}
