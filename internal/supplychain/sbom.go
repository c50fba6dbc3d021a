package supplychain

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// SBOMOptions qualify SBOM.
type SBOMOptions struct {
	Options
	// Now stamps the documents (default time.Now).
	Now func() time.Time
	// ToolVersion is Conveyor's version, named as the documents' creator.
	ToolVersion string
}

// SBOMResult is an image's software bill of materials.
type SBOMResult struct {
	Image     string    // repo@sha256:… the SBOM describes
	Packages  []Package // what Catalog found
	SPDX      []byte    // SPDX 2.3 JSON document
	CycloneDX []byte    // CycloneDX 1.5 JSON document
}

// SBOM pulls the image ref (for an index, the linux/amd64 image, else the
// first one) and returns its packages as SPDX 2.3 and CycloneDX 1.5 JSON.
// The documents describe ref's digest (the index's, when ref is one).
func SBOM(ctx context.Context, ref string, opts SBOMOptions) (*SBOMResult, error) {
	d, _, err := opts.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	img, err := remote.Image(d, append(opts.remote(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))...)
	if err != nil {
		return nil, fmt.Errorf("sbom of %s: %w", d, err)
	}
	pkgs, err := Catalog(img)
	if err != nil {
		return nil, fmt.Errorf("sbom of %s: %w", d, err)
	}
	return NewSBOM(d, pkgs, opts)
}

// NewSBOM writes the documents for packages found in the image d.
func NewSBOM(d name.Digest, pkgs []Package, opts SBOMOptions) (*SBOMResult, error) {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	tool := "conveyor"
	version := opts.ToolVersion
	if version == "" {
		version = "devel"
	}
	spdx, err := json.MarshalIndent(spdxDocument(d, pkgs, now, tool, version), "", "  ")
	if err != nil {
		return nil, err
	}
	cdx, err := json.MarshalIndent(cycloneDXDocument(d, pkgs, now, tool, version), "", "  ")
	if err != nil {
		return nil, err
	}
	return &SBOMResult{Image: d.String(), Packages: pkgs, SPDX: spdx, CycloneDX: cdx}, nil
}

// AttachSBOM stores both documents as in-toto attestations (predicate types
// PredicateSPDX and PredicateCycloneDX) referring to the image, signed with
// key when it is not nil.
func AttachSBOM(ctx context.Context, sb *SBOMResult, key crypto.Signer, opts Options) error {
	for _, doc := range []struct {
		pt   string
		body []byte
	}{{PredicateSPDX, sb.SPDX}, {PredicateCycloneDX, sb.CycloneDX}} {
		if _, err := Attach(ctx, sb.Image, doc.pt, json.RawMessage(doc.body), key, opts); err != nil {
			return err
		}
	}
	return nil
}

// uuidFrom makes a stable RFC 4122 (version 5 style) UUID from parts, so a
// document's identity follows from its content.
func uuidFrom(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func ociPURL(d name.Digest) string {
	return "pkg:oci/" + url.PathEscape(lastElem(d.Context().RepositoryStr())) + "@" + url.PathEscape(d.DigestStr()) +
		"?repository_url=" + url.QueryEscape(d.Context().Name())
}

func lastElem(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

// SPDX 2.3 JSON.

type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name                  string         `json:"name"`
	SPDXID                string         `json:"SPDXID"`
	VersionInfo           string         `json:"versionInfo,omitempty"`
	DownloadLocation      string         `json:"downloadLocation"`
	FilesAnalyzed         bool           `json:"filesAnalyzed"`
	LicenseConcluded      string         `json:"licenseConcluded"`
	LicenseDeclared       string         `json:"licenseDeclared"`
	CopyrightText         string         `json:"copyrightText"`
	SourceInfo            string         `json:"sourceInfo,omitempty"`
	PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []spdxExtRef   `json:"externalRefs,omitempty"`
	Checksums             []spdxChecksum `json:"checksums,omitempty"`
}

type spdxExtRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

func spdxDocument(d name.Digest, pkgs []Package, now time.Time, tool, version string) spdxDoc {
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              d.String(),
		DocumentNamespace: "https://conveyor.dev/spdx/" + d.Context().Name() + "/" + uuidFrom(d.String(), now.UTC().Format(time.RFC3339)),
		CreationInfo:      spdxCreation{Created: now.UTC().Format(time.RFC3339), Creators: []string{"Tool: " + tool + "-" + version}},
	}
	img := spdxPackage{
		Name: d.Context().Name(), SPDXID: "SPDXRef-Image", VersionInfo: d.DigestStr(), DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		PrimaryPackagePurpose: "CONTAINER",
		ExternalRefs:          []spdxExtRef{{"PACKAGE-MANAGER", "purl", ociPURL(d)}},
		Checksums:             []spdxChecksum{{"SHA256", d.DigestStr()[len("sha256:"):]}},
	}
	doc.Packages = append(doc.Packages, img)
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"})
	for i, p := range pkgs {
		id := "SPDXRef-Package-" + strconv.Itoa(i+1)
		sp := spdxPackage{
			Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			SourceInfo: "found in " + p.Location, PrimaryPackagePurpose: "LIBRARY",
		}
		if p.PURL != "" {
			sp.ExternalRefs = []spdxExtRef{{"PACKAGE-MANAGER", "purl", p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Image", "CONTAINS", id})
	}
	return doc
}

// CycloneDX 1.5 JSON.

type cdxDoc struct {
	Schema       string          `json:"$schema"`
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string `json:"timestamp"`
	Tools     struct {
		Components []cdxComponent `json:"components"`
	} `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxComponent struct {
	BOMRef     string        `json:"bom-ref,omitempty"`
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func cycloneDXDocument(d name.Digest, pkgs []Package, now time.Time, tool, version string) cdxDoc {
	doc := cdxDoc{
		Schema: "http://cyclonedx.org/schema/bom-1.5.schema.json", BOMFormat: "CycloneDX", SpecVersion: "1.5",
		SerialNumber: "urn:uuid:" + uuidFrom("cyclonedx", d.String(), now.UTC().Format(time.RFC3339)), Version: 1,
		Components: []cdxComponent{}, Dependencies: []cdxDependency{},
	}
	doc.Metadata.Timestamp = now.UTC().Format(time.RFC3339)
	doc.Metadata.Tools.Components = []cdxComponent{{Type: "application", Name: tool, Version: version}}
	doc.Metadata.Component = cdxComponent{BOMRef: "image", Type: "container", Name: d.Context().Name(), Version: d.DigestStr(), PURL: ociPURL(d)}
	dep := cdxDependency{Ref: "image", DependsOn: []string{}}
	for i, p := range pkgs {
		ref := "pkg-" + strconv.Itoa(i+1)
		c := cdxComponent{BOMRef: ref, Type: "library", Name: p.Name, Version: p.Version, PURL: p.PURL,
			Properties: []cdxProperty{{"conveyor:location", p.Location}, {"conveyor:ecosystem", p.Ecosystem}}}
		doc.Components = append(doc.Components, c)
		dep.DependsOn = append(dep.DependsOn, ref)
	}
	doc.Dependencies = append(doc.Dependencies, dep)
	return doc
}
