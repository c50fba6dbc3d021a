package examples

import (
	"encoding/json"
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

func TestSampleVulnDBHoldsOSVRecords(t *testing.T) {
	dir := t.TempDir()
	n, err := SampleVulnDB(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "db", "*.json"))
	if n == 0 || len(files) != n {
		t.Fatalf("SampleVulnDB wrote %d, found %d records", n, len(files))
	}
	for _, f := range files {
		var rec struct {
			ID       string `json:"id"`
			Affected []struct {
				Package struct{ Ecosystem, Name string }
			} `json:"affected"`
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rec.ID+".json" != filepath.Base(f) || len(rec.Affected) == 0 || rec.Affected[0].Package.Ecosystem != "Go" {
			t.Errorf("%s: id %q, affected %+v: want an OSV Go record named after its id", f, rec.ID, rec.Affected)
		}
	}
}
