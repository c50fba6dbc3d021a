package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrInvalidReference marks a source or target reference, or a tag, that does
// not parse: the caller's input is wrong, not the registry.
var ErrInvalidReference = errors.New("invalid reference")

// Promotion is what Promote copied.
type Promotion struct {
	Source    string     `json:"source"`    // the source reference as given
	Target    string     `json:"target"`    // the target repository
	Digest    string     `json:"digest"`    // of the promoted image or index, the same at both ends
	MediaType string     `json:"mediaType"` // of the promoted manifest
	Tags      []string   `json:"tags"`      // applied at the target
	Referrers []Artifact `json:"referrers"` // copied along, sorted by digest
}

// Artifact is a manifest that refers to a promoted image: a signature, an
// SBOM or an attestation, found with the referrers API or cosign's tag scheme.
type Artifact struct {
	Digest       string `json:"digest"`
	Subject      string `json:"subject"`       // digest of the manifest it refers to
	ArtifactType string `json:"artifactType"`  // empty for tag-scheme artifacts
	Tag          string `json:"tag,omitempty"` // cosign tag (sha256-<hex>.sig|.att|.sbom), when found by tag
}

// IsSignature reports whether a is a signature: a cosign .sig tag, or a
// referrer whose artifact type is a cosign signature or a sigstore bundle.
func (a Artifact) IsSignature() bool {
	return strings.HasSuffix(a.Tag, ".sig") ||
		a.ArtifactType == "application/vnd.dev.cosign.artifact.sig.v1+json" ||
		strings.HasPrefix(a.ArtifactType, "application/vnd.dev.sigstore.bundle")
}

// SignatureChecker decides whether an image may be promoted given the
// artifacts found for it. Promote calls it before copying anything.
type SignatureChecker interface {
	CheckSignatures(ctx context.Context, image string, artifacts []Artifact) error
}

// PresenceChecker accepts an image that has at least one signature artifact.
// It does not verify signatures: that is the supply-chain checker's job,
// plugged in with WithSignatureChecker.
type PresenceChecker struct{}

// CheckSignatures returns an error when no artifact is a signature.
func (PresenceChecker) CheckSignatures(_ context.Context, image string, artifacts []Artifact) error {
	for _, a := range artifacts {
		if a.IsSignature() {
			return nil
		}
	}
	return fmt.Errorf("%s has no signature (no signature referrer, no cosign .sig tag): sign it (conveyor sign) before promoting; "+
		"note this check only looks for a signature's presence, verification comes with the supply-chain checks", image)
}

// PromoteOption configures Promote.
type PromoteOption func(*promoteOptions) error

type promoteOptions struct {
	tags             []string
	requireSignature bool
	checker          SignatureChecker
	insecure         bool
	transport        http.RoundTripper
	keychain         authn.Keychain
	remote           []remote.Option
	maxDepth         int
	progress         io.Writer
}

// say writes one progress line when a progress writer is set.
func (o *promoteOptions) say(format string, a ...any) {
	if o.progress != nil {
		fmt.Fprintf(o.progress, format+"\n", a...)
	}
}

// WithProgress writes one plain line per step (found, copied, tagged) to w.
func WithProgress(w io.Writer) PromoteOption {
	return func(o *promoteOptions) error {
		o.progress = w
		return nil
	}
}

// WithTags applies these tags at the target after the copy.
func WithTags(tags ...string) PromoteOption {
	return func(o *promoteOptions) error {
		for _, t := range tags {
			if !tagRE.MatchString(t) {
				return fmt.Errorf("tag %q is invalid: use up to 128 letters, digits, _ . -, not starting with . or -", t)
			}
		}
		o.tags = append(o.tags, tags...)
		return nil
	}
}

// WithRequireSignature refuses to promote an image the signature checker
// rejects (by default PresenceChecker).
func WithRequireSignature(on bool) PromoteOption {
	return func(o *promoteOptions) error {
		o.requireSignature = on
		return nil
	}
}

// WithSignatureChecker replaces PresenceChecker; it implies WithRequireSignature.
func WithSignatureChecker(c SignatureChecker) PromoteOption {
	return func(o *promoteOptions) error {
		if c == nil {
			return errors.New("signature checker: must not be nil")
		}
		o.checker = c
		o.requireSignature = true
		return nil
	}
}

// WithInsecure allows plain HTTP to registries that are not on loopback or a
// private network (those use HTTP anyway).
func WithInsecure(on bool) PromoteOption {
	return func(o *promoteOptions) error {
		o.insecure = on
		return nil
	}
}

// WithTransport sends every request through rt (default: http.DefaultTransport).
func WithTransport(rt http.RoundTripper) PromoteOption {
	return func(o *promoteOptions) error {
		if rt == nil {
			return errors.New("transport: must not be nil")
		}
		o.transport = rt
		return nil
	}
}

// WithKeychain authenticates with kc (default: the docker config keychain).
func WithKeychain(kc authn.Keychain) PromoteOption {
	return func(o *promoteOptions) error {
		if kc == nil {
			return errors.New("keychain: must not be nil")
		}
		o.keychain = kc
		return nil
	}
}

// Promote copies the image or index src (a tag or digest reference) to the
// repository dst by digest, with every referrer, recursively: those the
// referrers API lists (or its tag fallback) and cosign's tag-scheme
// artifacts (sha256-<hex>.sig/.att/.sbom, whose tags it copies too). No blob the
// target has is sent (HEAD first), blobs are mounted across repositories of
// the same registry, and the target's digest is checked against the
// source's before the tags are applied. dst may carry a tag ("repo:tag"),
// which is applied like WithTags; with no tag at all, a source tag is reused.
func Promote(ctx context.Context, src, dst string, opts ...PromoteOption) (*Promotion, error) {
	o := promoteOptions{checker: PresenceChecker{}, keychain: authn.DefaultKeychain, maxDepth: 4}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("promote %s to %s: %w: %w", src, dst, ErrInvalidReference, err)
		}
	}
	p, err := o.run(ctx, src, dst)
	if err != nil {
		return nil, fmt.Errorf("promote %s to %s: %w", src, dst, err)
	}
	return p, nil
}

func (o *promoteOptions) run(ctx context.Context, src, dst string) (*Promotion, error) {
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	srcRef, err := name.ParseReference(src, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("source reference: %w: %w", ErrInvalidReference, err)
	}
	dstRepo, dstTag, dstDigest, err := parseTarget(dst, nameOpts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReference, err)
	}
	tags := o.tags
	if dstTag != "" {
		tags = append([]string{dstTag}, tags...)
	}
	if t, ok := srcRef.(name.Tag); ok && len(tags) == 0 && dstDigest == "" {
		tags = []string{t.TagStr()}
	}

	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain),
		remote.WithReferrersTagFallback(true)}
	if o.transport != nil {
		ropts = append(ropts, remote.WithTransport(o.transport))
	}
	ropts = append(ropts, o.remote...)
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, err
	}
	reuse := append(ropts[:len(ropts):len(ropts)], remote.Reuse(puller))

	root, err := puller.Get(ctx, srcRef)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", srcRef, err)
	}
	o.say("source %s: %s (%s)", srcRef, root.Digest, root.MediaType)
	if dstDigest != "" && dstDigest != root.Digest.String() {
		return nil, fmt.Errorf("target digest %s differs from the source's %s", dstDigest, root.Digest)
	}

	// Discover the artifacts of the image and of its children (per-platform
	// SBOMs and attestations), and theirs, breadth first.
	d := discoverer{ctx: ctx, puller: puller, ropts: reuse, repo: srcRef.Context(), seen: map[string]bool{}}
	subjects := []v1.Hash{root.Digest}
	if root.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(root.Manifest, &idx); err != nil {
			return nil, fmt.Errorf("parse index %s: %w", root.Digest, err)
		}
		for _, m := range idx.Manifests {
			subjects = append(subjects, m.Digest)
		}
	}
	var found []artifactRef
	for depth := 0; len(subjects) > 0 && depth < o.maxDepth; depth++ {
		var next []v1.Hash
		for _, s := range subjects {
			arts, err := d.artifacts(s)
			if err != nil {
				return nil, err
			}
			for _, a := range arts {
				found = append(found, a)
				next = append(next, a.desc.Digest)
			}
		}
		subjects = next
	}

	o.say("referrers: %d found", len(found))
	var rootArtifacts []Artifact
	for _, a := range found {
		if a.Subject == root.Digest.String() {
			rootArtifacts = append(rootArtifacts, a.Artifact)
		}
	}
	if o.requireSignature {
		if err := o.checker.CheckSignatures(ctx, srcRef.Context().Digest(root.Digest.String()).String(), rootArtifacts); err != nil {
			return nil, err
		}
	}

	// Copy: the image first (subjects before their referrers), then the
	// artifacts in discovery order, which is subject-first too.
	target := dstRepo.Digest(root.Digest.String())
	present := false
	if h, err := puller.Head(ctx, target); err == nil && h.Digest == root.Digest {
		present = true
	} else if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("check %s: %w", target, err)
	}
	if present {
		o.say("target already has %s", target)
	} else {
		if err := o.copyBlobs(ctx, puller, pusher, srcRef.Context(), dstRepo, root); err != nil {
			return nil, err
		}
		if err := pusher.Push(ctx, target, root); err != nil {
			return nil, fmt.Errorf("copy %s: %w", root.Digest, err)
		}
		o.say("copied %s", target)
	}
	for _, a := range found {
		if err := pusher.Push(ctx, dstRepo.Digest(a.Digest), a.desc); err != nil {
			return nil, fmt.Errorf("copy artifact %s of %s: %w", a.Digest, a.Subject, err)
		}
		if a.Tag != "" {
			if err := pusher.Push(ctx, dstRepo.Tag(a.Tag), a.desc); err != nil {
				return nil, fmt.Errorf("tag artifact %s as %s: %w", a.Digest, a.Tag, err)
			}
		}
	}

	// Check what the target holds before pointing tags at it.
	if !present {
		got, err := puller.Head(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", target, err)
		}
		if got.Digest != root.Digest {
			return nil, fmt.Errorf("target %s has digest %s, source has %s", dstRepo, got.Digest, root.Digest)
		}
	}
	for _, t := range tags {
		if err := pusher.Push(ctx, dstRepo.Tag(t), root); err != nil {
			return nil, fmt.Errorf("tag %s: %w", dstRepo.Tag(t), err)
		}
		o.say("tagged %s", dstRepo.Tag(t))
	}

	p := &Promotion{
		Source: src, Target: dstRepo.String(), Digest: root.Digest.String(),
		MediaType: string(root.MediaType), Tags: tags, Referrers: []Artifact{},
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	for _, a := range found {
		p.Referrers = append(p.Referrers, a.Artifact)
	}
	sort.Slice(p.Referrers, func(i, j int) bool { return p.Referrers[i].Digest < p.Referrers[j].Digest })
	return p, nil
}

// parseTarget splits "registry/repo[:tag][@digest]".
func parseTarget(dst string, nameOpts []name.Option) (repo name.Repository, tag, dig string, err error) {
	rest := dst
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, dig = rest[:i], rest[i+1:]
		if _, err := parseDigest(dig); err != nil {
			return repo, "", "", fmt.Errorf("target reference: %w", err)
		}
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, tag = rest[:i], rest[i+1:]
		if !tagRE.MatchString(tag) {
			return repo, "", "", fmt.Errorf("target tag %q is invalid: use up to 128 letters, digits, _ . -, not starting with . or -", tag)
		}
	}
	repo, err = name.NewRepository(rest, nameOpts...)
	if err != nil {
		return repo, "", "", fmt.Errorf("target repository: %w", err)
	}
	return repo, tag, dig, nil
}

// artifactRef is a discovered artifact with its manifest.
type artifactRef struct {
	Artifact
	desc *remote.Descriptor
}

// discoverer finds the artifacts that refer to manifests of one repository.
type discoverer struct {
	ctx    context.Context
	puller *remote.Puller
	ropts  []remote.Option
	repo   name.Repository
	tags   map[string]bool // the repository's tags, listed once
	seen   map[string]bool // artifact digests already found
}

// artifacts returns the artifacts whose subject is s, each once.
func (d *discoverer) artifacts(s v1.Hash) ([]artifactRef, error) {
	var out []artifactRef
	add := func(dig v1.Hash, artifactType, tag string) error {
		key := dig.String() + " " + tag
		if d.seen[key] {
			return nil
		}
		d.seen[key] = true
		desc, err := d.puller.Get(d.ctx, d.repo.Digest(dig.String()))
		if err != nil {
			return fmt.Errorf("get artifact %s of %s: %w", dig, s, err)
		}
		out = append(out, artifactRef{Artifact{Digest: dig.String(), Subject: s.String(), ArtifactType: artifactType, Tag: tag}, desc})
		return nil
	}

	idx, err := remote.Referrers(d.repo.Digest(s.String()), d.ropts...)
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s: %w", s, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s: %w", s, err)
	}
	for _, m := range im.Manifests {
		if err := add(m.Digest, m.ArtifactType, ""); err != nil {
			return nil, err
		}
	}

	if d.tags == nil {
		d.tags = map[string]bool{}
		list, err := d.puller.List(d.ctx, d.repo)
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("list tags of %s: %w", d.repo, err)
		}
		for _, t := range list {
			d.tags[t] = true
		}
	}
	for _, suffix := range []string{".sig", ".att", ".sbom"} {
		tag := s.Algorithm + "-" + s.Hex + suffix
		if !d.tags[tag] {
			continue
		}
		desc, err := d.puller.Head(d.ctx, d.repo.Tag(tag))
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", d.repo.Tag(tag), err)
		}
		if err := add(desc.Digest, "", tag); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
