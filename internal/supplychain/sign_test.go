package supplychain

import (
	"crypto/ecdsa"
	"errors"
	"strings"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	_, priv, pub := testKey(t, "s3cret")
	if !strings.Contains(string(priv), PrivateKeyPEMType) {
		t.Fatalf("private key PEM type: %s", priv)
	}
	if _, err := DecryptPrivateKey(priv, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: err = %v, want ErrWrongPassword", err)
	}
	if _, err := ParsePublicKey(pub); err != nil {
		t.Errorf("ParsePublicKey: %v", err)
	}
	if _, err := ParsePublicKey(priv); err == nil {
		t.Error("ParsePublicKey(private key): no error")
	}
}

func TestSignVerify(t *testing.T) {
	ctx := t.Context()
	reg := startRegistry(t)
	signer, _, pubPEM := testKey(t, "pw")
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, _, otherPEM := testKey(t, "pw")
	other, _ := ParsePublicKey(otherPEM)

	img := reg.pushImage(t, "app:v1", nil)
	unsigned := reg.pushImage(t, "app:v2", nil)

	sig, err := Sign(ctx, reg.host+"/app:v1", signer, SignOptions{Options: testOpts, Annotations: map[string]string{"run": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	if sig.Image != img || !strings.HasPrefix(sig.Tag, "sha256-") || !strings.HasSuffix(sig.Tag, ".sig") {
		t.Errorf("Sign = %+v, image want %s", sig, img)
	}
	v, err := Verify(ctx, img, pub, testOpts)
	if err != nil {
		t.Fatalf("Verify signed image: %v", err)
	}
	if v.Optional["run"] != "42" {
		t.Errorf("payload annotations = %v", v.Optional)
	}

	// A second signature is appended, the first still verifies.
	signer2, _, _ := testKey(t, "pw")
	if _, err := Sign(ctx, img, signer2, SignOptions{Options: testOpts}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, img, pub, testOpts); err != nil {
		t.Errorf("Verify after a second signature: %v", err)
	}

	for _, tc := range []struct {
		name, ref, want string
		key             *ecdsa.PublicKey
	}{
		{"unsigned", unsigned, "the image is not signed", pub},
		{"other key", img, "none verifies with the given public key", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(ctx, tc.ref, tc.key, testOpts)
			if !errors.Is(err, ErrNoValidSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v, want ErrNoValidSignature containing %q", err, tc.want)
			}
		})
	}
}

func TestAttachAttestations(t *testing.T) {
	ctx := t.Context()
	reg := startRegistry(t)
	signer, _, pubPEM := testKey(t, "pw")
	pub, _ := ParsePublicKey(pubPEM)
	_, _, otherPEM := testKey(t, "pw")
	other, _ := ParsePublicKey(otherPEM)
	img := reg.pushImage(t, "app:v1", nil)

	if _, err := Attach(ctx, img, PredicateVuln, map[string]any{"ok": true}, signer, testOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := Attach(ctx, img, PredicateProvenance, map[string]any{"x": 1}, nil, testOpts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pt    string
		key   bool
		keyOK bool
		want  int
	}{
		{"signed, right key", PredicateVuln, true, true, 1},
		{"signed, wrong key", PredicateVuln, true, false, 0},
		{"signed, no key", PredicateVuln, false, false, 1},
		{"unsigned, no key", PredicateProvenance, false, false, 1},
		{"unsigned, key", PredicateProvenance, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := other
			if tc.keyOK {
				k = pub
			}
			if !tc.key {
				k = nil
			}
			got, err := Attestations(ctx, img, tc.pt, k, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("got %d attestations, want %d", len(got), tc.want)
			}
		})
	}
}
