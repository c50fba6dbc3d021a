package supplychain

import (
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"conveyor.dev/conveyor/internal/registry"
)

// TestPromoteRequiresSignature promotes between two embedded registries
// with a Checker built from Verify: an unsigned image is refused, a signed
// one with a failed scan is refused, and a signed, scanned image is copied
// with its signature, SBOMs, scan and provenance, which verify at the
// target.
func TestPromoteRequiresSignature(t *testing.T) {
	ctx := t.Context()
	nonprod, prod := startRegistry(t), startRegistry(t)
	signer, _, pubPEM := testKey(t, "pw")
	pub, _ := ParsePublicKey(pubPEM)
	checker := Checker{Pub: pub, RequireScan: true, Options: testOpts}
	db, err := LoadDB("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	now := fixedClock(t, "2026-11-28T12:00:00Z")

	// build prepares an image as the build would: SBOM, scan, provenance, signature.
	build := func(t *testing.T, tag string, allow []Allowance, sign bool) string {
		t.Helper()
		// A distinct image per case: the fixture with an annotation.
		img := mutate.Annotations(fixtureImage(t), map[string]string{"case": tag}).(v1.Image)
		ref := nonprod.pushImage(t, "app:"+tag, img)
		sb, err := SBOM(ctx, ref, SBOMOptions{Options: testOpts, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := AttachSBOM(ctx, sb, signer, testOpts); err != nil {
			t.Fatal(err)
		}
		res := Scan(sb.Packages, db, Policy{Threshold: SeverityHigh, Allow: allow, Now: now})
		if _, err := AttachScan(ctx, ref, res, signer, "test", testOpts); err != nil {
			t.Fatal(err)
		}
		if _, err := AttachProvenance(ctx, ref, ProvenanceInfo{Repository: "https://git.example/app.git", Commit: "0123abcd", Branch: "main", Pipeline: "app-ci", RunID: "42", Started: now(), Finished: now()}, signer, testOpts); err != nil {
			t.Fatal(err)
		}
		if sign {
			if _, err := Sign(ctx, ref, signer, SignOptions{Options: testOpts}); err != nil {
				t.Fatal(err)
			}
		}
		return ref
	}
	allow := []Allowance{{ID: "GHSA-69ch-w2m2-3vjp", Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "test"}}

	t.Run("unsigned is refused", func(t *testing.T) {
		ref := build(t, "unsigned", allow, false)
		_, err := registry.Promote(ctx, ref, prod.host+"/app", registry.WithSignatureChecker(checker), registry.WithInsecure(true))
		if !errors.Is(err, ErrNoValidSignature) || !strings.Contains(err.Error(), "the image is not signed") {
			t.Errorf("Promote = %v, want ErrNoValidSignature", err)
		}
	})
	t.Run("failed scan is refused", func(t *testing.T) {
		ref := build(t, "vulnerable", nil, true)
		_, err := registry.Promote(ctx, ref, prod.host+"/app", registry.WithSignatureChecker(checker), registry.WithInsecure(true))
		if !errors.Is(err, ErrScanFailed) || !strings.Contains(err.Error(), "GHSA-69ch-w2m2-3vjp (golang.org/x/text v0.3.7, high)") {
			t.Errorf("Promote = %v, want ErrScanFailed naming the finding", err)
		}
	})
	t.Run("signed and scanned is copied with its referrers", func(t *testing.T) {
		ref := build(t, "good", allow, true)
		p, err := registry.Promote(ctx, ref, prod.host+"/app:good", registry.WithSignatureChecker(checker), registry.WithInsecure(true))
		if err != nil {
			t.Fatal(err)
		}
		target := prod.host + "/app@" + p.Digest
		if _, err := Verify(ctx, target, pub, testOpts); err != nil {
			t.Errorf("signature at the target: %v", err)
		}
		if _, err := VerifyScan(ctx, target, pub, testOpts); err != nil {
			t.Errorf("scan at the target: %v", err)
		}
		for _, pt := range []string{PredicateSPDX, PredicateCycloneDX, PredicateProvenance, PredicateVuln} {
			as, err := Attestations(ctx, target, pt, pub, testOpts)
			if err != nil || len(as) != 1 {
				t.Errorf("%s at the target: %d attestations, %v; want 1", pt, len(as), err)
			}
		}
		var sigs int
		for _, a := range p.Referrers {
			if a.IsSignature() {
				sigs++
			}
		}
		if sigs == 0 {
			t.Errorf("Promote copied no signature: %+v", p.Referrers)
		}
	})
}

// TestAfterBuild runs the build-time steps in one call and checks their
// outcome verifies as a deploy would.
func TestAfterBuild(t *testing.T) {
	ctx := t.Context()
	reg := startRegistry(t)
	signer, _, pubPEM := testKey(t, "pw")
	pub, _ := ParsePublicKey(pubPEM)
	db, err := LoadDB("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.pushImage(t, "app:v1", fixtureImage(t))
	rep, err := AfterBuild(ctx, ref, BuildOptions{
		Options: testOpts, Key: signer, DB: db, Now: fixedClock(t, "2026-11-28T12:00:00Z"),
		Policy:     Policy{Threshold: SeverityCritical},
		Provenance: &ProvenanceInfo{Repository: "https://git.example/app.git", Commit: "abc", Pipeline: "ci", RunID: "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Scan.Passed || rep.Signature == nil || len(rep.SBOM.Packages) == 0 {
		t.Errorf("report = %+v", rep)
	}
	if err := VerifyImage(ctx, ref, pub, true, testOpts); err != nil {
		t.Errorf("VerifyImage: %v", err)
	}
	_, _, otherPEM := testKey(t, "pw")
	other, _ := ParsePublicKey(otherPEM)
	if err := VerifyImage(ctx, ref, other, true, testOpts); !errors.Is(err, ErrNoValidSignature) {
		t.Errorf("VerifyImage with another key = %v, want ErrNoValidSignature", err)
	}
}
