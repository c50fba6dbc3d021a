package deploy

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/release"
)

// DefaultHelmReleaseName is the release name helm template uses when none is
// given.
const DefaultHelmReleaseName = "release-name"

// HelmRenderOptions say what RenderHelm renders.
type HelmRenderOptions struct {
	// Chart is a chart folder, a packaged chart (.tgz) or oci://host/repo/chart.
	Chart string
	// Version picks the version of an OCI chart (exact or a constraint;
	// empty: the newest).
	Version string
	// ReleaseName is .Release.Name; empty means DefaultHelmReleaseName.
	ReleaseName string
	// Namespace is .Release.Namespace; empty means "default".
	Namespace string
	// ValueFiles are values files, later ones winning (helm -f).
	ValueFiles []string
	// Overrides are helm --set expressions (key=value, a.b=c,d=e), applied
	// after the value files, later ones winning.
	Overrides []string
	// StringOverrides are helm --set-string expressions, applied last.
	StringOverrides []string
	// KubeVersion is .Capabilities.KubeVersion (e.g. "v1.37.2"); empty means
	// helm's default.
	KubeVersion string
	// IncludeCRDs adds the chart's crds/ folder to the output.
	IncludeCRDs bool
	// Pull says how to reach the registry of an OCI chart.
	Pull HelmPullOptions
}

// RenderHelm renders a chart as helm template does, without a cluster: the
// manifests of the release, then its hooks, as one multi-document YAML
// stream with "# Source:" comments. It pulls an OCI chart when asked to.
func RenderHelm(ctx context.Context, o HelmRenderOptions) ([]byte, error) {
	ch, err := LoadHelmChart(ctx, o.Chart, o.Version, o.Pull)
	if err != nil {
		return nil, err
	}
	return RenderHelmChart(ctx, ch, o)
}

// RenderHelmChart renders a loaded chart as RenderHelm does; o.Chart,
// o.Version and o.Pull are not used.
func RenderHelmChart(ctx context.Context, ch *chart.Chart, o HelmRenderOptions) ([]byte, error) {
	name := chartName(ch)
	vals, err := HelmValues(o.ValueFiles, o.Overrides, o.StringOverrides)
	if err != nil {
		return nil, fmt.Errorf("render helm chart %s: %w", name, err)
	}
	if err := checkChartDependencies(ch); err != nil {
		return nil, fmt.Errorf("render helm chart %s: %w", name, err)
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = o.IncludeCRDs
	inst.ReleaseName = o.ReleaseName
	if inst.ReleaseName == "" {
		inst.ReleaseName = DefaultHelmReleaseName
	}
	inst.Namespace = o.Namespace
	if inst.Namespace == "" {
		inst.Namespace = "default"
	}
	if o.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(o.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("render helm chart %s: kube version %q: %w", name, o.KubeVersion, err)
		}
		inst.KubeVersion = kv
	}
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("render helm chart %s: %w", name, err)
	}
	return []byte(templateOutput(rel)), nil
}

// templateOutput lays out a dry-run release as helm template prints it: the
// manifest, then each hook (test hooks included) with its source path.
func templateOutput(rel *release.Release) string {
	var b strings.Builder
	if m := strings.TrimSpace(rel.Manifest); m != "" {
		b.WriteString(m)
		b.WriteString("\n")
	}
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, strings.TrimSpace(h.Manifest))
	}
	return b.String()
}

// HelmValues merges values files and --set/--set-string expressions as helm
// does: files in order, then overrides, then string overrides; later ones win.
func HelmValues(valueFiles, overrides, stringOverrides []string) (map[string]any, error) {
	opts := values.Options{ValueFiles: valueFiles, Values: overrides, StringValues: stringOverrides}
	vals, err := opts.MergeValues(nil)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return vals, nil
}

// checkChartDependencies fails when the chart declares dependencies that are
// not vendored in its charts/ folder.
func checkChartDependencies(ch *chart.Chart) error {
	if ch.Metadata == nil || len(ch.Metadata.Dependencies) == 0 {
		return nil
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		return fmt.Errorf("%w: vendor the dependencies into the chart's charts/ folder (helm dependency update) and commit them: Conveyor does not fetch them", err)
	}
	return nil
}

func chartName(ch *chart.Chart) string {
	if ch == nil || ch.Metadata == nil {
		return "(unnamed)"
	}
	return ch.Metadata.Name + "-" + ch.Metadata.Version
}
