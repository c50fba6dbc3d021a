package task

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
)

// configVaults opens the vaults of a configuration with the real providers.
type configVaults struct {
	cfg *config.Config
	dir string
}

func (s configVaults) Vault(ctx context.Context, name string) (vault.Provider, error) {
	v, ok := s.cfg.Vaults[name]
	if !ok {
		return nil, &missingVault{name}
	}
	return vault.OpenConfigured(ctx, s.cfg, v, s.dir)
}

type missingVault struct{ name string }

func (m *missingVault) Error() string { return "vault " + m.name + " is not defined in conveyor.yaml" }

type setVar struct {
	Name, Value string
	Secret      bool
}

// keyVaultEnv returns an Env for AzureKeyVault@2 over an embedded vault
// holding secrets, and where its variables and log go.
func keyVaultEnv(t *testing.T, inputs map[string]string, secrets map[string]string) (*Env, *[]setVar, *bytes.Buffer) {
	t.Helper()
	t.Setenv(vault.KeyEnv, "")
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Vaults = map[string]config.Vault{"kv": {Provider: config.ProviderEmbedded}}
	cfg.ServiceConnections = map[string]config.ServiceConnection{
		"azure-conn": {Vault: "kv"},
		"registry":   {Registry: "nonprod"},
	}
	src := configVaults{cfg: cfg, dir: dir}
	p, err := src.Vault(t.Context(), "kv")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range secrets {
		if _, err := p.(*vault.Embedded).Set(t.Context(), name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	var vars []setVar
	var log bytes.Buffer
	env := &Env{
		Task:     "AzureKeyVault@2",
		Inputs:   inputs,
		Log:      &log,
		Services: &Services{Config: cfg, DataDir: dir, Secrets: src},
		SetVariable: func(name, value string, o VarOptions) error {
			vars = append(vars, setVar{name, value, o.Secret})
			return nil
		},
	}
	return env, &vars, &log
}

func TestAzureKeyVault(t *testing.T) {
	secrets := map[string]string{
		"db-password":    "s3cr3t-db-password",
		"api-key":        "k-1234567890",
		"tls/cert":       "-----BEGIN-----\nabc\n-----END-----",
		"tiny":           "ab",
		"sql-connection": "Server=x;Password=y%3B;",
	}
	tests := []struct {
		name       string
		inputs     map[string]string
		wantStatus Status
		wantVars   []setVar
		wantMsg    []string
		wantLog    []string
	}{
		{
			name:       "all secrets through the connection",
			inputs:     map[string]string{"azureSubscription": "azure-conn", "KeyVaultName": "my-azure-kv", "SecretsFilter": "*"},
			wantStatus: Succeeded,
			wantVars: []setVar{
				{"api-key", "k-1234567890", true},
				{"db-password", "s3cr3t-db-password", true},
				{"sql-connection", "Server=x;Password=y%3B;", true},
				{"tiny", "ab", true},
				{"tls.cert", "-----BEGIN-----\nabc\n-----END-----", true},
			},
			wantLog: []string{"Number of secrets found in vault kv: 5", "secret tiny has fewer than 4 characters"},
		},
		{
			name:       "a comma list, KeyVaultName naming the vault",
			inputs:     map[string]string{"KeyVaultName": "kv", "SecretsFilter": " db-password ,api-key,db-password"},
			wantStatus: Succeeded,
			wantVars:   []setVar{{"db-password", "s3cr3t-db-password", true}, {"api-key", "k-1234567890", true}},
			wantLog:    []string{"Downloading secret value for: db-password", "Downloading secret value for: api-key"},
		},
		{
			name:       "a missing secret fails naming it, the others are set",
			inputs:     map[string]string{"ConnectedServiceName": "azure-conn", "SecretsFilter": "api-key,no-such,also-missing"},
			wantStatus: Failed,
			wantVars:   []setVar{{"api-key", "k-1234567890", true}},
			wantMsg:    []string{"secret no-such, also-missing not found in vault kv"},
		},
		{
			name:       "a connection without a vault",
			inputs:     map[string]string{"azureSubscription": "registry", "SecretsFilter": "*"},
			wantStatus: Failed,
			wantMsg:    []string{"service connection registry names no vault"},
		},
		{
			name:       "an unknown connection",
			inputs:     map[string]string{"azureSubscription": "nope", "SecretsFilter": "*"},
			wantStatus: Failed,
			wantMsg:    []string{"azureSubscription", "nope"},
		},
		{
			name:       "neither connection nor vault",
			inputs:     map[string]string{"KeyVaultName": "elsewhere"},
			wantStatus: Failed,
			wantMsg:    []string{"KeyVaultName elsewhere is not a vault of conveyor.yaml (kv)"},
		},
		{
			name:       "RunAsPreJob runs in place",
			inputs:     map[string]string{"azureSubscription": "azure-conn", "SecretsFilter": "api-key", "RunAsPreJob": "true"},
			wantStatus: Succeeded,
			wantVars:   []setVar{{"api-key", "k-1234567890", true}},
			wantLog:    []string{"RunAsPreJob"},
		},
		{
			name:       "a bad RunAsPreJob",
			inputs:     map[string]string{"azureSubscription": "azure-conn", "RunAsPreJob": "maybe"},
			wantStatus: Failed,
			wantMsg:    []string{"RunAsPreJob", "maybe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, vars, log := keyVaultEnv(t, tt.inputs, secrets)
			res, err := runAzureKeyVault(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.wantStatus {
				t.Fatalf("status %s (%s), want %s; log:\n%s", res.Status, res.Message, tt.wantStatus, log)
			}
			if diff := cmp.Diff(tt.wantVars, *vars); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
			for _, v := range secrets {
				if len(v) >= 4 && (strings.Contains(log.String(), v) || strings.Contains(res.Message, v)) {
					t.Errorf("a secret value is in the log or message:\n%s\n%s", log, res.Message)
				}
			}
		})
	}
}

func TestAzureKeyVaultWithoutServices(t *testing.T) {
	res, err := runAzureKeyVault(t.Context(), &Env{Task: "AzureKeyVault@2", Inputs: map[string]string{"azureSubscription": "x"}})
	if err != nil || res.Status != Failed || !strings.Contains(res.Message, "conveyor.yaml") {
		t.Fatalf("without services: %+v, %v", res, err)
	}
}
