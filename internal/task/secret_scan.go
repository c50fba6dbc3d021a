package task

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"conveyor.dev/conveyor/internal/supplychain"
)

// runSecretScan is SecretScan@1: gitleaks' default rules over the files of
// a folder (not its git history).
//
// Inputs:
//   - path: the folder to scan (default $(Build.SourcesDirectory)); a
//     .gitleaksignore in it lists accepted findings by fingerprint
//     (file:rule:line).
//   - failOnFindings: false turns findings into SucceededWithIssues
//     (default true).
//
// It writes CodeAnalysisLogs/secret-scan.sarif into the run's artifacts
// (never the secrets themselves), logs one line per finding and sets the
// output variable findings.
func runSecretScan(ctx context.Context, env *Env) (Result, error) {
	dir := env.Input("path", env.Dirs.Sources)
	if dir == "" {
		return Result{Status: Failed, Message: "SecretScan@1: input path is required"}, nil
	}
	if !filepath.IsAbs(dir) && env.Dirs.Sources != "" {
		dir = filepath.Join(env.Dirs.Sources, dir)
	}
	failOn, err := env.BoolInput("failOnFindings", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	findings, err := supplychain.ScanSecrets(ctx, dir)
	if err != nil {
		return Result{Status: Failed, Message: "SecretScan@1: " + err.Error()}, nil
	}
	for _, f := range findings {
		env.Logf("##[error]%s:%d: %s (%s); fingerprint %s", f.File, f.StartLine, f.RuleID, f.Description, f.Fingerprint)
	}
	sarif, err := json.MarshalIndent(supplychain.SecretsSARIF(findings, "conveyor"), "", "  ")
	if err != nil {
		return Result{}, err
	}
	out := filepath.Join(artifactsDir(env), "CodeAnalysisLogs", "secret-scan.sarif")
	if err := writeFile(out, sarif); err != nil {
		return Result{}, fmt.Errorf("secret scan: %w", err)
	}
	env.Logf("Secret scan of %s: %d finding(s); SARIF written to %s", dir, len(findings), out)
	if env.SetVariable != nil {
		_ = env.SetVariable("findings", fmt.Sprint(len(findings)), VarOptions{Output: true})
	}
	if env.AddSummary != nil {
		env.AddSummary(fmt.Sprintf("Secret scan: %d finding(s)", len(findings)))
	}
	if len(findings) > 0 {
		msg := fmt.Sprintf("%d secret(s) found in %s: remove and rotate them, or list their fingerprints in .gitleaksignore", len(findings), dir)
		if !failOn {
			return Result{Status: SucceededWithIssues, Message: msg}, nil
		}
		return Result{Status: Failed, Message: msg}, nil
	}
	return Result{Status: Succeeded}, nil
}
