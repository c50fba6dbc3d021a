package supplychain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
)

// Predicate types of the attestations Conveyor attaches.
const (
	PredicateSPDX       = "https://spdx.dev/Document"
	PredicateCycloneDX  = "https://cyclonedx.org/bom"
	PredicateVuln       = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateProvenance = "https://slsa.dev/provenance/v1"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	statementType     = "https://in-toto.io/Statement/v1"
)

// Statement is an in-toto v1 statement about one image.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject names an attested artifact by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string         `json:"payloadType"`
	Payload     string         `json:"payload"` // base64
	Signatures  []EnvelopeSign `json:"signatures"`
}

// EnvelopeSign is one DSSE signature.
type EnvelopeSign struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64
}

// pae is DSSE's pre-authentication encoding, what a DSSE signature signs.
func pae(payloadType string, payload []byte) []byte {
	s := "DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " "
	return append([]byte(s), payload...)
}

// Attach stores an in-toto attestation with predicate about the image ref
// as an OCI referrer (artifact type DSSEMediaType, the predicate type in
// the PredicateTypeAnnotation). The DSSE envelope is signed with key; a nil
// key stores it unsigned (Attestations then only returns it without a
// public key). It returns the attestation manifest's digest.
func Attach(ctx context.Context, ref, predicateType string, predicate any, key crypto.Signer, opts Options) (string, error) {
	d, desc, err := opts.resolve(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("attach %s: %w", predicateType, err)
	}
	pred, err := json.Marshal(predicate)
	if err != nil {
		return "", fmt.Errorf("attach %s to %s: %w", predicateType, d, err)
	}
	st := Statement{
		Type:          statementType,
		Subject:       []Subject{{Name: d.Context().Name(), Digest: map[string]string{d.DigestStr()[:6]: d.DigestStr()[7:]}}},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	env := Envelope{PayloadType: InTotoPayloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []EnvelopeSign{}}
	if key != nil {
		sig, err := signDigest(key, pae(InTotoPayloadType, payload))
		if err != nil {
			return "", fmt.Errorf("attach %s to %s: sign: %w", predicateType, d, err)
		}
		env.Signatures = append(env.Signatures, EnvelopeSign{Sig: base64.StdEncoding.EncodeToString(sig)})
	}
	body, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	ann := map[string]string{PredicateTypeAnnotation: predicateType}
	// cosign reads attestation layers as signatures: the signature
	// annotation must be there, empty (the signature is in the envelope).
	layer := artifactLayer{MediaType: DSSEMediaType, Data: body, Annotations: map[string]string{PredicateTypeAnnotation: predicateType, SignatureAnnotation: ""}}
	h, err := pushArtifact(ctx, d, desc, DSSEMediaType, []artifactLayer{layer}, ann, nil, opts)
	if err != nil {
		return "", fmt.Errorf("attach %s to %s: %w", predicateType, d, err)
	}
	// cosign's tag scheme too (sha256-<hex>.att, every attestation a layer,
	// no subject so it is not listed twice), for cosign verify-attestation.
	tag := cosignTag(d, "att")
	layers := []artifactLayer{layer}
	prev, err := fetchArtifact(ctx, tag, opts)
	if err != nil {
		return "", fmt.Errorf("attach %s to %s: %w", predicateType, d, err)
	}
	if prev != nil {
		var old []artifactLayer
		for _, l := range prev.Manifest.Layers {
			data, err := prev.layer(ctx, l)
			if err != nil {
				return "", fmt.Errorf("attach %s to %s: existing attestation: %w", predicateType, d, err)
			}
			old = append(old, artifactLayer{MediaType: string(l.MediaType), Data: data, Annotations: l.Annotations})
		}
		layers = append(old, layers...)
	}
	if _, err := pushArtifact(ctx, d, nil, "", layers, nil, &tag, opts); err != nil {
		return "", fmt.Errorf("attach %s to %s: %w", predicateType, d, err)
	}
	return h.String(), nil
}

// ErrNoAttestation is wrapped when an image has no (verified) attestation of
// the predicate type asked for.
var ErrNoAttestation = errors.New("no attestation")

// Attestation is one attestation read back from a registry.
type Attestation struct {
	Manifest  string // digest of the attestation manifest
	Statement Statement
	Signed    bool // its DSSE signature verified with the key given
}

// Attestations returns the attestations of predicateType attached to the
// image ref whose statement names the image's digest. With pub set only
// those whose DSSE signature verifies with pub are returned.
func Attestations(ctx context.Context, ref, predicateType string, pub *ecdsa.PublicKey, opts Options) ([]Attestation, error) {
	d, _, err := opts.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("attestations: %w", err)
	}
	return attestationsOf(ctx, d, predicateType, pub, opts)
}

func attestationsOf(ctx context.Context, d name.Digest, predicateType string, pub *ecdsa.PublicKey, opts Options) ([]Attestation, error) {
	arts, err := referrers(ctx, d, DSSEMediaType, opts)
	if err != nil {
		return nil, fmt.Errorf("attestations of %s: %w", d, err)
	}
	var out []Attestation
	for _, a := range arts {
		for _, l := range a.Manifest.Layers {
			if string(l.MediaType) != DSSEMediaType || l.Annotations[PredicateTypeAnnotation] != predicateType {
				continue
			}
			body, err := a.layer(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("attestations of %s: %w", d, err)
			}
			st, signed, ok := openEnvelope(body, pub)
			if !ok || st.PredicateType != predicateType || !namesDigest(st, d) {
				continue
			}
			if pub != nil && !signed {
				continue
			}
			out = append(out, Attestation{Manifest: a.Digest.String(), Statement: st, Signed: signed})
		}
	}
	return out, nil
}

// openEnvelope decodes a DSSE envelope holding an in-toto statement and
// reports whether a signature verifies with pub.
func openEnvelope(body []byte, pub *ecdsa.PublicKey) (Statement, bool, bool) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.PayloadType != InTotoPayloadType {
		return Statement{}, false, false
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return Statement{}, false, false
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return Statement{}, false, false
	}
	signed := false
	if pub != nil {
		for _, s := range env.Signatures {
			sig, err := base64.StdEncoding.DecodeString(s.Sig)
			if err == nil && verifyDigest(pub, pae(env.PayloadType, payload), sig) {
				signed = true
				break
			}
		}
	}
	return st, signed, true
}

func namesDigest(st Statement, d name.Digest) bool {
	for _, s := range st.Subject {
		if "sha256:"+s.Digest["sha256"] == d.DigestStr() {
			return true
		}
	}
	return false
}
