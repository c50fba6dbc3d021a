package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/supplychain"
)

// osvBaseURL serves osv.dev's per-ecosystem exports: <base>/<ecosystem>/all.zip.
const osvBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

func newVulnDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Manage the offline OSV vulnerability database",
	}
	cmd.AddCommand(newVulnDBUpdateCmd())
	return cmd
}

func newVulnDBUpdateCmd() *cobra.Command {
	var (
		dir        string
		ecosystems []string
		baseURL    string
		timeout    time.Duration
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download osv.dev's database exports into the vulnerability database folder",
		Long: `Download osv.dev's per-ecosystem exports (<url>/<ecosystem>/all.zip) into DIR as
<ecosystem>.zip, each written to a temporary file, checked to read as OSV records
and renamed into place, so a failed update keeps the previous database.
ContainerScan@1 reads DIR (supplyChain.vulnDB in conveyor.yaml).

Where osv.dev cannot be reached, copy an OSV export (a folder of *.json records
or all.zip files) into DIR instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := vulnDBFromConfig(configPath)
				if err != nil {
					return err
				}
				dir = d
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("vulndb update: %w", err)}
			}
			client := &http.Client{Timeout: timeout}
			for _, eco := range ecosystems {
				url := strings.TrimSuffix(baseURL, "/") + "/" + eco + "/all.zip"
				n, err := downloadDB(cmd.Context(), client, url, filepath.Join(dir, eco+".zip"))
				if err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("vulndb update: %s from %s: %w: if this machine cannot reach osv.dev, copy an OSV export (*.json records or all.zip files) into %s instead", eco, url, err, dir)}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d advisories\n", eco, n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the vulnerability database folder (default supplyChain.vulnDB of --config)")
	cmd.Flags().StringVar(&configPath, "config", "conveyor.yaml", "conveyor.yaml naming supplyChain.vulnDB")
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", []string{"Go", "Debian", "Alpine", "npm", "PyPI"}, "OSV ecosystems to fetch (repeatable or comma-separated)")
	cmd.Flags().StringVar(&baseURL, "url", osvBaseURL, "base URL of the exports")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "timeout of each download")
	return cmd
}

// vulnDBFromConfig is supplyChain.vulnDB of the configuration file,
// resolved against its folder.
func vulnDBFromConfig(path string) (string, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return "", usageError("vulndb update: no --dir and %v", err)
	}
	d := cfg.SupplyChain.VulnDB
	if d == "" {
		return "", usageError("vulndb update: no --dir and %s sets no supplyChain.vulnDB", path)
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(cfg.Dir, d)
	}
	return d, nil
}

// downloadDB fetches url into dst atomically after checking it reads as an
// OSV zip; it returns the number of advisories.
func downloadDB(ctx context.Context, client *http.Client, url, dst string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*.zip")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	db, err := supplychain.LoadDB(tmp.Name())
	if err != nil {
		return 0, fmt.Errorf("not an OSV export: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, err
	}
	return db.Count, nil
}
