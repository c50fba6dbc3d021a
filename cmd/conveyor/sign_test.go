package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/supplychain"
)

// pushRandom serves an embedded registry and pushes a random image to it.
func pushRandom(t *testing.T, repoTag string) string {
	t.Helper()
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

func TestSignVerifyCommands(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, _ := supplychain.GenerateKeyPair([]byte("pw"))
	for f, b := range map[string][]byte{"cosign.key": priv, "cosign.pub": pub, "other.pub": otherPub} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	image := pushRandom(t, "app:v1")
	unsigned := pushRandom(t, "app:v2")

	t.Setenv("COSIGN_PASSWORD", "wrong")
	if out, code := execute(t, "sign", image, "--key", filepath.Join(dir, "cosign.key")); code != exitBadUser || !strings.Contains(out, "wrong password") {
		t.Errorf("sign with a wrong password: exit %d, %s", code, out)
	}
	t.Setenv("COSIGN_PASSWORD", "pw")
	if out, code := execute(t, "sign", image, "--key", filepath.Join(dir, "cosign.key"), "-a", "run=7"); code != exitOK || !strings.Contains(out, "signed ") {
		t.Fatalf("sign: exit %d, %s", code, out)
	}
	if out, code := execute(t, "verify", image, "--key", filepath.Join(dir, "cosign.pub"), "-o", "json"); code != exitOK || !strings.Contains(out, `"run": "7"`) {
		t.Errorf("verify: exit %d, %s", code, out)
	}
	if out, code := execute(t, "verify", image, "--key", filepath.Join(dir, "other.pub")); code != exitFailed || !strings.Contains(out, "none verifies") {
		t.Errorf("verify with another key: exit %d, %s", code, out)
	}
	if out, code := execute(t, "verify", unsigned, "--key", filepath.Join(dir, "cosign.pub")); code != exitFailed || !strings.Contains(out, "not signed") {
		t.Errorf("verify unsigned: exit %d, %s", code, out)
	}
	if out, code := execute(t, "verify", image, "--key", filepath.Join(dir, "cosign.pub"), "--require-scan"); code != exitFailed || !strings.Contains(out, "no vulnerability scan attestation") {
		t.Errorf("verify --require-scan without a scan: exit %d, %s", code, out)
	}
	if out, code := execute(t, "sign", image); code != exitBadUser || !strings.Contains(out, "--key is required") {
		t.Errorf("sign without --key: exit %d, %s", code, out)
	}

	t.Run("key from the vault", func(t *testing.T) {
		os.Unsetenv("COSIGN_PASSWORD")
		data := t.TempDir()
		t.Setenv(vault.KeyEnv, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)))
		v, err := openVault(data)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		v.Set(ctx, "signing", priv)
		v.Set(ctx, "signing-password", []byte("pw"))
		img := pushRandom(t, "app:v3")
		if out, code := execute(t, "sign", img, "--key", "vault://embedded/signing", "--data", data); code != exitOK {
			t.Fatalf("sign with a vault key: exit %d, %s", code, out)
		}
		if out, code := execute(t, "verify", img, "--key", filepath.Join(dir, "cosign.pub")); code != exitOK {
			t.Errorf("verify: exit %d, %s", code, out)
		}
	})
}

func TestVulnDBUpdate(t *testing.T) {
	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	w, _ := zw.Create("GO-2099-0001.json")
	w.Write([]byte(`{"id":"GO-2099-0001","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/Go/all.zip" {
			w.Write(zipBuf.Bytes())
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()

	if out, code := execute(t, "vulndb", "update", "--dir", dir, "--url", srv.URL, "--ecosystem", "Go"); code != exitOK || !strings.Contains(out, "Go: 1 advisories") {
		t.Fatalf("update: exit %d, %s", code, out)
	}
	if _, err := supplychain.LoadDB(dir); err != nil {
		t.Errorf("LoadDB after update: %v", err)
	}
	out, code := execute(t, "vulndb", "update", "--dir", dir, "--url", srv.URL, "--ecosystem", "Debian")
	if code != exitFailed || !strings.Contains(out, "404") || !strings.Contains(out, "copy an OSV export") {
		t.Errorf("update of a missing export: exit %d, %s", code, out)
	}
	// An unreachable host (as osv.dev is from a closed network) fails clearly.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	closed := srv2.URL
	srv2.Close()
	out, code = execute(t, "vulndb", "update", "--dir", dir, "--url", closed, "--ecosystem", "Go")
	if code != exitFailed || !strings.Contains(out, "cannot reach osv.dev") {
		t.Errorf("update from an unreachable host: exit %d, %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "Go.zip")); err != nil {
		t.Errorf("a failed update removed the previous database: %v", err)
	}
}

func TestGenerateKeyPair(t *testing.T) {
	os.Unsetenv("COSIGN_PASSWORD")
	t.Setenv(vault.KeyEnv, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)))
	data, dir := t.TempDir(), t.TempDir()
	pub := filepath.Join(dir, "vault.pub")

	// Into the vault: the key signs, and the public half verifies.
	if out, code := execute(t, "sign", "generate-key-pair", "--key", "vault://default/cosign-key", "--data", data, "--pub", pub); code != exitOK {
		t.Fatalf("generate-key-pair into the vault: exit %d, %s", code, out)
	}
	img := pushRandom(t, "keygen:v1")
	if out, code := execute(t, "sign", img, "--key", "vault://default/cosign-key", "--data", data); code != exitOK {
		t.Fatalf("sign with the generated vault key: exit %d, %s", code, out)
	}
	if out, code := execute(t, "verify", img, "--key", pub); code != exitOK {
		t.Errorf("verify with the generated public key: exit %d, %s", code, out)
	}
	v, err := openVault(data)
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := v.Get(context.Background(), "cosign-key-password"); err != nil || len(pw) < 32 {
		t.Errorf("the key's password secret: %d bytes, %v; want a random password", len(pw), err)
	}
	// Never overwritten.
	if out, code := execute(t, "sign", "generate-key-pair", "--key", "vault://default/cosign-key", "--data", data); code != exitBadUser || !strings.Contains(out, "already exists") {
		t.Errorf("generate-key-pair over an existing key: exit %d, %s", code, out)
	}

	// Into files, encrypted with COSIGN_PASSWORD.
	t.Setenv("COSIGN_PASSWORD", "pw")
	prefix := filepath.Join(dir, "cosign")
	if out, code := execute(t, "sign", "generate-key-pair", "--key", prefix); code != exitOK {
		t.Fatalf("generate-key-pair into files: exit %d, %s", code, out)
	}
	if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, %v; want mode 0600", st, err)
	}
	if _, err := supplychain.DecryptPrivateKey(mustRead(t, prefix+".key"), []byte("pw")); err != nil {
		t.Errorf("the private key does not open with COSIGN_PASSWORD: %v", err)
	}
	if _, err := supplychain.ParsePublicKey(mustRead(t, prefix+".pub")); err != nil {
		t.Errorf("public key: %v", err)
	}
	if out, code := execute(t, "sign", "generate-key-pair", "--key", prefix); code != exitBadUser || !strings.Contains(out, "already exists") {
		t.Errorf("generate-key-pair over existing files: exit %d, %s", code, out)
	}
	if out, code := execute(t, "sign", "generate-key-pair"); code != exitBadUser || !strings.Contains(out, "--key is required") {
		t.Errorf("generate-key-pair without --key: exit %d, %s", code, out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
