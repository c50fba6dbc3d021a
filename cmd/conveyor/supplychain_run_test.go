package main

import (
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/store"
)

// TestRunSecretScanAndPublishSarif runs SecretScan@1 and PublishSarif@1
// through the engine: a secret in the sources is reported (without failing,
// as asked), and a linter's SARIF with an error fails its step and the run.
func TestRunSecretScanAndPublishSarif(t *testing.T) {
	token := "ghp_" + strings.Repeat("a1B2c3D4e5", 3) + "F6g7h8"
	pipeline := `
steps:
- task: SecretScan@1
  displayName: secrets
  inputs:
    failOnFindings: false
- bash: |
    cat > lint.sarif <<'JSON'
    {"version":"2.1.0","runs":[{"tool":{"driver":{"name":"vet"}},"results":[{"ruleId":"printf","level":"error","message":{"text":"bad format"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"main.go"},"region":{"startLine":3}}}]}]}]}
    JSON
  displayName: lint
- task: PublishSarif@1
  displayName: sarif
  inputs:
    sarifFiles: '*.sarif'
`
	repo := writeRepo(t, "app", map[string]string{"azure-pipelines.yml": pipeline, "deploy/env.yml": "token: " + token + "\n"})
	res := runIn(t, t.Context(), repo)
	got := map[string]store.Result{}
	var ids = map[string]string{}
	for _, s := range res.summary.Stages {
		for _, j := range s.Jobs {
			for _, st := range j.Steps {
				got[st.DisplayName] = st.Result
				ids[st.DisplayName] = st.ID
			}
		}
	}
	if got["secrets"] != store.ResultSucceededWithIssues || got["sarif"] != store.ResultFailed || res.summary.Result != store.ResultFailed {
		t.Fatalf("results = %v, run %s; stderr:\n%s", got, res.summary.Result, res.stderr)
	}
	log := strings.Join(res.logOf(t, ids["secrets"]), "\n")
	if !strings.Contains(log, "deploy/env.yml:1: github-pat") || strings.Contains(log, token) {
		t.Errorf("secret scan log:\n%s", log)
	}
	log = strings.Join(res.logOf(t, ids["sarif"]), "\n")
	if !strings.Contains(log, "vet: 1 error") || !strings.Contains(log, "main.go:3") {
		t.Errorf("PublishSarif log:\n%s", log)
	}
}
