package gitops

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/supplychain"
	"conveyor.dev/conveyor/internal/trigger"
)

// SetupOptions say where reconcilers built from conveyor.yaml keep their
// state and how they reach secrets and clusters.
type SetupOptions struct {
	// DataDir holds the git mirrors (DataDir/gitops/mirrors) and the
	// sources unpacked while reconciling (DataDir/gitops/work). Required.
	DataDir string
	// Names keeps only the entries of these names (all when empty); an
	// unknown name is an error.
	Names []string
	// Secrets reads vault:// verification keys; nil refuses them.
	Secrets supplychain.SecretFunc
	// ClusterConfig returns how to reach a cluster of conveyor.yaml; nil
	// means its kubeconfig and context ("local" without one: the cluster of
	// `conveyor cluster up`).
	ClusterConfig func(cfg *config.Config, cl config.Cluster) (*rest.Config, error)
	// Options go to every reconciler (clock, work folder).
	Options []Option
}

// FromConfig builds one reconciler per entry of cfg's gitops section.
func FromConfig(ctx context.Context, cfg *config.Config, o SetupOptions) ([]*Reconciler, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("gitops: no data folder")
	}
	want := map[string]bool{}
	for _, n := range o.Names {
		want[n] = true
	}
	known := map[string]bool{}
	for _, g := range cfg.GitOps {
		known[g.Name] = true
	}
	for n := range want {
		if !known[n] {
			names := make([]string, 0, len(known))
			for k := range known {
				names = append(names, k)
			}
			return nil, fmt.Errorf("gitops: no entry named %q in %s (known: %s)", n, source(cfg), strings.Join(names, ", "))
		}
	}
	clusterConfig := o.ClusterConfig
	if clusterConfig == nil {
		clusterConfig = DefaultClusterConfig
	}
	mirrors := trigger.NewGit(filepath.Join(o.DataDir, "gitops", "mirrors"))
	opts := append([]Option{WithWorkDir(filepath.Join(o.DataDir, "gitops", "work")), WithResolver(resolverOf(cfg))}, o.Options...)
	var recs []*Reconciler
	for _, g := range cfg.GitOps {
		if len(want) > 0 && !want[g.Name] {
			continue
		}
		src, err := sourceOf(ctx, cfg, g, mirrors, o.Secrets)
		if err != nil {
			return nil, fmt.Errorf("gitops %s: %w", g.Name, err)
		}
		cl, ok := cfg.Clusters[g.Cluster]
		if !ok {
			return nil, fmt.Errorf("gitops %s: cluster %q is not defined in %s", g.Name, g.Cluster, source(cfg))
		}
		rc, err := clusterConfig(cfg, cl)
		if err != nil {
			return nil, fmt.Errorf("gitops %s: %w", g.Name, err)
		}
		spec := Spec{Name: g.Name, Namespace: g.Namespace, Interval: g.Interval, Timeout: g.Timeout, Prune: g.Prune,
			Wait: g.WaitOrDefault(), Suspend: g.Suspend,
			Render: RenderOptions{Type: g.Render.Type, ReleaseName: g.Render.ReleaseName, Values: g.Render.Values, Set: g.Render.Set},
			Images: g.Images, PinDigests: g.PinDigests}
		r, err := NewReconciler(spec, src, rc, opts...)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func source(cfg *config.Config) string {
	if cfg.File == "" {
		return "the embedded defaults"
	}
	return cfg.File
}

// sourceOf builds the Source of entry g.
func sourceOf(ctx context.Context, cfg *config.Config, g config.GitOps, mirrors *trigger.Git, secrets supplychain.SecretFunc) (Source, error) {
	if s := g.Source.Git; s != nil {
		url := s.URL
		if isLocalPath(url) && !filepath.IsAbs(url) && cfg.Dir != "" {
			url = filepath.Join(cfg.Dir, url)
		}
		return &GitSource{Mirrors: mirrors, URL: url, Ref: s.Ref, Path: s.Path}, nil
	}
	s := g.Source.OCI
	if s == nil {
		return nil, fmt.Errorf("no source: give source.git or source.oci")
	}
	src := &OCISource{URL: s.URL, Ref: s.Ref, Path: s.Path, Insecure: s.Insecure}
	host, _, _ := strings.Cut(strings.TrimPrefix(s.URL, "oci://"), "/")
	if reg, ok := cfg.RegistryByHost(host); ok {
		src.Insecure = src.Insecure || reg.Insecure
		if reg.Username != "" || reg.Password != "" {
			src.Auth = authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password})
		}
	}
	if v := s.Verify; v != nil {
		key := v.Key
		if _, _, isVault := supplychain.ParseKeyRef(key); !isVault && !filepath.IsAbs(key) && cfg.Dir != "" {
			key = filepath.Join(cfg.Dir, key)
		}
		pub, err := supplychain.LoadPublicKey(ctx, key, secrets)
		if err != nil {
			return nil, fmt.Errorf("source.oci.verify: %w", err)
		}
		src.Verify = pub
	}
	return src, nil
}

// resolverOf resolves image tags with the registries of cfg.
func resolverOf(cfg *config.Config) *deploy.RegistryResolver {
	r := &deploy.RegistryResolver{}
	for _, reg := range cfg.Registries {
		host, _, _ := strings.Cut(reg.URL, "/")
		if host != "" {
			r.Registries = append(r.Registries, deploy.Registry{Host: host, Username: reg.Username, Password: reg.Password, Insecure: reg.Insecure})
		}
	}
	return r
}

// isLocalPath reports whether a git URL is a path rather than a URL
// (scheme://… or user@host:path).
func isLocalPath(u string) bool {
	if strings.Contains(u, "://") {
		return false
	}
	if i := strings.Index(u, ":"); i > 0 && !strings.Contains(u[:i], "/") {
		return false
	}
	return true
}

// DefaultClusterConfig reaches cl through its kubeconfig (relative to the
// configuration's folder) and context; "local" without a kubeconfig is the
// cluster of `conveyor cluster up`.
func DefaultClusterConfig(cfg *config.Config, cl config.Cluster) (*rest.Config, error) {
	kubeconfig := cl.Kubeconfig
	if kubeconfig == "" && cl.Name == "local" {
		state, err := kubeenv.DefaultStateDir()
		if err != nil {
			return nil, fmt.Errorf("cluster local: %w", err)
		}
		kubeconfig = kubeenv.ClusterKubeconfig(state)
	}
	if kubeconfig == "" {
		return nil, fmt.Errorf("cluster %s has no kubeconfig: set clusters.%s.kubeconfig in %s", cl.Name, cl.Name, source(cfg))
	}
	if !filepath.IsAbs(kubeconfig) && cfg.Dir != "" {
		kubeconfig = filepath.Join(cfg.Dir, kubeconfig)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cl.Context}).ClientConfig()
	if err != nil {
		hint := "fix clusters." + cl.Name + " in " + source(cfg)
		if cl.Name == "local" && cl.Kubeconfig == "" {
			hint = "start the local cluster with `conveyor cluster up`"
		}
		return nil, fmt.Errorf("cluster %s: kubeconfig %s: %w (%s)", cl.Name, kubeconfig, err, hint)
	}
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}
