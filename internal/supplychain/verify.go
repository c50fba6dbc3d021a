package supplychain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/registry"
)

// VulnPredicate is cosign's vulnerability attestation predicate
// (https://cosign.sigstore.dev/attestation/vuln/v1) with Conveyor's
// ScanResult as the scanner's result.
type VulnPredicate struct {
	Invocation struct {
		Parameters any    `json:"parameters"`
		URI        string `json:"uri"`
		EventID    string `json:"event_id"`
		BuilderID  string `json:"builder.id"`
	} `json:"invocation"`
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
		} `json:"db"`
		Result *ScanResult `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  time.Time `json:"scanStartedOn"`
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

// AttachScan stores res as a vulnerability attestation of the image ref,
// signed with key (nil: unsigned, which VerifyScan will not accept).
func AttachScan(ctx context.Context, ref string, res *ScanResult, key crypto.Signer, toolVersion string, opts Options) (string, error) {
	var p VulnPredicate
	p.Scanner.URI = "https://conveyor.dev/scan"
	p.Scanner.Version = toolVersion
	p.Scanner.DB.URI = res.DB
	p.Scanner.Result = res
	p.Metadata.ScanStartedOn, p.Metadata.ScanFinishedOn = res.ScannedAt, res.ScannedAt
	return Attach(ctx, ref, PredicateVuln, p, key, opts)
}

// ErrScanFailed is wrapped by VerifyScan when the image's latest scan did
// not pass its gate.
var ErrScanFailed = errors.New("vulnerability scan failed")

// VerifyScan checks the image ref's latest vulnerability attestation signed
// with pub: it must exist and record a passed gate. It returns that result.
func VerifyScan(ctx context.Context, ref string, pub *ecdsa.PublicKey, opts Options) (*ScanResult, error) {
	d, _, err := opts.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("verify scan: %w", err)
	}
	atts, err := attestationsOf(ctx, d, PredicateVuln, pub, opts)
	if err != nil {
		return nil, fmt.Errorf("verify scan of %s: %w", d, err)
	}
	var latest *ScanResult
	for _, a := range atts {
		var p VulnPredicate
		if json.Unmarshal(a.Statement.Predicate, &p) != nil || p.Scanner.Result == nil {
			continue
		}
		if latest == nil || p.Scanner.Result.ScannedAt.After(latest.ScannedAt) {
			latest = p.Scanner.Result
		}
	}
	if latest == nil {
		return nil, fmt.Errorf("verify scan of %s: %w: no vulnerability scan attestation signed with the given key: scan the image (ContainerScan@1 with signing, or supplyChain.scanOnBuild)", d, ErrNoAttestation)
	}
	if !latest.Passed {
		var ids []string
		for _, f := range latest.Blocking() {
			ids = append(ids, f.ID+" ("+f.Package.Name+" "+f.Package.Version+", "+f.Severity+")")
		}
		return latest, fmt.Errorf("verify scan of %s: %w on %s at threshold %s: %s: upgrade the packages and rebuild, or allow the IDs in supplyChain.allow and rescan",
			d, ErrScanFailed, latest.ScannedAt.Format(time.RFC3339), latest.Threshold, strings.Join(ids, ", "))
	}
	return latest, nil
}

// Checker verifies images before a promotion: it implements
// registry.SignatureChecker with Verify (and VerifyScan when RequireScan).
type Checker struct {
	Pub         *ecdsa.PublicKey
	RequireScan bool
	Options     Options
}

var _ registry.SignatureChecker = Checker{}

// CheckSignatures verifies image's signature (and scan) with c.Pub; the
// artifacts Promote found are not trusted by themselves.
func (c Checker) CheckSignatures(ctx context.Context, image string, _ []registry.Artifact) error {
	if _, err := Verify(ctx, image, c.Pub, c.Options); err != nil {
		return err
	}
	if c.RequireScan {
		if _, err := VerifyScan(ctx, image, c.Pub, c.Options); err != nil {
			return err
		}
	}
	return nil
}

// ProvenanceInfo is what a build's provenance records.
type ProvenanceInfo struct {
	Repository string // clone URL or name
	Commit     string
	Branch     string
	Pipeline   string
	RunID      string
	RunURL     string
	Builder    string // e.g. https://conveyor.dev/conveyor@v1.2.3
	Started    time.Time
	Finished   time.Time
}

// Provenance is an SLSA v1 provenance predicate for a build.
func Provenance(info ProvenanceInfo) map[string]any {
	dep := map[string]any{"uri": "git+" + info.Repository}
	if info.Branch != "" {
		dep["uri"] = "git+" + info.Repository + "@refs/heads/" + info.Branch
	}
	if info.Commit != "" {
		dep["digest"] = map[string]string{"gitCommit": info.Commit}
	}
	builder := info.Builder
	if builder == "" {
		builder = "https://conveyor.dev/conveyor"
	}
	meta := map[string]any{"invocationId": info.RunID}
	if !info.Started.IsZero() {
		meta["startedOn"] = info.Started.UTC().Format(time.RFC3339)
	}
	if !info.Finished.IsZero() {
		meta["finishedOn"] = info.Finished.UTC().Format(time.RFC3339)
	}
	run := map[string]any{"builder": map[string]any{"id": builder}, "metadata": meta}
	if info.RunURL != "" {
		run["byproducts"] = []map[string]any{{"name": "run", "uri": info.RunURL}}
	}
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": "https://conveyor.dev/pipeline/v1",
			"externalParameters": map[string]any{
				"repository": info.Repository, "ref": info.Branch, "pipeline": info.Pipeline,
			},
			"internalParameters":   map[string]any{"run": info.RunID},
			"resolvedDependencies": []any{dep},
		},
		"runDetails": run,
	}
}

// AttachProvenance stores SLSA provenance for the image ref, signed with key.
func AttachProvenance(ctx context.Context, ref string, info ProvenanceInfo, key crypto.Signer, opts Options) (string, error) {
	return Attach(ctx, ref, PredicateProvenance, Provenance(info), key, opts)
}
