package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const designExample = `
registries:
  nonprod: {url: 127.0.0.1:5001, insecure: true}
  prod:    {url: "http://127.0.0.1:5002/", insecure: true}
clusters:
  local: {kubeconfig: /path/to/kubeconfig, context: local}
vaults:
  default: {provider: embedded}
  hv: {provider: vault, address: "http://127.0.0.1:8200", token: "${VAULT_TOKEN}"}
environments:
  staging:    {cluster: local, namespace: staging}
  production:
    cluster: local
    namespace: prod
    checks:
      approvals: {approvers: [ops-lead, release-team], minApprovers: 1, requesterCannotApprove: true, timeout: 30m, onTimeout: reject}
      branchControl: {allowedBranches: [refs/heads/main]}
      exclusiveLock: {}
repositories:
- name: webapp
  url: /srv/git/webapp.git
  webhookSecret: ${WEBHOOK_SECRET}
  pipelines: {pr: pr.yml, ci: ci.yml, cd: cd.yml}
serviceConnections:
  nonprod-acr: {registry: nonprod}
  prod-acr:    {registry: prod}
  staging-aks: {cluster: local, namespace: staging}
  kv:          {vault: default}
variableGroups:
  integration: {secrets: [db-password], variables: {region: local}}
users:
  alice: {role: approver, groups: [release-team]}
supplyChain:
  allow: [{id: GO-2024-0001, until: 2027-01-31, reason: no fix}]
`

func TestParseDesignExample(t *testing.T) {
	c, err := Parse("conveyor.yaml", []byte(designExample), env(map[string]string{"WEBHOOK_SECRET": "s3cret", "VAULT_TOKEN": "root"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Registry{Name: "prod", URL: "127.0.0.1:5002", Insecure: true}, c.Registries["prod"]); diff != "" {
		t.Errorf("prod registry (-want +got):\n%s", diff)
	}
	if got := c.Repositories[0].WebhookSecret; got != "s3cret" {
		t.Errorf("webhook secret = %q, want the environment's value", got)
	}
	prod := c.Environments["production"]
	want := &Approvals{Approvers: []string{"ops-lead", "release-team"}, MinApprovers: 1, RequesterCannotApprove: true, Timeout: 30 * time.Minute, OnTimeout: "reject"}
	if diff := cmp.Diff(want, prod.Checks.Approvals); diff != "" {
		t.Errorf("approvals (-want +got):\n%s", diff)
	}
	if prod.Checks.ExclusiveLock == nil || prod.Checks.ExclusiveLock.LockBehavior != "sequential" {
		t.Errorf("exclusive lock = %+v, want sequential by default", prod.Checks.ExclusiveLock)
	}
	if got := c.SupplyChain.Allow[0].Until; !got.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("allow until = %v", got)
	}
	r, err := c.RegistryOf("nonprod-acr")
	if err != nil || r.URL != "127.0.0.1:5001" {
		t.Errorf("RegistryOf(nonprod-acr) = %+v, %v", r, err)
	}
	cl, ns, err := c.ClusterOf("staging-aks")
	if err != nil || cl.Kubeconfig != "/path/to/kubeconfig" || ns != "staging" {
		t.Errorf("ClusterOf(staging-aks) = %+v, %q, %v", cl, ns, err)
	}
	cl, ns, err = c.ClusterOf("production")
	if err != nil || cl.Name != "local" || ns != "prod" {
		t.Errorf("ClusterOf(production) = %+v, %q, %v", cl, ns, err)
	}
	v, err := c.VaultOf("kv")
	if err != nil || v.Provider != ProviderEmbedded {
		t.Errorf("VaultOf(kv) = %+v, %v", v, err)
	}
	if v := c.Vaults["hv"]; v.Token != "root" || v.Mount != "secret" {
		t.Errorf("vault hv = %+v, want token from env and mount secret", v)
	}
	if g := c.VariableGroups["integration"]; g.Vault != "default" {
		t.Errorf("variable group vault = %q, want default", g.Vault)
	}
	if _, err := c.RegistryOf("staging-aks"); err == nil || !strings.Contains(err.Error(), "not a registry connection") {
		t.Errorf("RegistryOf(cluster connection) error = %v", err)
	}
	if _, err := c.Connection("nope"); err == nil || !strings.Contains(err.Error(), `"nope" is not defined in conveyor.yaml`) {
		t.Errorf("Connection(nope) error = %v", err)
	}
	if r, ok := c.RegistryByHost("127.0.0.1:5002"); !ok || r.Name != "prod" {
		t.Errorf("RegistryByHost = %+v, %v", r, ok)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	for _, name := range []string{"nonprod", "prod"} {
		if !c.Registries[name].Embedded {
			t.Errorf("registry %s is not embedded by default", name)
		}
	}
	if !c.Registries["prod"].ImmutableTags {
		t.Error("embedded prod registry has mutable tags")
	}
	if c.Vaults["default"].Provider != ProviderEmbedded {
		t.Errorf("default vault = %+v", c.Vaults["default"])
	}
	if _, ns, err := c.ClusterOf("staging"); err != nil || ns != "staging" {
		t.Errorf("ClusterOf(staging) = %q, %v", ns, err)
	}
	if _, err := c.Connection("nope"); err == nil || !strings.Contains(err.Error(), "embedded defaults") {
		t.Errorf("Connection(nope) error = %v, want it to name the embedded defaults", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown field", "registries:\n  nonprod: {url: x, insecur: true}\n", []string{"conveyor.yaml:2:", "insecur"}},
		{"unknown section", "registry: {}\n", []string{"conveyor.yaml:1:", "registry"}},
		{"missing cluster", "environments:\n  staging: {cluster: aks}\n", []string{`conveyor.yaml:2:22: environments.staging.cluster: cluster "aks" is not defined`}},
		{"connection names two", "serviceConnections:\n  x: {registry: prod, vault: default}\n", []string{"conveyor.yaml:2:6: serviceConnections.x: name exactly one"}},
		{"bad provider", "vaults:\n  v: {provider: aws}\n", []string{`conveyor.yaml:2:17: vaults.v.provider: "aws" is not a provider`}},
		{"bad onTimeout", "environments:\n  p:\n    checks:\n      approvals: {approvers: [a], onTimeout: wait}\n", []string{`conveyor.yaml:4:46: environments.p.checks.approvals.onTimeout: "wait"`}},
		{"bad duration", "environments:\n  p:\n    checks:\n      approvals: {approvers: [a], timeout: soon}\n", []string{"conveyor.yaml:4:", "soon"}},
		{"registry without url", "registries:\n  acr: {insecure: true}\n", []string{"conveyor.yaml:2:8: registries.acr: url is required"}},
		{"not a mapping", "- a\n", []string{"conveyor.yaml:1:1: the configuration must be a mapping"}},
		{"bad role", "users:\n  bob: {role: god}\n", []string{`conveyor.yaml:2:15: users.bob.role: "god"`}},
		{"negative watch", "environments:\n  p: {watch: -5m}\n", []string{"conveyor.yaml:2:14: environments.p.watch: must not be negative"}},
		{"bad watch", "environments:\n  p: {watch: later}\n", []string{"conveyor.yaml:2:", "later"}},
		{"otlp without scheme", "observe: {otlp: collector:4318}\n", []string{`conveyor.yaml:1:17: observe.otlp: "collector:4318"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(tt.text), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseObserve(t *testing.T) {
	c, err := Parse("conveyor.yaml", []byte("observe: {otlp: http://otel:4318, doraWindow: 168h}\nenvironments:\n  production: {watch: 5m}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Observe.OTLP != "http://otel:4318" || c.Observe.DORAWindow != 7*24*time.Hour || c.Environments["production"].Watch != 5*time.Minute {
		t.Errorf("observe %+v, production watch %v", c.Observe, c.Environments["production"].Watch)
	}
}

func TestFindAndLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Find(dir)
	if err != nil || c.File != "" || c.Dir != dir {
		t.Fatalf("Find(no file) = %+v, %v; want the defaults", c, err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("registries:\n  acr: {url: acr.example.com}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Find(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.Registries["acr"].URL != "acr.example.com" || !c.Registries["nonprod"].Embedded {
		t.Errorf("Find = %+v", c)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load(missing) succeeded")
	}
}

func TestUnsetVariableReadsEmptyWithAWarning(t *testing.T) {
	c, err := Parse("conveyor.yaml", []byte("repositories:\n- name: a\n  url: /x\n  webhookSecret: ${NOPE}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Repositories[0].WebhookSecret != "" {
		t.Errorf("webhook secret = %q, want empty", c.Repositories[0].WebhookSecret)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "conveyor.yaml:4:18: ${NOPE} is not set") {
		t.Errorf("warnings = %v", c.Warnings)
	}
}
