package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/task"
)

// Options say where a runner keeps its state.
type Options struct {
	// DataDir is the runner's data folder; embedded registries keep their
	// blobs in DataDir/registries/<name>.
	DataDir string
	// VaultDir is the folder of the embedded vault (default DataDir).
	VaultDir string
	// RegistryAddrs are listen addresses for embedded registries by name
	// (default 127.0.0.1:0, a free port).
	RegistryAddrs map[string]string
	// ClusterState is the state folder of `conveyor cluster` whose
	// kubeconfig the "local" cluster uses (default kubeenv.DefaultStateDir).
	ClusterState string
	// Logger receives the registries' request errors; nil logs nothing.
	Logger *slog.Logger
	// OpenVault opens non-embedded vaults; nil refuses them with a clear
	// error.
	OpenVault func(ctx context.Context, cfg *config.Config, v config.Vault) (vault.Provider, error)
}

// Runtime is a started set of services. Close stops the embedded registries.
type Runtime struct {
	// Services is what tasks get.
	Services *task.Services
	servers  []*http.Server
}

// Start resolves cfg for one runner: it serves each embedded registry on
// loopback and writes its address into a copy of the configuration, points
// the "local" cluster at `conveyor cluster`'s kubeconfig when none is set,
// and prepares the vaults. The caller must call Close.
func Start(ctx context.Context, cfg *config.Config, o Options) (*Runtime, error) {
	if o.DataDir == "" {
		return nil, errors.New("services: no data folder")
	}
	if o.VaultDir == "" {
		o.VaultDir = o.DataDir
	}
	c := clone(cfg)
	rt := &Runtime{}
	names := make([]string, 0, len(c.Registries))
	for name := range c.Registries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := c.Registries[name]
		if !r.Embedded {
			continue
		}
		addr := o.RegistryAddrs[name]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		url, srv, err := serveRegistry(ctx, filepath.Join(o.DataDir, "registries", name), name, addr, r.ImmutableTags, o.Logger)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.servers = append(rt.servers, srv)
		r.URL, r.Insecure = url, true
		c.Registries[name] = r
	}
	if l := c.Clusters["local"]; l.Kubeconfig == "" {
		state := o.ClusterState
		if state == "" {
			var err error
			if state, err = kubeenv.DefaultStateDir(); err != nil {
				state = ""
			}
		}
		if state != "" {
			l.Kubeconfig = kubeenv.ClusterKubeconfig(state)
			c.Clusters["local"] = l
		}
	}
	for name, cl := range c.Clusters {
		if cl.Kubeconfig != "" && !filepath.IsAbs(cl.Kubeconfig) && c.Dir != "" {
			cl.Kubeconfig = filepath.Join(c.Dir, cl.Kubeconfig)
			c.Clusters[name] = cl
		}
	}
	rt.Services = &task.Services{
		Config:  c,
		DataDir: o.DataDir,
		Secrets: &vaults{cfg: c, dir: o.VaultDir, open: o.OpenVault, opened: map[string]vault.Provider{}},
	}
	return rt, nil
}

// Close stops the embedded registries.
func (rt *Runtime) Close() {
	for _, s := range rt.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	rt.servers = nil
}

// serveRegistry serves one embedded registry and returns its host:port.
func serveRegistry(ctx context.Context, dir, name, addr string, immutable bool, log *slog.Logger) (string, *http.Server, error) {
	opts := []registry.Option{registry.WithName(name)}
	if immutable {
		opts = append(opts, registry.WithImmutableTags(true))
	}
	if log != nil {
		opts = append(opts, registry.WithLogger(log))
	}
	reg, err := registry.New(dir, opts...)
	if err != nil {
		return "", nil, fmt.Errorf("embedded registry %s: %w", name, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("embedded registry %s: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv, nil
}

// clone copies the maps of cfg that Start changes.
func clone(cfg *config.Config) *config.Config {
	c := *cfg
	c.Registries = make(map[string]config.Registry, len(cfg.Registries))
	for k, v := range cfg.Registries {
		c.Registries[k] = v
	}
	c.Clusters = make(map[string]config.Cluster, len(cfg.Clusters))
	for k, v := range cfg.Clusters {
		c.Clusters[k] = v
	}
	return &c
}

// vaults opens the configuration's vaults on first use.
type vaults struct {
	cfg    *config.Config
	dir    string
	open   func(ctx context.Context, cfg *config.Config, v config.Vault) (vault.Provider, error)
	mu     sync.Mutex
	opened map[string]vault.Provider
}

func (s *vaults) Vault(ctx context.Context, name string) (vault.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.opened[name]; ok {
		return p, nil
	}
	v, ok := s.cfg.Vaults[name]
	if !ok {
		return nil, fmt.Errorf("vault %q is not defined in conveyor.yaml: add it under vaults", name)
	}
	var p vault.Provider
	switch {
	case v.Provider == config.ProviderEmbedded:
		key, err := vault.ResolveKey(os.Getenv(vault.KeyEnv), s.dir)
		if err != nil {
			return nil, fmt.Errorf("vault %s: %w", name, err)
		}
		e, err := vault.Open(s.dir, key)
		if err != nil {
			return nil, fmt.Errorf("vault %s: %w", name, err)
		}
		p = e
	case s.open != nil:
		var err error
		if p, err = s.open(ctx, s.cfg, v); err != nil {
			return nil, fmt.Errorf("vault %s: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("vault %s: provider %s is not available to this runner", name, v.Provider)
	}
	s.opened[name] = p
	return p, nil
}
