package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// copyBlobs sends the target every blob of the image or index root (its
// children's too) that the target lacks, streamed from the source as is.
// It does not hash what passes through: the target registry checks each
// blob's digest when the upload completes, and Promote checks the manifest's
// digest at the end, so a second hash on the client would only cost CPU.
// Within one registry, blobs are mounted instead of sent.
func (o *promoteOptions) copyBlobs(ctx context.Context, puller *remote.Puller, pusher *remote.Pusher, src, dst name.Repository, root *remote.Descriptor) error {
	blobs, err := collectBlobs(ctx, puller, src, root)
	if err != nil {
		return err
	}
	if len(blobs) == 0 {
		return nil
	}
	auth, err := authn.Resolve(ctx, o.keychain, src)
	if err != nil {
		return fmt.Errorf("credentials for %s: %w", src.RegistryStr(), err)
	}
	base := o.transport
	if base == nil {
		base = remote.DefaultTransport
	}
	rt, err := transport.NewWithContext(ctx, src.Registry, auth, base, []string{src.Scope(transport.PullScope)})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", src.RegistryStr(), err)
	}
	client := &http.Client{Transport: rt}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, b := range blobs {
		l := &sourceBlob{ctx: gctx, client: client, repo: src, desc: b}
		g.Go(func() error {
			var layer v1.Layer = l
			if src.RegistryStr() == dst.RegistryStr() {
				layer = &remote.MountableLayer{Layer: l, Reference: src.Digest(b.Digest.String())}
			}
			if err := pusher.Upload(gctx, dst, layer); err != nil {
				return fmt.Errorf("copy blob %s: %w", b.Digest, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// collectBlobs lists, once each, the config and layer descriptors of root and
// of every manifest under it; non-distributable layers are left out.
func collectBlobs(ctx context.Context, puller *remote.Puller, repo name.Repository, root *remote.Descriptor) ([]v1.Descriptor, error) {
	seen := map[v1.Hash]bool{}
	var out []v1.Descriptor
	var walk func(mt types.MediaType, manifest []byte, depth int) error
	walk = func(mt types.MediaType, manifest []byte, depth int) error {
		if depth > 8 {
			return errors.New("indexes nested deeper than 8 levels")
		}
		if mt.IsIndex() {
			var idx v1.IndexManifest
			if err := json.Unmarshal(manifest, &idx); err != nil {
				return fmt.Errorf("parse index: %w", err)
			}
			for _, m := range idx.Manifests {
				if !m.MediaType.IsIndex() && !m.MediaType.IsImage() {
					continue // pusher copies other children itself
				}
				child, err := puller.Get(ctx, repo.Digest(m.Digest.String()))
				if err != nil {
					return fmt.Errorf("get %s: %w", m.Digest, err)
				}
				if err := walk(child.MediaType, child.Manifest, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		var m v1.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			return fmt.Errorf("parse manifest: %w", err)
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if seen[d.Digest] || !d.MediaType.IsDistributable() || len(d.URLs) > 0 || len(d.Data) > 0 {
				continue
			}
			seen[d.Digest] = true
			out = append(out, d)
		}
		return nil
	}
	if !root.MediaType.IsIndex() && !root.MediaType.IsImage() {
		return nil, nil // schema 1 and the like: the pusher copies them
	}
	return out, walk(root.MediaType, root.Manifest, 0)
}

// sourceBlob is a blob of the source registry as a v1.Layer whose content is
// streamed unverified (see copyBlobs).
type sourceBlob struct {
	ctx    context.Context
	client *http.Client
	repo   name.Repository
	desc   v1.Descriptor
}

var _ v1.Layer = (*sourceBlob)(nil)

func (b *sourceBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *sourceBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *sourceBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *sourceBlob) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("source blob: diff ID not needed to copy")
}

func (b *sourceBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("source blob: uncompressed content not needed to copy")
}

// Compressed opens the blob at the source.
func (b *sourceBlob) Compressed() (io.ReadCloser, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", b.repo.Scheme(), b.repo.RegistryStr(), b.repo.RepositoryStr(), b.desc.Digest)
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("GET %s: %s %s", b.desc.Digest, resp.Status, strings.TrimSpace(string(msg)))
	}
	if resp.ContentLength >= 0 && resp.ContentLength != b.desc.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %d bytes, the manifest says %d", b.desc.Digest, resp.ContentLength, b.desc.Size)
	}
	return resp.Body, nil
}
