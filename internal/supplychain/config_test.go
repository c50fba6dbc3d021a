package supplychain

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
)

func TestSettingsOf(t *testing.T) {
	wd, _ := os.Getwd()
	keyDir := t.TempDir()
	priv, _, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(keyDir, "cosign.key"), priv, 0o600)
	sc := config.SupplyChain{
		ScanOnBuild: true, VulnDB: "testdata/osv", Severity: "critical", SigningKey: filepath.Join(keyDir, "cosign.key"),
		Allow: []config.Allow{{ID: "CVE-1", Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "r"}},
	}
	s, err := SettingsOf(sc, wd, "/data", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if s.VulnDB != filepath.Join(wd, "testdata/osv") || s.Policy.Threshold != SeverityCritical || len(s.Policy.Allow) != 1 {
		t.Errorf("settings = %+v", s)
	}
	bo, _, err := s.BuildOptions(t.Context(), testOpts, []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bo.Key == nil || bo.DB == nil || bo.DB.Count != 1 {
		t.Errorf("build options: key %v, db %+v", bo.Key != nil, bo.DB)
	}
	if _, err := SettingsOf(config.SupplyChain{Severity: "severe"}, "", "", nil); err == nil {
		t.Error("severity severe accepted")
	}
	if s, _ := SettingsOf(config.SupplyChain{}, "", "/data", nil); s.VulnDB != "/data/vulndb" || s.Policy.Threshold != SeverityHigh {
		t.Errorf("defaults = %+v", s)
	}
}

func TestAdmissionTarget(t *testing.T) {
	cfg := &config.Config{
		Registries: map[string]config.Registry{"prod": {URL: "prod.example:5000/team"}},
		Environments: map[string]config.Environment{
			"production": {EnforceRegistry: true, Registry: "prod"},
			"staging":    {Namespace: "stage"},
			"broken":     {EnforceRegistry: true, Registry: "nope"},
		},
	}
	host, ns, on, err := AdmissionTarget(cfg, "production")
	if err != nil || !on || host != "prod.example:5000/team" || ns != "production" {
		t.Errorf("production = %q %q %v %v", host, ns, on, err)
	}
	if _, _, on, err := AdmissionTarget(cfg, "staging"); on || err != nil {
		t.Errorf("staging = %v %v, want not enforced", on, err)
	}
	if _, _, _, err := AdmissionTarget(cfg, "broken"); err == nil {
		t.Error("broken: no error")
	}
}
