package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/secret/vault/vaulttest"
)

func TestHashiCorpProviderWithToken(t *testing.T) {
	srv := vaulttest.Start(t)
	h, err := vault.NewHashiCorp(vault.HashiCorpOptions{Address: srv.Addr, Token: srv.Token, Path: "conveyor/test"})
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.RunProvider(t, h, func(ctx context.Context, name string, v []byte) error {
		_, err := h.Set(ctx, name, v)
		return err
	})
	t.Run("field", func(t *testing.T) {
		root := admin{t: t, addr: srv.Addr, token: srv.Token}
		root.do("POST", "/v1/secret/data/conveyor/test/db-creds", `{"data":{"user":"app","password":"field-secret-value"}}`)
		got, err := h.Get(t.Context(), "db-creds#password")
		if err != nil || string(got) != "field-secret-value" {
			t.Fatalf("Get(db-creds#password) = %q, %v", got, err)
		}
		_, err = h.Get(t.Context(), "db-creds")
		if err == nil || !strings.Contains(err.Error(), "password, user") || strings.Contains(err.Error(), "field-secret-value") {
			t.Fatalf("Get(db-creds) of two fields = %v, want an error naming the fields and not the values", err)
		}
	})
	t.Run("deleted is not found", func(t *testing.T) {
		if _, err := h.Set(t.Context(), "gone", []byte("soon-deleted")); err != nil {
			t.Fatal(err)
		}
		root := admin{t: t, addr: srv.Addr, token: srv.Token}
		root.do("DELETE", "/v1/secret/data/conveyor/test/gone", "")
		if _, err := h.Get(t.Context(), "gone"); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("Get of a deleted secret = %v, want ErrNotFound", err)
		}
	})
}

func TestHashiCorpProviderWithAppRole(t *testing.T) {
	srv := vaulttest.Start(t)
	root := admin{t: t, addr: srv.Addr, token: srv.Token}
	root.do("POST", "/v1/sys/auth/approle", `{"type":"approle"}`)
	root.do("PUT", "/v1/sys/policies/acl/ci-read", `{"policy":"path \"secret/data/ci/*\" { capabilities = [\"read\"] }\npath \"secret/metadata/ci/*\" { capabilities = [\"read\", \"list\"] }\npath \"secret/metadata/ci\" { capabilities = [\"list\"] }"}`)
	root.do("POST", "/v1/auth/approle/role/ci", `{"token_policies":["ci-read"],"token_ttl":"10m"}`)
	roleID := root.get("/v1/auth/approle/role/ci/role-id", "role_id")
	secretID := root.post("/v1/auth/approle/role/ci/secret-id", "secret_id")
	root.do("POST", "/v1/secret/data/ci/api-key", `{"data":{"value":"approle-secret-value"}}`)
	root.do("POST", "/v1/secret/data/other/hidden", `{"data":{"value":"not-for-ci"}}`)

	p, err := vault.OpenConfigured(t.Context(), config.Default(), config.Vault{Provider: config.ProviderVault, Address: srv.Addr, Path: "ci", RoleID: roleID, SecretID: secretID}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(t.Context(), "api-key")
	if err != nil || string(got) != "approle-secret-value" {
		t.Fatalf("Get(api-key) = %q, %v", got, err)
	}
	list, err := p.List(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "api-key" {
		t.Fatalf("List = %v, %v; want [api-key]", list, err)
	}
	// The policy reaches only ci/: outside it Vault says 403.
	out, err := vault.NewHashiCorp(vault.HashiCorpOptions{Address: srv.Addr, Path: "other", RoleID: roleID, SecretID: secretID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Get(t.Context(), "hidden"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Get outside the policy = %v, want 403", err)
	}
	bad, err := vault.NewHashiCorp(vault.HashiCorpOptions{Address: srv.Addr, Path: "ci", RoleID: roleID, SecretID: "wrong-secret-id"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Get(t.Context(), "api-key"); err == nil || !strings.Contains(err.Error(), "approle login") || strings.Contains(err.Error(), "wrong-secret-id") {
		t.Fatalf("Get with a wrong secret id = %v, want a login error without the id", err)
	}
}

// admin talks to the dev server as root to prepare it.
type admin struct {
	t           *testing.T
	addr, token string
}

func (a admin) do(method, path, body string) []byte {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.addr+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode >= 300 {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b.String())
	}
	return b.Bytes()
}

func (a admin) get(path, field string) string  { return a.field(a.do("GET", path, ""), field) }
func (a admin) post(path, field string) string { return a.field(a.do("POST", path, "{}"), field) }

func (a admin) field(body []byte, field string) string {
	a.t.Helper()
	var resp struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		a.t.Fatal(err)
	}
	s, _ := resp.Data[field].(string)
	if s == "" {
		a.t.Fatalf("no %s in %s", field, body)
	}
	return s
}
