package vault_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/secret/vault/vaulttest"
)

func TestEmbeddedProvider(t *testing.T) {
	e, err := vault.Open(t.TempDir(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.RunProvider(t, e, func(ctx context.Context, name string, v []byte) error {
		_, err := e.Set(ctx, name, v)
		return err
	})
}

func TestOpenConfiguredErrors(t *testing.T) {
	cfg := config.Default()
	for _, tt := range []struct {
		name string
		v    config.Vault
		want string
	}{
		{"unknown provider", config.Vault{Provider: "azure"}, `vault provider "azure" is not known`},
		{"vault without address", config.Vault{Provider: config.ProviderVault, Token: "t"}, "no address"},
		{"vault without credentials", config.Vault{Provider: config.ProviderVault, Address: "http://127.0.0.1:1"}, "no credentials"},
		{"kubernetes unknown cluster", config.Vault{Provider: config.ProviderKubernetes, Cluster: "aks", Namespace: "ci"}, `cluster "aks" is not defined`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vault.OpenConfigured(t.Context(), cfg, tt.v, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenConfigured = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
