// Package supplychain is Conveyor's software supply chain: SBOMs of images
// (SPDX 2.3 and CycloneDX 1.5 JSON), vulnerability scanning of an SBOM
// against an offline OSV database with a severity gate and an expiring
// allow-list, cosign-compatible keyed signatures and in-toto attestations
// (SBOM, scan result, SLSA provenance) stored as OCI referrers and under
// cosign's tag scheme, their verification, secret scanning of sources,
// SARIF reading and writing, and the Kubernetes admission policy that keeps
// production on digest-pinned images of the prod registry.
//
// The API callers use after a build and before a promotion or deploy:
//
//	sb, _ := supplychain.SBOM(ctx, ref, opts)              // packages + SPDX/CycloneDX documents
//	_ = supplychain.AttachSBOM(ctx, ref, sb, signer, opts)  // in-toto attestations as referrers
//	res, _ := supplychain.Scan(sb.Packages, db, policy)     // gate decision + findings
//	_ = supplychain.AttachScan(ctx, ref, res, signer, opts)
//	_, _ = supplychain.Sign(ctx, ref, signer, opts)         // cosign simple-signing signature
//	_ = supplychain.Verify(ctx, ref, pub, opts)             // before promotion/deploy
//	_ = supplychain.VerifyScan(ctx, ref, pub, opts)         // the scan attestation passed
//
// Keys are cosign's formats: "ENCRYPTED SIGSTORE PRIVATE KEY" (scrypt +
// nacl/secretbox over PKCS#8) and PKIX "PUBLIC KEY" PEM, so keys made by
// `cosign generate-key-pair` work here and the other way round.
//
// It is a library of the flow: it must not import internal/engine,
// internal/executor, internal/store, internal/server or internal/task (tasks
// call it, not the other way round), and it logs nothing.
package supplychain
