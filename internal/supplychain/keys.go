package supplychain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of cosign's key files.
const (
	// PrivateKeyPEMType is cosign v2's encrypted private key.
	PrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// LegacyPrivateKeyPEMType is cosign v1's encrypted private key, still read.
	LegacyPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
	// PublicKeyPEMType is a PKIX public key.
	PublicKeyPEMType = "PUBLIC KEY"
)

// ErrWrongPassword is returned when a private key does not decrypt with the
// password given.
var ErrWrongPassword = errors.New("wrong password for the private key (set COSIGN_PASSWORD)")

// scrypt parameters cosign writes (go-securesystemslib's "legacy" set, which
// every cosign version reads).
const (
	scryptN = 32768
	scryptR = 8
	scryptP = 1
)

// encryptedKey is go-securesystemslib's encrypted envelope, the payload of
// cosign's encrypted key PEM. []byte fields are base64 in JSON.
type encryptedKey struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// GenerateKeyPair makes an ECDSA P-256 key pair and returns it in cosign's
// formats: the private key encrypted with password, the public key as PKIX
// PEM.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	privPEM, err = EncryptPrivateKey(priv, password)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = MarshalPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return privPEM, pubPEM, nil
}

// EncryptPrivateKey encodes key as cosign's encrypted private key PEM.
func EncryptPrivateKey(key crypto.Signer, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	var e encryptedKey
	e.KDF.Name = "scrypt"
	e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P = scryptN, scryptR, scryptP
	e.KDF.Salt = make([]byte, 32)
	e.Cipher.Name = "nacl/secretbox"
	e.Cipher.Nonce = make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, e.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand.Reader, e.Cipher.Nonce); err != nil {
		return nil, err
	}
	k, err := scrypt.Key(password, e.KDF.Salt, scryptN, scryptR, scryptP, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	var boxKey [32]byte
	var nonce [24]byte
	copy(boxKey[:], k)
	copy(nonce[:], e.Cipher.Nonce)
	e.Ciphertext = secretbox.Seal(nil, der, &nonce, &boxKey)
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: body}), nil
}

// DecryptPrivateKey reads cosign's encrypted private key PEM (v1 or v2 block
// type) with password. It returns ErrWrongPassword when the password does
// not open it.
func DecryptPrivateKey(data, password []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("private key: no PEM block: expected a cosign key (cosign generate-key-pair)")
	}
	switch block.Type {
	case PrivateKeyPEMType, LegacyPrivateKeyPEMType:
	case "PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("private key: %s is not encrypted: import it with `cosign import-key-pair` first", block.Type)
	default:
		return nil, fmt.Errorf("private key: PEM block %q: expected %q", block.Type, PrivateKeyPEMType)
	}
	var e encryptedKey
	if err := json.Unmarshal(block.Bytes, &e); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if e.KDF.Name != "scrypt" || e.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("private key: kdf %q, cipher %q: expected scrypt and nacl/secretbox", e.KDF.Name, e.Cipher.Name)
	}
	p := e.KDF.Params
	if p.N <= 1 || p.N > 1<<20 || p.R <= 0 || p.R > 32 || p.P <= 0 || p.P > 16 || len(e.Cipher.Nonce) != 24 {
		return nil, errors.New("private key: unsupported scrypt or secretbox parameters")
	}
	k, err := scrypt.Key(password, e.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, fmt.Errorf("private key: derive key: %w", err)
	}
	var boxKey [32]byte
	var nonce [24]byte
	copy(boxKey[:], k)
	copy(nonce[:], e.Cipher.Nonce)
	der, ok := secretbox.Open(nil, e.Ciphertext, &nonce, &boxKey)
	if !ok {
		return nil, ErrWrongPassword
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	signer, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T: only ECDSA keys are supported", key)
	}
	return signer, nil
}

// MarshalPublicKey encodes pub as PKIX PEM.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// ParsePublicKey reads a PKIX PEM ECDSA public key (cosign.pub).
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != PublicKeyPEMType {
		return nil, errors.New("public key: expected a PEM \"PUBLIC KEY\" block (cosign.pub)")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: %T: only ECDSA keys are supported", key)
	}
	return pub, nil
}

// signDigest signs the SHA-256 of msg with key (ASN.1 DER signature, as
// cosign does).
func signDigest(key crypto.Signer, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return key.Sign(rand.Reader, h[:], crypto.SHA256)
}

// verifyDigest checks an ASN.1 ECDSA signature over the SHA-256 of msg.
func verifyDigest(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(pub, h[:], sig)
}
