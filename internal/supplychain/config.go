package supplychain

import (
	"context"
	"crypto"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/config"
)

// Settings are conveyor.yaml's supplyChain section made usable: the
// database path resolved, the threshold parsed, the allow-list converted.
type Settings struct {
	ScanOnBuild bool
	VulnDB      string // absolute, or empty when neither configured nor defaulted
	Policy      Policy
	SigningKey  string // file path (absolute) or vault:// reference; empty: no signing
}

// SettingsOf reads sc (of a file in cfgDir); dataDir/vulndb is the database
// when sc names none and dataDir is set; now is the policy's clock.
func SettingsOf(sc config.SupplyChain, cfgDir, dataDir string, now func() time.Time) (Settings, error) {
	s := Settings{ScanOnBuild: sc.ScanOnBuild, VulnDB: sc.VulnDB, SigningKey: sc.SigningKey}
	switch {
	case s.VulnDB != "" && !filepath.IsAbs(s.VulnDB) && cfgDir != "":
		s.VulnDB = filepath.Join(cfgDir, s.VulnDB)
	case s.VulnDB == "" && dataDir != "":
		s.VulnDB = filepath.Join(dataDir, "vulndb")
	}
	if _, _, isVault := ParseKeyRef(s.SigningKey); s.SigningKey != "" && !isVault && !filepath.IsAbs(s.SigningKey) && cfgDir != "" {
		s.SigningKey = filepath.Join(cfgDir, s.SigningKey)
	}
	s.Policy.Threshold = SeverityHigh
	if sc.Severity != "" {
		sev, err := ParseSeverity(sc.Severity)
		if err != nil {
			return Settings{}, fmt.Errorf("supplyChain.severity: %w", err)
		}
		s.Policy.Threshold = sev
	}
	for _, a := range sc.Allow {
		s.Policy.Allow = append(s.Policy.Allow, Allowance{ID: a.ID, Until: a.Until, Reason: a.Reason})
	}
	s.Policy.Now = now
	return s, nil
}

// BuildOptions returns AfterBuild's options for these settings: the
// database loaded when ScanOnBuild, the key loaded when SigningKey is set
// (password as for LoadSigner). It also returns the secret values read, for
// the caller to mask.
func (s Settings) BuildOptions(ctx context.Context, o Options, password []byte, read SecretFunc) (BuildOptions, [][]byte, error) {
	bo := BuildOptions{Options: o, Policy: s.Policy, Now: s.Policy.Now}
	var secrets [][]byte
	if s.SigningKey != "" {
		var key crypto.Signer
		var err error
		key, secrets, err = LoadSigner(ctx, s.SigningKey, password, read)
		if err != nil {
			return BuildOptions{}, secrets, fmt.Errorf("supplyChain.signingKey: %w", err)
		}
		bo.Key = key
	}
	if s.ScanOnBuild {
		db, err := LoadDB(s.VulnDB)
		if err != nil {
			return BuildOptions{}, secrets, fmt.Errorf("supplyChain.scanOnBuild: %w", err)
		}
		bo.DB = db
	}
	return bo, secrets, nil
}

// AdmissionTarget is what EnsureAdmissionPolicy needs for the environment
// named env of cfg: its registry's host[:port][/path] and its namespace. enforce is
// false when the environment does not set enforceRegistry.
func AdmissionTarget(cfg *config.Config, env string) (host, namespace string, enforce bool, err error) {
	e, ok := cfg.Environments[env]
	if !ok {
		return "", "", false, fmt.Errorf("environment %s: not in conveyor.yaml", env)
	}
	if !e.EnforceRegistry {
		return "", "", false, nil
	}
	r, ok := cfg.Registries[e.Registry]
	if !ok || r.URL == "" {
		return "", "", false, fmt.Errorf("environment %s: enforceRegistry needs registry: naming an entry of registries with a url (got %q)", env, e.Registry)
	}
	host = strings.TrimSuffix(r.URL, "/") // host[:port][/path]: images must be under it
	namespace = e.Namespace
	if namespace == "" {
		namespace = env
	}
	return host, namespace, true, nil
}
