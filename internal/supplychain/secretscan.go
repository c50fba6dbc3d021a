package supplychain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/sources"
)

// SecretFinding is a secret found in a file. It never holds the secret.
type SecretFinding struct {
	RuleID      string `json:"ruleId"`
	Description string `json:"description"`
	File        string `json:"file"` // relative to the scanned folder, slash-separated
	StartLine   int    `json:"startLine"`
	EndLine     int    `json:"endLine"`
	StartColumn int    `json:"startColumn"`
	EndColumn   int    `json:"endColumn"`
	Fingerprint string `json:"fingerprint"` // file:rule:line, for allow-lists
}

var (
	gitleaksOnce sync.Once
	gitleaksCfg  config.Config
	gitleaksErr  error
)

// defaultGitleaksConfig translates gitleaks' embedded default rules once.
// gitleaks reads them through viper's global instance and logs through a
// global zerolog logger: both are confined here (a private viper, a silenced
// logger) so the library stays quiet and safe for concurrent use.
func defaultGitleaksConfig() (config.Config, error) {
	gitleaksOnce.Do(func() {
		logging.Logger = zerolog.Nop()
		v := viper.New()
		v.SetConfigType("toml")
		if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
			gitleaksErr = err
			return
		}
		var vc config.ViperConfig
		if err := v.Unmarshal(&vc); err != nil {
			gitleaksErr = err
			return
		}
		gitleaksCfg, gitleaksErr = vc.Translate()
	})
	return gitleaksCfg, gitleaksErr
}

// ScanSecrets looks for secrets in the files under dir (not its git
// history) with gitleaks' default rules, honouring a .gitleaksignore file
// in dir. Findings are sorted by file and line.
func ScanSecrets(ctx context.Context, dir string) ([]SecretFinding, error) {
	cfg, err := defaultGitleaksConfig()
	if err != nil {
		return nil, fmt.Errorf("secret scan: gitleaks default config: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("secret scan of %s: %w", dir, err)
	}
	d := detect.NewDetectorContext(ctx, cfg)
	ignored, err := readIgnore(filepath.Join(abs, ".gitleaksignore"))
	if err != nil {
		return nil, fmt.Errorf("secret scan of %s: %w", dir, err)
	}
	src := &sources.Files{Config: &cfg, Path: abs, Sema: d.Sema, MaxArchiveDepth: 0, MaxFileSize: 10 << 20}
	found, err := d.DetectSource(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("secret scan of %s: %w", dir, err)
	}
	out := make([]SecretFinding, 0, len(found))
	for _, f := range found {
		rel, err := filepath.Rel(abs, f.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = f.File
		}
		rel = filepath.ToSlash(rel)
		fp := fmt.Sprintf("%s:%s:%d", rel, f.RuleID, f.StartLine)
		if strings.HasPrefix(rel, ".git/") || ignored[fp] {
			continue
		}
		out = append(out, SecretFinding{
			RuleID: f.RuleID, Description: f.Description, File: rel,
			StartLine: f.StartLine, EndLine: f.EndLine, StartColumn: f.StartColumn, EndColumn: f.EndColumn,
			Fingerprint: fp,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].StartLine < out[j].StartLine
	})
	return out, nil
}

// readIgnore reads a .gitleaksignore: one fingerprint per line
// (file:rule:line, paths relative to the scanned folder; a leading
// "commit:" is dropped), # comments. A missing file ignores nothing.
func readIgnore(p string) (map[string]bool, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if parts := strings.Split(line, ":"); len(parts) == 4 {
			line = strings.Join(parts[1:], ":")
		}
		out[line] = true
	}
	return out, nil
}

// SecretsSARIF returns findings as a SARIF 2.1.0 log (level error), without
// the secrets themselves.
func SecretsSARIF(findings []SecretFinding, toolVersion string) *SARIF {
	run := SARIFRun{Tool: SARIFTool{Driver: SARIFDriver{Name: "conveyor-secrets (gitleaks)", Version: toolVersion, InformationURI: "https://github.com/gitleaks/gitleaks"}}, Results: []SARIFResult{}}
	index := map[string]int{}
	for _, f := range findings {
		if _, ok := index[f.RuleID]; !ok {
			index[f.RuleID] = len(run.Tool.Driver.Rules)
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, SARIFRule{
				ID: f.RuleID, ShortDescription: &SARIFMessage{Text: firstNonEmpty(f.Description, f.RuleID)},
				DefaultConfig: &SARIFRuleConf{Level: "error"},
				Properties:    map[string]any{"tags": []string{"security", "secret"}},
			})
		}
		i := index[f.RuleID]
		run.Results = append(run.Results, SARIFResult{
			RuleID: f.RuleID, RuleIndex: &i, Level: "error",
			Message: SARIFMessage{Text: fmt.Sprintf("%s: a secret in %s line %d: remove it, rotate it, and read it from a vault", firstNonEmpty(f.Description, f.RuleID), f.File, f.StartLine)},
			Locations: []SARIFLocation{{PhysicalLocation: SARIFPhysical{
				ArtifactLocation: SARIFArtifact{URI: f.File},
				Region:           &SARIFRegion{StartLine: f.StartLine, EndLine: f.EndLine, StartColumn: f.StartColumn, EndColumn: f.EndColumn},
			}}},
			Properties: map[string]any{"fingerprint": f.Fingerprint},
		})
	}
	return &SARIF{Schema: SARIFSchema, Version: "2.1.0", Runs: []SARIFRun{run}}
}
