package task

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"conveyor.dev/conveyor/internal/config"
	ociregistry "conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/supplychain"
)

// debianImage pushes a one-layer image holding a Debian 12 dpkg database
// with openssl's libssl3 at 3.0.11-1~deb12u2 and returns its digest reference.
func debianImage(t *testing.T) string {
	t.Helper()
	reg, err := ociregistry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{
		"etc/os-release":      "ID=debian\nVERSION_ID=\"12\"\n",
		"var/lib/dpkg/status": "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return ref.Context().Digest(d.String()).String()
}

// debianDB writes an OSV database with one critical Debian 12 advisory
// for openssl, fixed in 3.0.11-1~deb12u3.
func debianDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	adv := `{"id":"DEBIAN-CVE-2099-0001","aliases":["CVE-2099-0001"],"summary":"openssl test advisory",
"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u3"}]}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "DEBIAN-CVE-2099-0001.json"), []byte(adv), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// vaults is a SecretSource of one embedded vault named "main".
type vaults struct{ v *vault.Embedded }

func (s vaults) Vault(_ context.Context, name string) (vault.Provider, error) {
	if name != "main" {
		return nil, fmt.Errorf("vault %s: not configured", name)
	}
	return s.v, nil
}

func TestContainerScan(t *testing.T) {
	image := debianImage(t)
	db := debianDB(t)
	priv, pubPEM, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(t.TempDir(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v.Set(ctx, "cosign-key", priv)
	v.Set(ctx, "cosign-key-password", []byte("pw"))
	future := time.Now().Add(24 * time.Hour)
	past := time.Now().Add(-24 * time.Hour)

	for _, tc := range []struct {
		name    string
		inputs  map[string]string
		allow   []config.Allow
		want    Status
		log     string
		signed  bool
		masking bool
	}{
		{"fails at high", map[string]string{"image": image, "vulnDB": db}, nil, Failed, "BLOCKING", false, false},
		{"issues without failOnFindings", map[string]string{"image": image, "vulnDB": db, "failOnFindings": "false"}, nil, SucceededWithIssues, "BLOCKING", false, false},
		{"allowed by alias", map[string]string{"image": image, "vulnDB": db}, []config.Allow{{ID: "CVE-2099-0001", Until: future, Reason: "backport"}}, Succeeded, "allowed until", false, false},
		{"expired allowance", map[string]string{"image": image, "vulnDB": db}, []config.Allow{{ID: "CVE-2099-0001", Until: past, Reason: "backport"}}, Failed, "expired on", false, false},
		{"signed attestations from the vault", map[string]string{"image": image, "vulnDB": db, "signingKey": "vault://main/cosign-key"},
			[]config.Allow{{ID: "DEBIAN-CVE-2099-0001", Until: future, Reason: "backport"}}, Succeeded, "signed attestations", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, log := testEnv(t, tc.inputs)
			env.Task = "ContainerScan@1"
			cfg := config.Default()
			cfg.SupplyChain.Allow = tc.allow
			env.Services = &Services{Config: cfg, DataDir: t.TempDir(), Secrets: vaults{v}}
			var secrets []string
			env.SetVariable = func(name, value string, o VarOptions) error {
				if o.Secret {
					secrets = append(secrets, value)
				}
				return nil
			}
			res, err := runContainerScan(ctx, env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want || !strings.Contains(log.String(), tc.log) {
				t.Errorf("status = %s (%s), want %s; log:\n%s", res.Status, res.Message, tc.want, log.String())
			}
			sarif, err := os.ReadFile(filepath.Join(env.Dirs.Artifacts, "CodeAnalysisLogs", "container-scan.sarif"))
			if err != nil || !strings.Contains(string(sarif), "DEBIAN-CVE-2099-0001") {
				t.Errorf("SARIF artifact: %v\n%s", err, sarif)
			}
			if tc.masking && len(secrets) != 2 {
				t.Errorf("registered %d secrets for masking, want the key and its password", len(secrets))
			}
			if tc.signed {
				pub, _ := supplychain.ParsePublicKey(pubPEM)
				if _, err := supplychain.VerifyScan(ctx, image, pub, supplychain.Options{Insecure: true}); err != nil {
					t.Errorf("VerifyScan after a passing signed scan: %v", err)
				}
			}
		})
	}
	t.Run("missing image", func(t *testing.T) {
		env, _ := testEnv(t, nil)
		res, _ := runContainerScan(ctx, env)
		if res.Status != Failed || !strings.Contains(res.Message, "input image is required") {
			t.Errorf("result = %+v", res)
		}
	})
}

func TestSecretScan(t *testing.T) {
	env, log := testEnv(t, nil)
	token := "ghp_" + strings.Repeat("a1B2c3D4e5", 3) + "F6g7h8"
	if err := os.WriteFile(filepath.Join(env.Dirs.Sources, "config.env"), []byte("TOKEN="+token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := runSecretScan(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Failed || !strings.Contains(log.String(), "config.env:1: github-pat") {
		t.Errorf("result = %+v; log:\n%s", res, log.String())
	}
	sarif, err := os.ReadFile(filepath.Join(env.Dirs.Artifacts, "CodeAnalysisLogs", "secret-scan.sarif"))
	if err != nil || strings.Contains(string(sarif), token) || strings.Contains(log.String(), token) {
		t.Errorf("SARIF artifact: %v; the secret must appear neither there nor in the log", err)
	}
}

func TestPublishSarif(t *testing.T) {
	const doc = `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"golangci-lint","rules":[{"id":"errcheck","defaultConfiguration":{"level":"error"}}]}},
"results":[{"ruleId":"errcheck","ruleIndex":0,"message":{"text":"unchecked error"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"main.go"},"region":{"startLine":12}}}]},
{"ruleId":"unused","level":"warning","message":{"text":"x is unused"}},
{"ruleId":"style","level":"note","message":{"text":"style"}}]}]}`
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		file   string
		want   Status
		log    string
	}{
		{"fails on error (rule default)", nil, doc, Failed, "golangci-lint: 1 error, 1 warning, 1 note"},
		{"fails on warning", map[string]string{"failOnLevel": "warning"}, doc, Failed, "main.go:12"},
		{"none never fails", map[string]string{"failOnLevel": "none"}, doc, Succeeded, "unchecked error"},
		{"bad level", map[string]string{"failOnLevel": "fatal"}, doc, Failed, ""},
		{"not SARIF 2.1.0", nil, `{"version":"1.0.0","runs":[]}`, Failed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, log := testEnv(t, tc.inputs)
			if err := os.MkdirAll(filepath.Join(env.Dirs.Sources, "lint"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(env.Dirs.Sources, "lint", "lint.sarif"), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := runPublishSarif(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want || !strings.Contains(log.String(), tc.log) {
				t.Errorf("result = %+v, want %s; log:\n%s", res, tc.want, log.String())
			}
		})
	}
	t.Run("no files", func(t *testing.T) {
		env, _ := testEnv(t, nil)
		res, _ := runPublishSarif(t.Context(), env)
		if res.Status != Failed || !strings.Contains(res.Message, "no file matches") {
			t.Errorf("result = %+v", res)
		}
	})
}
