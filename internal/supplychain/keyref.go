package supplychain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"os"
	"strings"
)

// SecretFunc reads the secret name of the vault named vault (a key of
// conveyor.yaml's vaults); it returns an error wrapping fs.ErrNotExist or
// the vault's not-found error when absent.
type SecretFunc func(ctx context.Context, vault, name string) ([]byte, error)

// ParseKeyRef splits "vault://<vault>/<secret>" into its parts; ok is false
// for anything else (a file path).
func ParseKeyRef(ref string) (vault, secret string, ok bool) {
	rest, found := strings.CutPrefix(ref, "vault://")
	if !found {
		return "", "", false
	}
	vault, secret, _ = strings.Cut(rest, "/")
	return vault, secret, true
}

// ReadKey reads key material from ref: vault://<vault>/<secret> through
// read, or a file.
func ReadKey(ctx context.Context, ref string, read SecretFunc) ([]byte, error) {
	if v, s, ok := ParseKeyRef(ref); ok {
		if v == "" || s == "" {
			return nil, fmt.Errorf("key %s: use vault://<vault>/<secret>", ref)
		}
		if read == nil {
			return nil, fmt.Errorf("key %s: no vaults configured: add the vault to conveyor.yaml or give a key file", ref)
		}
		b, err := read(ctx, v, s)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", ref, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return b, nil
}

// LoadSigner reads and decrypts a cosign private key from ref with
// password. When password is nil and ref is a vault reference, the password
// is the secret "<secret>-password" of the same vault (or empty when absent).
// It also returns the secret values it read, for the caller to mask.
func LoadSigner(ctx context.Context, ref string, password []byte, read SecretFunc) (crypto.Signer, [][]byte, error) {
	pemBytes, err := ReadKey(ctx, ref, read)
	if err != nil {
		return nil, nil, err
	}
	secrets := [][]byte{pemBytes}
	if v, s, ok := ParseKeyRef(ref); ok && password == nil {
		if pw, err := read(ctx, v, s+"-password"); err == nil {
			password = pw
			secrets = append(secrets, pw)
		}
	}
	signer, err := DecryptPrivateKey(pemBytes, password)
	if err != nil {
		return nil, secrets, fmt.Errorf("key %s: %w", ref, err)
	}
	return signer, secrets, nil
}

// LoadPublicKey reads a PKIX public key PEM from ref (file or vault).
func LoadPublicKey(ctx context.Context, ref string, read SecretFunc) (*ecdsa.PublicKey, error) {
	b, err := ReadKey(ctx, ref, read)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	return pub, nil
}

// PublicOf returns the ECDSA public key of a signer loaded with LoadSigner,
// for verifying with the same key pair (supplyChain.signingKey) when no
// separate public key is configured.
func PublicOf(s crypto.Signer) (*ecdsa.PublicKey, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: %T: only ECDSA keys are supported", s.Public())
	}
	return pub, nil
}
