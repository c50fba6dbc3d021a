package supplychain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"time"
)

// BuildOptions say what AfterBuild does for a freshly pushed image.
type BuildOptions struct {
	Options
	// Key signs the image and the attestations; nil attaches them unsigned
	// and does not sign the image.
	Key crypto.Signer
	// DB scans the SBOM against it; nil skips the scan.
	DB *DB
	// Policy judges the scan.
	Policy Policy
	// Provenance, when set, is attached as SLSA provenance.
	Provenance *ProvenanceInfo
	// Now stamps the documents (default time.Now).
	Now func() time.Time
	// ToolVersion is Conveyor's version.
	ToolVersion string
}

// BuildReport is what AfterBuild did.
type BuildReport struct {
	SBOM      *SBOMResult
	Scan      *ScanResult // nil without a DB
	Signature *Signature  // nil without a key
}

// AfterBuild runs the supply-chain steps for an image just pushed (ref, by
// digest preferably): SBOM attached as SPDX and CycloneDX attestations, scan
// (when o.DB is set) attached as a vulnerability attestation, SLSA provenance
// (when o.Provenance is set), and a cosign signature (when o.Key is set). It
// does not gate: the caller fails the build when Scan is not Passed
// (Scan.WriteSummary says why).
func AfterBuild(ctx context.Context, ref string, o BuildOptions) (*BuildReport, error) {
	sb, err := SBOM(ctx, ref, SBOMOptions{Options: o.Options, Now: o.Now, ToolVersion: o.ToolVersion})
	if err != nil {
		return nil, err
	}
	rep := &BuildReport{SBOM: sb}
	if err := AttachSBOM(ctx, sb, o.Key, o.Options); err != nil {
		return rep, err
	}
	if o.DB != nil {
		p := o.Policy
		if p.Now == nil {
			p.Now = o.Now
		}
		rep.Scan = Scan(sb.Packages, o.DB, p)
		if _, err := AttachScan(ctx, sb.Image, rep.Scan, o.Key, o.ToolVersion, o.Options); err != nil {
			return rep, err
		}
	}
	if o.Provenance != nil {
		if _, err := AttachProvenance(ctx, sb.Image, *o.Provenance, o.Key, o.Options); err != nil {
			return rep, err
		}
	}
	if o.Key != nil {
		sig, err := Sign(ctx, sb.Image, o.Key, SignOptions{Options: o.Options})
		if err != nil {
			return rep, err
		}
		rep.Signature = sig
	}
	return rep, nil
}

// VerifyImage is the check before a promotion with requireSignature or a
// deploy to an environment with requireSignedImages: the image must carry a
// signature verifying with pub and, when requireScan, a passed scan
// attestation signed with pub. The error says what is missing and what to do.
func VerifyImage(ctx context.Context, ref string, pub *ecdsa.PublicKey, requireScan bool, o Options) error {
	if pub == nil {
		return fmt.Errorf("verify %s: no public key: set supplyChain.signingKey's public key for the environment", ref)
	}
	v, err := Verify(ctx, ref, pub, o)
	if err != nil {
		return err
	}
	if requireScan {
		if _, err := VerifyScan(ctx, v.Image, pub, o); err != nil {
			return err
		}
	}
	return nil
}
