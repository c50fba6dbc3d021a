package vault

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"

	"conveyor.dev/conveyor/internal/config"
)

// OpenConfigured opens the vault v of cfg: the embedded vault in dataDir
// (its key from $CONVEYOR_VAULT_KEY or dataDir/vault.key), a HashiCorp
// Vault/OpenBao KV v2 mount, or the Secrets of a namespace of one of cfg's
// clusters. Its signature after dataDir is services.Options.OpenVault's.
func OpenConfigured(ctx context.Context, cfg *config.Config, v config.Vault, dataDir string) (Provider, error) {
	switch v.Provider {
	case config.ProviderEmbedded, "":
		key, err := ResolveKey(os.Getenv(KeyEnv), dataDir)
		if err != nil {
			return nil, err
		}
		return Open(dataDir, key)
	case config.ProviderVault:
		return NewHashiCorp(HashiCorpOptions{Address: v.Address, Mount: v.Mount, Path: v.Path, Token: v.Token, RoleID: v.RoleID, SecretID: v.SecretID})
	case config.ProviderKubernetes:
		if cfg == nil {
			return nil, fmt.Errorf("kubernetes vault: no configuration to find cluster %q in", v.Cluster)
		}
		name := v.Cluster
		if name == "" {
			name = "local"
		}
		cl, ok := cfg.Clusters[name]
		if !ok {
			return nil, fmt.Errorf("kubernetes vault: cluster %q is not defined in conveyor.yaml: add it under clusters", name)
		}
		rc, err := KubeConfig(cl.Kubeconfig, cl.Context)
		if err != nil {
			return nil, fmt.Errorf("kubernetes vault on cluster %s: %w", name, err)
		}
		client, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes vault on cluster %s: %w", name, err)
		}
		return NewKubernetes(client, name, v.Namespace)
	}
	return nil, fmt.Errorf("vault provider %q is not known: use embedded, vault or kubernetes", v.Provider)
}

// Opener returns OpenConfigured bound to dataDir, in the form of
// services.Options.OpenVault.
func Opener(dataDir string) func(ctx context.Context, cfg *config.Config, v config.Vault) (Provider, error) {
	return func(ctx context.Context, cfg *config.Config, v config.Vault) (Provider, error) {
		return OpenConfigured(ctx, cfg, v, dataDir)
	}
}
