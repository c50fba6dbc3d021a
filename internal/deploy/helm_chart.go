package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
)

// HelmPullOptions say how to reach the OCI registry of an oci:// chart.
type HelmPullOptions struct {
	// PlainHTTP talks HTTP instead of HTTPS (registries marked insecure).
	PlainHTTP bool
	// InsecureSkipTLSVerify accepts any server certificate.
	InsecureSkipTLSVerify bool
	// Username and Password authenticate to the registry when set.
	Username, Password string
}

// IsOCIChart reports whether ref names a chart in an OCI registry
// (oci://host/repo/chart).
func IsOCIChart(ref string) bool { return strings.HasPrefix(strings.TrimSpace(ref), "oci://") }

// LoadHelmChart loads the chart ref: a chart folder, a packaged chart (.tgz)
// or an OCI reference oci://host/repo/chart. For an OCI chart, version is the
// exact version or a semver constraint (empty: the newest version tag); a
// local chart is loaded as it is and version is ignored, as helm does.
// Chart repositories (repo/chart names) are not supported.
func LoadHelmChart(ctx context.Context, ref, version string, pull HelmPullOptions) (*chart.Chart, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("helm chart: no chart given: name a chart folder, a .tgz or an oci:// reference")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", ref, err)
	}
	if IsOCIChart(ref) {
		return pullOCIChart(ref, strings.TrimSpace(version), pull)
	}
	if _, err := os.Stat(ref); err != nil {
		if filepath.IsAbs(ref) || strings.HasPrefix(ref, ".") || !strings.Contains(ref, "/") || errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("helm chart %s: %w", ref, err)
		}
		return nil, fmt.Errorf("helm chart %s: not a local chart, and chart repositories (repo/chart) are not supported: give a chart folder, a packaged .tgz or an oci://host/repo/chart reference", ref)
	}
	ch, err := loader.Load(ref)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", ref, err)
	}
	return ch, nil
}

// newHelmRegistryClient returns a registry client that keeps no state on disk
// other than reading the Docker credentials helm falls back to.
func newHelmRegistryClient(pull HelmPullOptions) (*registry.Client, error) {
	opts := []registry.ClientOption{
		// A file that is never written (no login): no credentials of the
		// user's helm configuration leak into a pipeline.
		registry.ClientOptCredentialsFile(filepath.Join(os.TempDir(), "conveyor-helm-registry-none.json")),
	}
	if pull.PlainHTTP {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	if pull.InsecureSkipTLSVerify {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by the user
		opts = append(opts, registry.ClientOptHTTPClient(&http.Client{Transport: tr}))
	}
	if pull.Username != "" || pull.Password != "" {
		opts = append(opts, registry.ClientOptBasicAuth(pull.Username, pull.Password))
	}
	return registry.NewClient(opts...)
}

func pullOCIChart(ref, version string, pull HelmPullOptions) (*chart.Chart, error) {
	client, err := newHelmRegistryClient(pull)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: registry client: %w", ref, err)
	}
	repo := strings.TrimPrefix(ref, "oci://")
	if i := strings.LastIndexByte(repo, '@'); i > 0 {
		// A digest reference pins the chart; version is ignored.
		return pullOCIChartRef(client, ref, repo)
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		if version == "" {
			version = repo[i+1:]
		}
		repo = repo[:i]
	}
	tag, err := resolveOCIChartTag(client, repo, version)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", ref, err)
	}
	return pullOCIChartRef(client, ref, repo+":"+tag)
}

func pullOCIChartRef(client *registry.Client, ref, target string) (*chart.Chart, error) {
	res, err := client.Pull(target, registry.PullOptWithChart(true))
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: pull %s: %w", ref, target, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: load %s: %w", ref, target, err)
	}
	return ch, nil
}

// resolveOCIChartTag turns a version (exact, constraint or empty) into the tag
// of repo to pull. Helm stores "+" of a version as "_" in a tag.
func resolveOCIChartTag(client *registry.Client, repo, version string) (string, error) {
	if version != "" {
		if _, err := semver.StrictNewVersion(version); err == nil {
			return strings.ReplaceAll(version, "+", "_"), nil
		}
	}
	tags, err := client.Tags(repo)
	if err != nil {
		return "", fmt.Errorf("list versions: %w", err)
	}
	if len(tags) == 0 {
		return "", fmt.Errorf("no chart versions (semver tags) in %s: push one with helm push", repo)
	}
	return pickChartVersion(tags, version)
}

// pickChartVersion returns the newest tag matching the constraint (any when
// empty), as its tag spelling.
func pickChartVersion(tags []string, constraint string) (string, error) {
	var c *semver.Constraints
	if constraint != "" {
		var err error
		if c, err = semver.NewConstraint(constraint); err != nil {
			return "", fmt.Errorf("version %q is neither a version nor a constraint: %w", constraint, err)
		}
	}
	var best *semver.Version
	bestTag := ""
	for _, tag := range tags {
		v, err := semver.StrictNewVersion(strings.ReplaceAll(tag, "_", "+"))
		if err != nil || (c != nil && !c.Check(v)) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestTag = v, tag
		}
	}
	if best == nil {
		return "", fmt.Errorf("no chart version matches %q among %s", constraint, strings.Join(tags, ", "))
	}
	return strings.ReplaceAll(bestTag, "+", "_"), nil
}
