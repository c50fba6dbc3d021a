package image

import (
	"context"
	"fmt"
	"net"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes img to the tag or repository ref and returns its digest and the
// full digest reference "repo@sha256:…". Credentials come from
// authn.DefaultKeychain; a loopback registry (localhost, 127.0.0.1, ::1) is
// spoken to over plain HTTP. opts are added after those defaults.
func Push(ctx context.Context, img v1.Image, ref string, opts ...remote.Option) (v1.Hash, string, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %q: bad image reference: %w", ref, err)
	}
	if loopback(parsed.Context().RegistryStr()) {
		if parsed, err = name.ParseReference(ref, name.Insecure); err != nil {
			return v1.Hash{}, "", fmt.Errorf("push to %q: bad image reference: %w", ref, err)
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %s: image digest: %w", parsed, err)
	}
	all := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(parsed, img, all...); err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %s: %w", parsed, err)
	}
	return digest, parsed.Context().Digest(digest.String()).String(), nil
}

// loopback reports whether the registry host (with optional port) is this machine.
func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PushTags writes img to the repository repo once and points every tag at
// it (at least one tag is required), then returns its digest and the full
// digest reference "repo@sha256:…". insecure speaks plain HTTP to a
// registry that is not on loopback (loopback always is). Credentials come
// from the keychain option given in opts, else authn.DefaultKeychain.
func PushTags(ctx context.Context, img v1.Image, repo string, tags []string, insecure bool, opts ...remote.Option) (v1.Hash, string, error) {
	if len(tags) == 0 {
		return v1.Hash{}, "", fmt.Errorf("push to %s: no tag given", repo)
	}
	var nameOpts []name.Option
	if r, err := name.NewRepository(repo); err == nil && (insecure || loopback(r.RegistryStr())) {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.NewRepository(repo, nameOpts...)
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %q: bad repository: %w", repo, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %s: image digest: %w", r, err)
	}
	all := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	first, err := name.NewTag(r.String()+":"+tags[0], nameOpts...)
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %s: tag %q: %w", r, tags[0], err)
	}
	if err := remote.Write(first, img, all...); err != nil {
		return v1.Hash{}, "", fmt.Errorf("push to %s: %w", first, err)
	}
	for _, t := range tags[1:] {
		tag, err := name.NewTag(r.String()+":"+t, nameOpts...)
		if err != nil {
			return v1.Hash{}, "", fmt.Errorf("push to %s: tag %q: %w", r, t, err)
		}
		if err := remote.Tag(tag, img, all...); err != nil {
			return v1.Hash{}, "", fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return digest, r.Digest(digest.String()).String(), nil
}
