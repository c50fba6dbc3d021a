package services

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
)

func TestStartServesEmbeddedRegistries(t *testing.T) {
	data := t.TempDir()
	t.Setenv(vault.KeyEnv, "")
	rt, err := Start(t.Context(), config.Default(), Options{DataDir: data, ClusterState: filepath.Join(data, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	c := rt.Services.Config
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range []string{"nonprod", "prod"} {
		r := c.Registries[reg]
		if !strings.HasPrefix(r.URL, "127.0.0.1:") || !r.Insecure {
			t.Fatalf("registry %s = %+v, want a loopback URL", reg, r)
		}
		ref, err := name.ParseReference(r.URL+"/app:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("push to %s: %v", reg, err)
		}
	}
	// prod's tags are immutable: re-pointing v1 is refused.
	other, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(c.Registries["prod"].URL+"/app:v1", name.Insecure)
	if err := remote.Write(ref, other, remote.WithContext(t.Context())); err == nil {
		t.Error("re-pointing a prod tag succeeded")
	}
	ref, _ = name.ParseReference(c.Registries["nonprod"].URL+"/app:v1", name.Insecure)
	if err := remote.Write(ref, other, remote.WithContext(t.Context())); err != nil {
		t.Errorf("re-pointing a nonprod tag: %v", err)
	}
	if got, want := c.Clusters["local"].Kubeconfig, filepath.Join(data, "cluster", "kubeconfig"); got != want {
		t.Errorf("local kubeconfig = %q, want %q", got, want)
	}
	if config.Default().Registries["nonprod"].URL != "" {
		t.Error("Start changed the caller's configuration")
	}
}

func TestVaults(t *testing.T) {
	data := t.TempDir()
	t.Setenv(vault.KeyEnv, "")
	cfg, err := config.Parse("conveyor.yaml", []byte("vaults:\n  hv: {provider: vault, address: http://127.0.0.1:1}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Start(t.Context(), cfg, Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	e, err := vault.Open(data, mustKey(t, data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(t.Context(), "db-password", []byte("hunter22")); err != nil {
		t.Fatal(err)
	}
	p, err := rt.Services.Secrets.Vault(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(t.Context(), "db-password")
	if err != nil || string(got) != "hunter22" {
		t.Errorf("Get = %q, %v", got, err)
	}
	if _, err := rt.Services.Secrets.Vault(t.Context(), "hv"); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("vault hv without an opener: %v", err)
	}
	if _, err := rt.Services.Secrets.Vault(t.Context(), "nope"); err == nil || !strings.Contains(err.Error(), "not defined") {
		t.Errorf("unknown vault: %v", err)
	}
	rt2, err := Start(t.Context(), cfg, Options{DataDir: t.TempDir(), OpenVault: func(context.Context, *config.Config, config.Vault) (vault.Provider, error) {
		return nil, errors.New("dial refused")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	if _, err := rt2.Services.Secrets.Vault(t.Context(), "hv"); err == nil || !strings.Contains(err.Error(), "vault hv: dial refused") {
		t.Errorf("vault hv with a failing opener: %v", err)
	}
}

func mustKey(t *testing.T, dir string) []byte {
	t.Helper()
	k, err := vault.ResolveKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
