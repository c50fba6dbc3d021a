// Package supplychain is Conveyor's software supply chain: SBOMs of images
// (SPDX 2.3 and CycloneDX 1.5 JSON), vulnerability scanning of an SBOM
// against an offline OSV database with a severity gate and an expiring
// allow-list, cosign-compatible keyed signatures and in-toto attestations
// (SBOM, scan result, SLSA provenance) stored as OCI referrers and under
// cosign's tag scheme, their verification, secret scanning of sources,
// SARIF reading and writing, and the Kubernetes admission policy that keeps
// production on digest-pinned images of the prod registry.
//
// The API the image build and promotion use:
//
//	rep, err := supplychain.AfterBuild(ctx, ref, supplychain.BuildOptions{...}) // all of the below in one call
//	sb, err := supplychain.SBOM(ctx, ref, opts)            // packages + SPDX/CycloneDX documents
//	err = supplychain.AttachSBOM(ctx, sb, key, opts)        // in-toto attestations as referrers
//	res := supplychain.Scan(sb.Packages, db, policy)        // pure: findings + gate decision
//	_, err = supplychain.AttachScan(ctx, ref, res, key, version, opts)
//	_, err = supplychain.AttachProvenance(ctx, ref, info, key, opts) // SLSA v1
//	_, err = supplychain.Sign(ctx, ref, key, signOpts)      // cosign simple-signing signature
//	_, err = supplychain.Verify(ctx, ref, pub, opts)        // before promotion/deploy
//	_, err = supplychain.VerifyScan(ctx, ref, pub, opts)    // the latest signed scan passed
//	err = supplychain.VerifyImage(ctx, ref, pub, requireScan, opts) // both
//	registry.WithSignatureChecker(supplychain.Checker{Pub: pub, RequireScan: true})
//
// Signatures are stored as an OCI image manifest whose subject is the image
// (artifact type SignatureArtifactType) and which is also tagged
// sha256-<hex>.sig, so the referrers API, cosign's tag scheme and
// registry.Promote all find it. Attestations are DSSE envelopes (artifact
// type DSSEMediaType) referring to the image; on registries without the
// referrers API go-containerregistry maintains the referrers tag fallback.
//
// Keys are cosign's formats: "ENCRYPTED SIGSTORE PRIVATE KEY" (scrypt +
// nacl/secretbox over PKCS#8) and PKIX "PUBLIC KEY" PEM, so keys made by
// `cosign generate-key-pair` work here and the other way round.
//
// It is a library of the flow: it must not import internal/engine,
// internal/executor, internal/store, internal/server or internal/task (tasks
// call it, not the other way round), and it logs nothing.
package supplychain
