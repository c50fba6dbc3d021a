package supplychain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cosignCLI builds (once, cached under ~/.cache/conveyor/cosign) the cosign
// CLI pinned by tools/cosign and returns its path.
func cosignCLI(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "tools", "cosign", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build the cosign CLI (tools/cosign/build.sh): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// cosign runs the cosign CLI with COSIGN_PASSWORD and a private HOME (its
// TUF cache and docker config stay in the test's folder).
func cosign(t *testing.T, bin, dir, password string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+password, "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, ".sigstore"), "COSIGN_YES=true")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCosignInterop signs with Conveyor and verifies with the cosign CLI,
// and the other way round, on an embedded registry served on loopback, with
// key pairs made by each side.
func TestCosignInterop(t *testing.T) {
	bin := cosignCLI(t)
	ctx := t.Context()
	reg := startRegistry(t)
	dir := t.TempDir()
	insecure := []string{"--allow-insecure-registry", "--allow-http-registry"}

	// Keys made by Conveyor.
	convPriv, convPub, err := GenerateKeyPair([]byte("conveyor-pw"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "conveyor.key"), convPriv, 0o600)
	os.WriteFile(filepath.Join(dir, "conveyor.pub"), convPub, 0o644)
	// Keys made by cosign.
	if out, err := cosign(t, bin, dir, "cosign-pw", "generate-key-pair"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	cosPriv, _ := os.ReadFile(filepath.Join(dir, "cosign.key"))
	cosPubPEM, _ := os.ReadFile(filepath.Join(dir, "cosign.pub"))

	t.Run("signed by Conveyor, verified by cosign", func(t *testing.T) {
		img := reg.pushImage(t, "interop:conveyor", nil)
		signer, err := DecryptPrivateKey(convPriv, []byte("conveyor-pw"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(ctx, img, signer, SignOptions{Options: testOpts, Annotations: map[string]string{"run": "42"}}); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"verify", "--key", "conveyor.pub", "--insecure-ignore-tlog", "-a", "run=42"}, insecure...)
		out, err := cosign(t, bin, dir, "", append(args, img)...)
		if err != nil {
			t.Fatalf("cosign verify: %v\n%s", err, out)
		}
		if !strings.Contains(out, "The signatures were verified against the specified public key") || !strings.Contains(out, `"run":"42"`) {
			t.Errorf("cosign verify output:\n%s", out)
		}
		// And cosign rejects it with cosign's own, unrelated key.
		args = append([]string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog"}, insecure...)
		if out, err := cosign(t, bin, dir, "", append(args, img)...); err == nil {
			t.Errorf("cosign verify with another key succeeded:\n%s", out)
		}
	})
	t.Run("attestation by Conveyor, verified by cosign verify-attestation", func(t *testing.T) {
		img := reg.pushImage(t, "interop:attest", nil)
		signer, err := DecryptPrivateKey(convPriv, []byte("conveyor-pw"))
		if err != nil {
			t.Fatal(err)
		}
		res := &ScanResult{Passed: true, Threshold: "high", Counts: map[string]int{}, Findings: []Finding{}}
		if _, err := AttachScan(ctx, img, res, signer, "test", testOpts); err != nil {
			t.Fatal(err)
		}
		if _, err := AttachProvenance(ctx, img, ProvenanceInfo{Repository: "https://git.example/app.git", Commit: "abc"}, signer, testOpts); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"vuln", PredicateProvenance} {
			args := append([]string{"verify-attestation", "--key", "conveyor.pub", "--insecure-ignore-tlog", "--type", typ}, insecure...)
			if out, err := cosign(t, bin, dir, "", append(args, img)...); err != nil {
				t.Errorf("cosign verify-attestation --type %s: %v\n%s", typ, err, out)
			}
		}
	})
	t.Run("signed by cosign, verified by Conveyor", func(t *testing.T) {
		img := reg.pushImage(t, "interop:cosign", nil)
		args := append([]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "-a", "by=cosign"}, insecure...)
		if out, err := cosign(t, bin, dir, "cosign-pw", append(args, img)...); err != nil {
			t.Fatalf("cosign sign: %v\n%s", err, out)
		}
		pub, err := ParsePublicKey(cosPubPEM)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Verify(ctx, img, pub, testOpts)
		if err != nil {
			t.Fatalf("Verify a cosign signature: %v", err)
		}
		if v.Optional["by"] != "cosign" {
			t.Errorf("payload annotations = %v", v.Optional)
		}
		convPubKey, _ := ParsePublicKey(convPub)
		if _, err := Verify(ctx, img, convPubKey, testOpts); err == nil {
			t.Error("Verify with an unrelated key succeeded")
		}
	})
	t.Run("signed by cosign as a sigstore bundle, verified by Conveyor", func(t *testing.T) {
		img := reg.pushImage(t, "interop:bundle", nil)
		args := append([]string{"sign", "--new-bundle-format", "--key", "cosign.key", "--tlog-upload=false"}, insecure...)
		if out, err := cosign(t, bin, dir, "cosign-pw", append(args, img)...); err != nil {
			t.Fatalf("cosign sign --new-bundle-format: %v\n%s", err, out)
		}
		pub, _ := ParsePublicKey(cosPubPEM)
		if _, err := Verify(ctx, img, pub, testOpts); err != nil {
			t.Errorf("Verify a sigstore bundle: %v", err)
		}
		other, _ := ParsePublicKey(convPub)
		if _, err := Verify(ctx, img, other, testOpts); err == nil || !strings.Contains(err.Error(), "does not match the key") {
			t.Errorf("Verify with another key = %v", err)
		}
	})
	t.Run("cosign's key decrypts in Conveyor, Conveyor's key signs in cosign", func(t *testing.T) {
		if _, err := DecryptPrivateKey(cosPriv, []byte("cosign-pw")); err != nil {
			t.Errorf("DecryptPrivateKey(cosign.key): %v", err)
		}
		img := reg.pushImage(t, "interop:keys", nil)
		args := append([]string{"sign", "--key", "conveyor.key", "--tlog-upload=false"}, insecure...)
		if out, err := cosign(t, bin, dir, "conveyor-pw", append(args, img)...); err != nil {
			t.Fatalf("cosign sign with Conveyor's key: %v\n%s", err, out)
		}
		pub, _ := ParsePublicKey(convPub)
		if _, err := Verify(ctx, img, pub, testOpts); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
}
