package supplychain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanSecrets(t *testing.T) {
	dir := t.TempDir()
	// A GitHub personal access token shaped string (not a real one), split
	// so this file does not trip scanners itself.
	token := "ghp_" + strings.Repeat("a1B2c3D4e5", 3) + "F6g7h8"
	files := map[string]string{
		"main.go":        "package main\n\nfunc main() {}\n",
		"deploy/env.yml": "name: app\ngithub_token: " + token + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ScanSecrets(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].File != "deploy/env.yml" || got[0].StartLine != 2 || got[0].RuleID != "github-pat" {
		t.Fatalf("findings = %+v, want one github-pat in deploy/env.yml line 2", got)
	}
	b, err := json.Marshal(SecretsSARIF(got, "test"))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, compileSchema(t, sarifSchemaID), b)
	if strings.Contains(string(b), token) {
		t.Error("the SARIF log contains the secret")
	}
	s, err := ReadSARIF(b)
	if err != nil {
		t.Fatal(err)
	}
	counts, failing := s.Summarize("error")
	if diff := cmp.Diff([]SARIFCount{{Tool: "conveyor-secrets (gitleaks)", Level: "error", Count: 1}}, counts); diff != "" || failing != 1 {
		t.Errorf("summary (-want +got):\n%s failing=%d", diff, failing)
	}

	// .gitleaksignore silences a finding by its gitleaks fingerprint.
	if err := os.WriteFile(filepath.Join(dir, ".gitleaksignore"), []byte("deploy/env.yml:github-pat:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = ScanSecrets(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("with .gitleaksignore: findings = %+v, want none", got)
	}
}
