package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultHelmTimeout is how long helm waits for resources by default.
const DefaultHelmTimeout = 5 * time.Minute

// HelmOptions say which cluster a Helm client works on.
type HelmOptions struct {
	// Kubeconfig is the kubeconfig file; empty means $KUBECONFIG or
	// ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; empty means its current context.
	Context string
	// Namespace holds the releases and their namespaced resources; empty
	// means the context's namespace, else "default".
	Namespace string
	// Log receives Helm's progress lines (resources created, waits); nil
	// discards them.
	Log io.Writer
	// Warnings receives the API server's warnings (deprecated APIs, ...),
	// once each; nil discards them.
	Warnings io.Writer
	// WaitInterval is how often a wait checks the release's resources; 0
	// means DefaultHelmWaitInterval, HelmWaitPollHelm Helm's own 2 s.
	WaitInterval time.Duration
}

// Helm runs Helm releases in one namespace of one cluster through the Helm
// SDK; release state is kept in Secrets, as the helm CLI keeps it. A Helm is
// not safe for concurrent use.
type Helm struct {
	cfg       *action.Configuration
	namespace string
}

// HelmRelease is one revision of a release as Helm records it.
type HelmRelease struct {
	Name         string
	Namespace    string
	Revision     int
	Status       string // deployed, failed, superseded, uninstalled, ...
	Chart        string // chart name
	ChartVersion string
	AppVersion   string
	Description  string
	Notes        string
	Updated      time.Time
	// Manifest is the rendered manifest of this revision.
	Manifest string
}

// NewHelm returns a Helm for the cluster and namespace of o. It does not
// contact the cluster.
func NewHelm(o HelmOptions) (*Helm, error) {
	getter, ns, err := newRESTGetter(o.Kubeconfig, o.Context, o.Namespace)
	if err != nil {
		return nil, err
	}
	if o.Warnings != nil {
		getter.config.WarningHandler = rest.NewWarningWriter(o.Warnings, rest.WarningWriterOptions{Deduplicate: true})
	} else {
		getter.config.WarningHandler = rest.NoWarnings{}
	}
	logf := func(string, ...any) {}
	if o.Log != nil {
		var mu sync.Mutex
		logf = func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(o.Log, strings.TrimRight(fmt.Sprintf(format, a...), "\n"))
		}
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(getter, ns, "secret", logf); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Namespace = ns
		if o.WaitInterval != HelmWaitPollHelm {
			interval := o.WaitInterval
			if interval <= 0 {
				interval = DefaultHelmWaitInterval
			}
			cfg.KubeClient = &fastWaitClient{Client: kc, interval: interval}
		}
	}
	return &Helm{cfg: cfg, namespace: ns}, nil
}

// Namespace is the namespace the releases of h live in.
func (h *Helm) Namespace() string { return h.namespace }

// HelmInstallOptions qualify an install or an upgrade.
type HelmInstallOptions struct {
	// Values are the release's values (see HelmValues).
	Values map[string]any
	// Wait waits until the release's Deployments, StatefulSets, ... are
	// ready (Atomic implies it), up to Timeout.
	Wait, WaitForJobs bool
	// Atomic undoes a failed install (uninstall) or upgrade (rollback).
	Atomic bool
	// Timeout bounds each Kubernetes operation and the wait; 0 means
	// DefaultHelmTimeout.
	Timeout time.Duration
	// Install makes an upgrade of a release that does not exist an install
	// (helm upgrade --install).
	Install         bool
	CreateNamespace bool
	Force           bool
	ResetValues     bool
	ReuseValues     bool
	CleanupOnFail   bool
	DryRun          bool
	DisableHooks    bool
	SkipCRDs        bool
	Description     string
	// HistoryMax bounds the revisions kept (0: helm's default, unlimited).
	HistoryMax int
}

func (o HelmInstallOptions) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultHelmTimeout
	}
	return o.Timeout
}

// Install installs ch as release name.
func (h *Helm) Install(ctx context.Context, name string, ch *chart.Chart, o HelmInstallOptions) (HelmRelease, error) {
	if err := checkChartDependencies(ch); err != nil {
		return HelmRelease{}, fmt.Errorf("helm install %s: %w", name, err)
	}
	in := action.NewInstall(h.cfg)
	in.ReleaseName = name
	in.Namespace = h.namespace
	in.Wait, in.WaitForJobs, in.Atomic = o.Wait, o.WaitForJobs, o.Atomic
	in.Timeout = o.timeout()
	in.CreateNamespace = o.CreateNamespace
	in.Force = o.Force
	in.DryRun = o.DryRun
	in.DisableHooks = o.DisableHooks
	in.SkipCRDs = o.SkipCRDs
	in.Description = o.Description
	rel, err := in.RunWithContext(ctx, ch, o.Values)
	if err != nil {
		return releaseOf(rel), fmt.Errorf("helm install %s: %w", name, err)
	}
	return releaseOf(rel), nil
}

// Upgrade upgrades release name to ch; with o.Install a missing release is
// installed instead (helm upgrade --install), as is one whose only revisions
// failed or were uninstalled.
func (h *Helm) Upgrade(ctx context.Context, name string, ch *chart.Chart, o HelmInstallOptions) (HelmRelease, error) {
	if err := checkChartDependencies(ch); err != nil {
		return HelmRelease{}, fmt.Errorf("helm upgrade %s: %w", name, err)
	}
	if o.Install {
		hist := action.NewHistory(h.cfg)
		hist.Max = 1
		if _, err := hist.Run(name); errors.Is(err, driver.ErrReleaseNotFound) {
			return h.Install(ctx, name, ch, o)
		} else if err != nil {
			return HelmRelease{}, fmt.Errorf("helm upgrade %s: history: %w", name, err)
		}
	}
	up := action.NewUpgrade(h.cfg)
	up.Namespace = h.namespace
	up.Install = o.Install
	up.Wait, up.WaitForJobs, up.Atomic = o.Wait, o.WaitForJobs, o.Atomic
	up.Timeout = o.timeout()
	up.Force = o.Force
	up.ResetValues, up.ReuseValues = o.ResetValues, o.ReuseValues
	up.CleanupOnFail = o.CleanupOnFail
	up.DryRun = o.DryRun
	up.DisableHooks = o.DisableHooks
	up.SkipCRDs = o.SkipCRDs
	up.Description = o.Description
	up.MaxHistory = o.HistoryMax
	rel, err := up.RunWithContext(ctx, name, ch, o.Values)
	if err != nil {
		return releaseOf(rel), fmt.Errorf("helm upgrade %s: %w", name, err)
	}
	return releaseOf(rel), nil
}

// HelmRollbackOptions qualify a rollback.
type HelmRollbackOptions struct {
	// Revision to roll back to; 0 means the previous one.
	Revision      int
	Wait          bool
	WaitForJobs   bool
	Timeout       time.Duration // 0: DefaultHelmTimeout
	Force         bool
	CleanupOnFail bool
	DisableHooks  bool
	DryRun        bool
	HistoryMax    int
}

// Rollback rolls release name back to an earlier revision and returns the
// new revision it made.
func (h *Helm) Rollback(ctx context.Context, name string, o HelmRollbackOptions) (HelmRelease, error) {
	if err := ctx.Err(); err != nil {
		return HelmRelease{}, fmt.Errorf("helm rollback %s: %w", name, err)
	}
	rb := action.NewRollback(h.cfg)
	rb.Version = o.Revision
	rb.Wait, rb.WaitForJobs = o.Wait, o.WaitForJobs
	rb.Timeout = o.Timeout
	if rb.Timeout <= 0 {
		rb.Timeout = DefaultHelmTimeout
	}
	rb.Force = o.Force
	rb.CleanupOnFail = o.CleanupOnFail
	rb.DisableHooks = o.DisableHooks
	rb.DryRun = o.DryRun
	rb.MaxHistory = o.HistoryMax
	if err := rb.Run(name); err != nil {
		return HelmRelease{}, fmt.Errorf("helm rollback %s: %w", name, err)
	}
	return h.Status(ctx, name)
}

// HelmUninstallOptions qualify an uninstall.
type HelmUninstallOptions struct {
	Wait         bool
	Timeout      time.Duration // 0: DefaultHelmTimeout
	KeepHistory  bool
	DisableHooks bool
	DryRun       bool
	Description  string
}

// Uninstall removes release name and its resources; it returns the release
// as it was, with its status uninstalled, and helm's message.
func (h *Helm) Uninstall(ctx context.Context, name string, o HelmUninstallOptions) (HelmRelease, string, error) {
	if err := ctx.Err(); err != nil {
		return HelmRelease{}, "", fmt.Errorf("helm uninstall %s: %w", name, err)
	}
	un := action.NewUninstall(h.cfg)
	un.Wait = o.Wait
	un.Timeout = o.Timeout
	if un.Timeout <= 0 {
		un.Timeout = DefaultHelmTimeout
	}
	un.KeepHistory = o.KeepHistory
	un.DisableHooks = o.DisableHooks
	un.DryRun = o.DryRun
	un.Description = o.Description
	res, err := un.Run(name)
	if err != nil {
		return HelmRelease{}, "", fmt.Errorf("helm uninstall %s: %w", name, err)
	}
	if res == nil {
		return HelmRelease{Name: name, Namespace: h.namespace}, "", nil
	}
	return releaseOf(res.Release), res.Info, nil
}

// Status returns the latest revision of release name.
func (h *Helm) Status(ctx context.Context, name string) (HelmRelease, error) {
	if err := ctx.Err(); err != nil {
		return HelmRelease{}, fmt.Errorf("helm status %s: %w", name, err)
	}
	rel, err := action.NewStatus(h.cfg).Run(name)
	if err != nil {
		return HelmRelease{}, fmt.Errorf("helm status %s: %w", name, err)
	}
	return releaseOf(rel), nil
}

// History returns every recorded revision of release name, oldest first.
func (h *Helm) History(ctx context.Context, name string) ([]HelmRelease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("helm history %s: %w", name, err)
	}
	rels, err := action.NewHistory(h.cfg).Run(name)
	if err != nil {
		return nil, fmt.Errorf("helm history %s: %w", name, err)
	}
	out := make([]HelmRelease, 0, len(rels))
	for _, r := range rels {
		out = append(out, releaseOf(r))
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Revision < out[j-1].Revision; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// List returns the latest revision of every release in the namespace, any
// status, sorted by name.
func (h *Helm) List(ctx context.Context) ([]HelmRelease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("helm list: %w", err)
	}
	l := action.NewList(h.cfg)
	l.All = true
	l.SetStateMask()
	rels, err := l.Run()
	if err != nil {
		return nil, fmt.Errorf("helm list in %s: %w", h.namespace, err)
	}
	out := make([]HelmRelease, 0, len(rels))
	for _, r := range rels {
		out = append(out, releaseOf(r))
	}
	return out, nil
}

// HelmPackageOptions qualify PackageHelmChart.
type HelmPackageOptions struct {
	// Destination is the folder the .tgz goes to (created when missing).
	Destination string
	// Version and AppVersion replace the chart's when set.
	Version, AppVersion string
}

// PackageHelmChart packages the chart folder dir into a versioned .tgz under
// o.Destination and returns its path.
func PackageHelmChart(dir string, o HelmPackageOptions) (string, error) {
	ch, err := LoadHelmChart(context.Background(), dir, "", HelmPullOptions{})
	if err != nil {
		return "", fmt.Errorf("helm package: %w", err)
	}
	if err := checkChartDependencies(ch); err != nil {
		return "", fmt.Errorf("helm package %s: %w", dir, err)
	}
	p := action.NewPackage()
	p.Destination = o.Destination
	p.Version = o.Version
	p.AppVersion = o.AppVersion
	path, err := p.Run(dir, nil)
	if err != nil {
		return "", fmt.Errorf("helm package %s: %w", dir, err)
	}
	return path, nil
}

// String renders r as helm prints a release after install or upgrade.
func (r HelmRelease) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME: %s\n", r.Name)
	if !r.Updated.IsZero() {
		fmt.Fprintf(&b, "LAST DEPLOYED: %s\n", r.Updated.Format(time.ANSIC))
	}
	fmt.Fprintf(&b, "NAMESPACE: %s\n", r.Namespace)
	fmt.Fprintf(&b, "STATUS: %s\n", r.Status)
	fmt.Fprintf(&b, "REVISION: %d\n", r.Revision)
	if r.Chart != "" {
		fmt.Fprintf(&b, "CHART: %s-%s\n", r.Chart, r.ChartVersion)
	}
	if n := strings.TrimSpace(r.Notes); n != "" {
		fmt.Fprintf(&b, "NOTES:\n%s\n", n)
	}
	return b.String()
}

func releaseOf(r *release.Release) HelmRelease {
	if r == nil {
		return HelmRelease{}
	}
	out := HelmRelease{Name: r.Name, Namespace: r.Namespace, Revision: r.Version, Manifest: r.Manifest}
	if r.Info != nil {
		out.Status = r.Info.Status.String()
		out.Description = r.Info.Description
		out.Notes = r.Info.Notes
		out.Updated = r.Info.LastDeployed.Time
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.Chart = r.Chart.Metadata.Name
		out.ChartVersion = r.Chart.Metadata.Version
		out.AppVersion = r.Chart.Metadata.AppVersion
	}
	return out
}

// restGetter gives Helm clients for one kubeconfig context, caching
// discovery in memory only (nothing under ~/.kube).
type restGetter struct {
	loader clientcmd.ClientConfig
	config *rest.Config

	once   sync.Once
	disco  discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
	err    error
}

func newRESTGetter(kubeconfig, context, namespace string) (*restGetter, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	if namespace != "" {
		overrides.Context.Namespace = namespace
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("helm: kubeconfig %s: %w", describeKubeconfig(kubeconfig, context), err)
	}
	ns, _, err := loader.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	// Helm's waits and large releases make many requests.
	cfg.QPS, cfg.Burst = 50, 100
	return &restGetter{loader: loader, config: cfg}, ns, nil
}

func describeKubeconfig(path, context string) string {
	if path == "" {
		path = "(default)"
	}
	if context != "" {
		return path + " context " + context
	}
	return path
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) init() {
	g.once.Do(func() {
		dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.config))
		if err != nil {
			g.err = err
			return
		}
		g.disco = memory.NewMemCacheClient(dc)
		g.mapper = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(g.disco), g.disco, nil)
	})
}

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.init()
	return g.disco, g.err
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	g.init()
	return g.mapper, g.err
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }
