package supplychain

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// simpleSigningType is the critical.type of cosign's payload.
const simpleSigningType = "cosign container image signature"

// Payload is cosign's "simple signing" payload: what a signature signs.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Signature is a signature Sign stored.
type Signature struct {
	Image    string // the signed image by digest (repo@sha256:…)
	Manifest string // digest of the signature manifest
	Tag      string // its cosign tag (sha256-<hex>.sig)
}

// SignOptions qualify Sign.
type SignOptions struct {
	Options
	// Annotations go into the payload's "optional" map (cosign sign -a).
	Annotations map[string]string
}

// Sign signs the image ref (tag or digest) with key the way `cosign sign
// --key` does: a simple-signing payload naming the image's digest, its
// ECDSA signature in the layer annotation. The signature manifest is stored
// as an OCI referrer of the image (artifact type SignatureArtifactType) and
// under cosign's tag sha256-<hex>.sig, keeping signatures already there.
func Sign(ctx context.Context, ref string, key crypto.Signer, opts SignOptions) (*Signature, error) {
	d, desc, err := opts.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	var p Payload
	p.Critical.Identity.DockerReference = d.Context().Name()
	p.Critical.Image.DockerManifestDigest = d.DigestStr()
	p.Critical.Type = simpleSigningType
	if len(opts.Annotations) > 0 {
		p.Optional = map[string]any{}
		for k, v := range opts.Annotations {
			p.Optional[k] = v
		}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	sig, err := signDigest(key, payload)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", d, err)
	}
	layer := artifactLayer{
		MediaType:   SimpleSigningMediaType,
		Data:        payload,
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}
	tag := cosignTag(d, "sig")
	layers := []artifactLayer{layer}
	// Keep the signatures already under the tag (cosign appends too).
	prev, err := fetchArtifact(ctx, tag, opts.Options)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", d, err)
	}
	if prev != nil {
		var old []artifactLayer
		for _, l := range prev.Manifest.Layers {
			data, err := prev.layer(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("sign %s: existing signature: %w", d, err)
			}
			old = append(old, artifactLayer{MediaType: string(l.MediaType), Data: data, Annotations: l.Annotations})
		}
		layers = append(old, layers...)
	}
	h, err := pushArtifact(ctx, d, desc, SignatureArtifactType, layers, nil, &tag, opts.Options)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", d, err)
	}
	return &Signature{Image: d.String(), Manifest: h.String(), Tag: tag.TagStr()}, nil
}

// ErrNoValidSignature is wrapped by Verify when no signature of the image
// verifies with the key.
var ErrNoValidSignature = errors.New("no valid signature")

// Verified describes a signature that verified.
type Verified struct {
	Image    string         // repo@digest
	Manifest string         // digest of the signature manifest
	Payload  Payload        // what was signed
	Optional map[string]any // the payload's annotations
}

// Verify checks that the image ref has at least one cosign signature, found
// as a referrer (simple signing, or a sigstore bundle as cosign
// --new-bundle-format writes) or under cosign's .sig tag, that verifies with
// pub and names the image's digest. Transparency-log entries are not
// required (keyed signing). The error says what was found and what to do.
func Verify(ctx context.Context, ref string, pub *ecdsa.PublicKey, opts Options) (*Verified, error) {
	d, _, err := opts.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	cands, err := referrersMatching(ctx, d, func(t string) bool {
		return t == SignatureArtifactType || strings.HasPrefix(t, BundleArtifactTypePrefix)
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", d, err)
	}
	tagged, err := fetchArtifact(ctx, cosignTag(d, "sig"), opts)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", d, err)
	}
	if tagged != nil {
		cands = append(cands, tagged)
	}
	seen, n := map[string]bool{}, 0
	var reasons []string
	for _, a := range cands {
		if seen[a.Digest.String()] {
			continue
		}
		seen[a.Digest.String()] = true
		for _, l := range a.Manifest.Layers {
			var v *Verified
			var why string
			switch {
			case string(l.MediaType) == SimpleSigningMediaType:
				v, why = checkSignatureLayer(ctx, a, l, d, pub)
			case strings.HasPrefix(string(l.MediaType), BundleArtifactTypePrefix):
				v, why = checkBundleLayer(ctx, a, l, d, pub)
			default:
				continue
			}
			n++
			if v != nil {
				return v, nil
			}
			reasons = append(reasons, why)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("verify %s: %w: the image is not signed (no cosign signature referrer, no %s tag): sign it with `conveyor sign` or `cosign sign --key`",
			d, ErrNoValidSignature, cosignTag(d, "sig").TagStr())
	}
	return nil, fmt.Errorf("verify %s: %w: %d signature(s) found, none verifies with the given public key (%s): sign it with the matching private key",
		d, ErrNoValidSignature, n, joinUnique(reasons))
}

func checkSignatureLayer(ctx context.Context, a *artifact, l v1.Descriptor, d name.Digest, pub *ecdsa.PublicKey) (*Verified, string) {
	b64 := l.Annotations[SignatureAnnotation]
	sig, err := base64.StdEncoding.DecodeString(b64)
	if b64 == "" || err != nil {
		return nil, "signature annotation missing or not base64"
	}
	payload, err := a.layer(ctx, l)
	if err != nil {
		return nil, err.Error()
	}
	if !verifyDigest(pub, payload, sig) {
		return nil, "signature does not match the key"
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&p); err != nil {
		return nil, "payload is not cosign simple signing JSON"
	}
	if p.Critical.Type != simpleSigningType {
		return nil, fmt.Sprintf("payload type %q", p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest != d.DigestStr() {
		return nil, fmt.Sprintf("signature is for %s, not this image", p.Critical.Image.DockerManifestDigest)
	}
	return &Verified{Image: d.String(), Manifest: a.Digest.String(), Payload: p, Optional: p.Optional}, ""
}

// BundleArtifactTypePrefix starts the artifact and media types of a sigstore
// bundle (cosign sign --new-bundle-format, cosign v3's default).
const BundleArtifactTypePrefix = "application/vnd.dev.sigstore.bundle"

// cosignSignPredicate is the predicate type of the in-toto statement a
// sigstore-bundle image signature signs.
const cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"

// checkBundleLayer verifies a sigstore bundle holding a DSSE envelope whose
// in-toto statement names the image d, signed with pub. Transparency-log
// entries in the bundle are not checked (keyed signing, as
// --insecure-ignore-tlog).
func checkBundleLayer(ctx context.Context, a *artifact, l v1.Descriptor, d name.Digest, pub *ecdsa.PublicKey) (*Verified, string) {
	body, err := a.layer(ctx, l)
	if err != nil {
		return nil, err.Error()
	}
	var b struct {
		DSSE *Envelope `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.DSSE == nil {
		return nil, "sigstore bundle without a DSSE envelope"
	}
	env, err := json.Marshal(b.DSSE)
	if err != nil {
		return nil, err.Error()
	}
	st, signed, ok := openEnvelope(env, pub)
	switch {
	case !ok:
		return nil, "sigstore bundle: not an in-toto statement"
	case !signed:
		return nil, "signature does not match the key"
	case !namesDigest(st, d):
		return nil, "sigstore bundle signs another image"
	case st.PredicateType != cosignSignPredicate:
		return nil, fmt.Sprintf("sigstore bundle of predicate %s, not an image signature", st.PredicateType)
	}
	var p Payload
	p.Critical.Image.DockerManifestDigest = d.DigestStr()
	p.Critical.Identity.DockerReference = d.Context().Name()
	p.Critical.Type = st.PredicateType
	return &Verified{Image: d.String(), Manifest: a.Digest.String(), Payload: p}, ""
}

// joinUnique joins distinct reasons with "; ".
func joinUnique(rs []string) string {
	seen := map[string]bool{}
	var out []byte
	for _, r := range rs {
		if seen[r] {
			continue
		}
		seen[r] = true
		if len(out) > 0 {
			out = append(out, "; "...)
		}
		out = append(out, r...)
	}
	return string(out)
}
