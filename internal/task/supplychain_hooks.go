package task

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	ociregistry "conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/supplychain"
)

// supplySettings reads conveyor.yaml's supplyChain section for env; ok is
// false when the run has no configuration.
func supplySettings(env *Env) (supplychain.Settings, bool, error) {
	if env.Services == nil || env.Services.Config == nil {
		return supplychain.Settings{}, false, nil
	}
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	cfg := env.Services.Config
	s, err := supplychain.SettingsOf(cfg.SupplyChain, cfg.Dir, env.Services.DataDir, now)
	return s, err == nil, err
}

// afterImagePush is the supply-chain step of Docker@2, run after every
// successful push: with supplyChain.scanOnBuild it attaches the SBOMs and
// the scan result and gates on the scan; with supplyChain.signingKey it
// attaches SLSA provenance and signs the image (cosign-compatible). Without
// either it does nothing.
func afterImagePush(ctx context.Context, env *Env, img PushedImage) (Result, error) {
	settings, ok, err := supplySettings(env)
	if err != nil {
		return dockerFail("%v", err)
	}
	if !ok || (!settings.ScanOnBuild && settings.SigningKey == "") {
		return Result{Status: Succeeded}, nil
	}
	signer, err := taskSigner(ctx, env, settings.SigningKey)
	if err != nil {
		return dockerFail("supplyChain.signingKey: %v", err)
	}
	bo := supplychain.BuildOptions{
		Options:     supplychain.Options{Insecure: img.Insecure},
		Key:         signer,
		Policy:      settings.Policy,
		Now:         settings.Policy.Now,
		ToolVersion: "conveyor",
	}
	if img.Keychain != nil {
		bo.Remote = []remote.Option{remote.WithAuthFromKeychain(img.Keychain)}
	}
	if settings.ScanOnBuild {
		if bo.DB, err = supplychain.LoadDB(settings.VulnDB); err != nil {
			return dockerFail("supplyChain.scanOnBuild: %v", err)
		}
	}
	if signer != nil {
		run := env.Run()
		bo.Provenance = &supplychain.ProvenanceInfo{
			Repository: run.Repository, Commit: run.Commit, Branch: run.Branch, Pipeline: run.Pipeline,
			RunID: fmt.Sprint(run.Number), Builder: "https://conveyor.dev/conveyor",
			Finished: bo.Now(),
		}
	}
	env.Logf("supply chain: SBOM%s%s of %s", map[bool]string{true: ", scan"}[bo.DB != nil], map[bool]string{true: ", provenance and signature"}[signer != nil], img.Ref)
	rep, err := supplychain.AfterBuild(ctx, img.Ref, bo)
	if err != nil {
		return dockerFail("supply chain of %s: %v", img.Ref, err)
	}
	env.Logf("SBOM: %d packages", len(rep.SBOM.Packages))
	if rep.Signature != nil {
		env.Logf("signed %s", img.Ref)
	}
	if rep.Scan != nil {
		if env.Log != nil {
			rep.Scan.WriteSummary(env.Log)
		}
		if !rep.Scan.Passed {
			return dockerFail("%d vulnerability finding(s) at or above %s in %s: fix them, or allow-list an ID until a date in supplyChain.allow", len(rep.Scan.Blocking()), rep.Scan.Threshold, img.Ref)
		}
	}
	return Result{Status: Succeeded}, nil
}

// signatureChecker is what PromoteImage@1 with requireSignature checks:
// a cosign signature that verifies with the public half of
// supplyChain.signingKey and, when supplyChain.scanOnBuild is set, a passed
// signed scan. Without a signing key it can only check that a signature is
// present, which it refuses to pass for verification.
func signatureChecker(ctx context.Context, env *Env, insecure bool) (ociregistry.SignatureChecker, error) {
	settings, ok, err := supplySettings(env)
	if err != nil {
		return nil, err
	}
	if !ok || settings.SigningKey == "" {
		return nil, fmt.Errorf("no key to verify with: set supplyChain.signingKey in conveyor.yaml (a cosign key file or vault://<vault>/<secret>)")
	}
	signer, err := taskSigner(ctx, env, settings.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("supplyChain.signingKey: %w", err)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("supplyChain.signingKey: %T is not an ECDSA key", signer.Public())
	}
	return supplychain.Checker{Pub: pub, RequireScan: settings.ScanOnBuild, Options: supplychain.Options{Insecure: insecure}}, nil
}
