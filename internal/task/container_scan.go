package task

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/supplychain"
)

// runContainerScan is ContainerScan@1: the SBOM of an image, matched
// against an offline OSV database, gated on a severity threshold with the
// allow-list of conveyor.yaml.
//
// Inputs:
//   - image (required): the image reference, by tag or digest.
//   - vulnDB: the OSV database folder or zip (default supplyChain.vulnDB of
//     conveyor.yaml, else <data>/vulndb).
//   - severity: low, medium, high or critical; findings at or above fail
//     (default supplyChain.severity, else high).
//   - failOnFindings: false turns a failed gate into SucceededWithIssues
//     (default true).
//   - attach: store the SBOMs (SPDX, CycloneDX) and the scan result as
//     in-toto attestations referring to the image (default true).
//   - signingKey: cosign key signing the attestations: a file or
//     vault://<vault>/<secret> (default supplyChain.signingKey; none: the
//     attestations are stored unsigned, which VerifyScan does not accept).
//     Its password is COSIGN_PASSWORD, or the secret <secret>-password.
//   - insecure: plain HTTP to the registry (default: the registry's setting
//     in conveyor.yaml; true for loopback hosts).
//
// It writes CodeAnalysisLogs/container-scan.sarif and
// CodeAnalysisLogs/sbom.spdx.json, sbom.cdx.json into the run's artifacts,
// logs a findings table, and sets the output variables findings and
// blocking (counts).
func runContainerScan(ctx context.Context, env *Env) (Result, error) {
	image := env.Input("image", "")
	if image == "" {
		return Result{Status: Failed, Message: "ContainerScan@1: input image is required (an image reference such as registry/app@sha256:…)"}, nil
	}
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	var sc config.SupplyChain
	var cfgDir, dataDir string
	if env.Services != nil && env.Services.Config != nil {
		sc, cfgDir, dataDir = env.Services.Config.SupplyChain, env.Services.Config.Dir, env.Services.DataDir
	}
	settings, err := supplychain.SettingsOf(sc, cfgDir, dataDir, now)
	if err != nil {
		return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
	}
	dbPath := env.Input("vulnDB", settings.VulnDB)
	if dbPath == "" {
		return Result{Status: Failed, Message: "ContainerScan@1: no vulnerability database: set input vulnDB or supplyChain.vulnDB in conveyor.yaml (fill it with `conveyor vulndb update`)"}, nil
	}
	policy := settings.Policy
	if v := env.Input("severity", ""); v != "" {
		if policy.Threshold, err = supplychain.ParseSeverity(v); err != nil {
			return Result{Status: Failed, Message: "ContainerScan@1: input severity: " + err.Error()}, nil
		}
	}
	failOn, err := env.BoolInput("failOnFindings", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	attach, err := env.BoolInput("attach", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	opts, err := supplyOptions(env, image)
	if err != nil {
		return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
	}
	signer, err := taskSigner(ctx, env, firstSet(env.Input("signingKey", ""), settings.SigningKey))
	if err != nil {
		return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
	}
	db, err := supplychain.LoadDB(dbPath)
	if err != nil {
		return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
	}
	env.Logf("Generating the SBOM of %s", image)
	sb, err := supplychain.SBOM(ctx, image, supplychain.SBOMOptions{Options: opts, Now: now, ToolVersion: "conveyor"})
	if err != nil {
		return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
	}
	env.Logf("%s: %d packages", sb.Image, len(sb.Packages))
	res := supplychain.Scan(sb.Packages, db, policy)
	if env.Log != nil {
		res.WriteSummary(env.Log)
	}
	dir := filepath.Join(artifactsDir(env), "CodeAnalysisLogs")
	sarif, err := json.MarshalIndent(res.SARIF("conveyor"), "", "  ")
	if err != nil {
		return Result{}, err
	}
	for file, data := range map[string][]byte{"container-scan.sarif": sarif, "sbom.spdx.json": sb.SPDX, "sbom.cdx.json": sb.CycloneDX} {
		if err := writeFile(filepath.Join(dir, file), data); err != nil {
			return Result{}, fmt.Errorf("container scan: %w", err)
		}
	}
	env.Logf("SARIF and SBOMs written to %s", dir)
	if attach {
		if err := supplychain.AttachSBOM(ctx, sb, signer, opts); err != nil {
			return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
		}
		if _, err := supplychain.AttachScan(ctx, sb.Image, res, signer, "conveyor", opts); err != nil {
			return Result{Status: Failed, Message: "ContainerScan@1: " + err.Error()}, nil
		}
		how := "unsigned"
		if signer != nil {
			how = "signed"
		}
		env.Logf("Attached the SBOMs and the scan result to %s (%s attestations)", sb.Image, how)
	}
	blocking := len(res.Blocking())
	if env.SetVariable != nil {
		_ = env.SetVariable("findings", fmt.Sprint(len(res.Findings)), VarOptions{Output: true})
		_ = env.SetVariable("blocking", fmt.Sprint(blocking), VarOptions{Output: true})
	}
	if env.AddSummary != nil {
		env.AddSummary(fmt.Sprintf("Container scan of %s: %d packages, %d findings, %d blocking at %s", sb.Image, len(sb.Packages), len(res.Findings), blocking, res.Threshold))
	}
	if !res.Passed {
		msg := fmt.Sprintf("%d finding(s) at or above %s in %s", blocking, res.Threshold, sb.Image)
		if !failOn {
			return Result{Status: SucceededWithIssues, Message: msg}, nil
		}
		return Result{Status: Failed, Message: msg}, nil
	}
	return Result{Status: Succeeded}, nil
}

func firstSet(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// artifactsDir is where this run's artifacts go (the staging folder when
// the executor gives none).
func artifactsDir(env *Env) string {
	if env.Dirs.Artifacts != "" {
		return env.Dirs.Artifacts
	}
	return env.Dirs.ArtifactStaging
}

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// supplyOptions reaches the registry of image with the settings of
// conveyor.yaml: plain HTTP when the registry is insecure or embedded (or on
// loopback), its basic credentials when set; input insecure overrides.
func supplyOptions(env *Env, image string) (supplychain.Options, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return supplychain.Options{}, fmt.Errorf("image %q: %w", image, err)
	}
	host := ref.Context().RegistryStr()
	var opts supplychain.Options
	if h, _, err := net.SplitHostPort(host); err == nil {
		if ip := net.ParseIP(h); (ip != nil && ip.IsLoopback()) || h == "localhost" {
			opts.Insecure = true
		}
	}
	if env.Services != nil && env.Services.Config != nil {
		if r, ok := env.Services.Config.RegistryByHost(host); ok {
			opts.Insecure = opts.Insecure || r.Insecure || r.Embedded
			if r.Username != "" {
				opts.Remote = append(opts.Remote, remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password}))
			}
		}
	}
	insecure, err := env.BoolInput("insecure", opts.Insecure)
	if err != nil {
		return supplychain.Options{}, err
	}
	opts.Insecure = insecure
	return opts, nil
}

// taskSigner loads the signing key ref (nil, nil when ref is empty),
// registering what it read for masking.
func taskSigner(ctx context.Context, env *Env, ref string) (crypto.Signer, error) {
	if ref == "" {
		return nil, nil
	}
	var password []byte
	if pw := lookupEnv(env, "COSIGN_PASSWORD"); pw != "" {
		password = []byte(pw)
	}
	signer, secrets, err := supplychain.LoadSigner(ctx, ref, password, taskSecrets(env))
	for i, s := range secrets {
		if env.SetVariable != nil && len(s) > 0 {
			_ = env.SetVariable(fmt.Sprintf("conveyor.signingKey.%d", i), string(s), VarOptions{Secret: true})
		}
	}
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// taskSecrets reads vault secrets through the run's services.
func taskSecrets(env *Env) supplychain.SecretFunc {
	if env.Services == nil || env.Services.Secrets == nil {
		return nil
	}
	return func(ctx context.Context, vault, name string) ([]byte, error) {
		p, err := env.Services.Secrets.Vault(ctx, vault)
		if err != nil {
			return nil, err
		}
		return p.Get(ctx, name)
	}
}

// lookupEnv finds a variable in the step's environment, then in the job's
// variables.
func lookupEnv(env *Env, key string) string {
	for _, kv := range env.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return env.Variables[key]
}
