package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMaterializeBuildsAndTestsStandalone(t *testing.T) {
	dir := t.TempDir()
	if err := Materialize("webapp", dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "pr.yml", "ci.yml", "cd.yml", "conveyor.yaml", "Dockerfile", ".dockerignore", "deploy/webapp.yaml", "acceptance/acceptance_test.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("materialized app lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod.txt")); err == nil {
		t.Error("go.mod.txt was copied as is")
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet in the materialized app: %v\n%s", err, out)
	}
	if err := Materialize("nope", t.TempDir()); err == nil {
		t.Error("Materialize(nope) succeeded")
	}
}
