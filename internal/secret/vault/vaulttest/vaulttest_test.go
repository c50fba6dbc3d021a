package vaulttest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestVersionMatchesBuildScript(t *testing.T) {
	script, err := BuildScript()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", script, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", script, err)
	}
	if got := strings.TrimSpace(string(out)); got != Version {
		t.Errorf("%s pins %s, vaulttest.Version is %s: change them together", script, got, Version)
	}
	mod, err := os.ReadFile(strings.TrimSuffix(script, "build.sh") + "go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "github.com/hashicorp/vault "+Version) {
		t.Errorf("tools/vault/go.mod does not require github.com/hashicorp/vault %s", Version)
	}
}
