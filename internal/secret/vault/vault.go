package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeyEnv is the environment variable holding the base64 key-encryption key.
const KeyEnv = "CONVEYOR_VAULT_KEY"

// FileName and KeyFileName are the vault's files inside the data folder.
const (
	FileName    = "vault.json"
	KeyFileName = "vault.key"
)

const keySize = 32 // AES-256

var (
	// ErrNotFound reports a secret name or version absent from the vault.
	ErrNotFound = errors.New("not found")
	// ErrAuthentication reports a ciphertext that does not open with the key.
	ErrAuthentication = errors.New("authentication failed: wrong key or tampered data")
	// ErrInvalidName reports a secret name outside the allowed alphabet.
	ErrInvalidName = errors.New("invalid secret name")
	// ErrBadKey reports a malformed or insecurely stored key-encryption key.
	ErrBadKey = errors.New("bad vault key")
)

// Info describes one secret without its value.
type Info struct {
	Name     string    `json:"name"`
	Versions int       `json:"versions"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Provider is a source of secret values by name.
type Provider interface {
	// Get returns the current value of the named secret; ErrNotFound if absent.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the secrets' names and metadata sorted by name, never values.
	List(ctx context.Context) ([]Info, error)
}

var _ Provider = (*Embedded)(nil)

// Embedded is the file-backed encrypted vault; safe for concurrent use in one process.
type Embedded struct {
	path string
	kek  cipher.AEAD
	now  func() time.Time
	mu   sync.Mutex
}

// Option configures an Embedded vault.
type Option func(*Embedded)

// WithClock sets the clock stamping versions (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *Embedded) { e.now = now } }

// Open returns the vault stored in dir/vault.json sealed with the 32-byte key.
// The file is created on the first Set.
func Open(dir string, key []byte, opts ...Option) (*Embedded, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d: %w", len(key), keySize, ErrBadKey)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	e := &Embedded{path: filepath.Join(dir, FileName), kek: aead, now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Path returns the vault file's path.
func (e *Embedded) Path() string { return e.path }

// ResolveKey returns the key-encryption key: envValue (base64 of 32 bytes,
// typically $CONVEYOR_VAULT_KEY) when not empty, otherwise dir/vault.key,
// created with 32 random bytes and mode 0600 when absent. A key file
// readable or writable by group or others is refused.
func ResolveKey(envValue, dir string) ([]byte, error) {
	if envValue != "" {
		key, err := base64.StdEncoding.DecodeString(envValue)
		if err != nil {
			return nil, fmt.Errorf("%s: not base64 (generate one with: head -c 32 /dev/urandom | base64): %w", KeyEnv, ErrBadKey)
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("%s: decodes to %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64): %w", KeyEnv, len(key), keySize, ErrBadKey)
		}
		return key, nil
	}
	path := filepath.Join(dir, KeyFileName)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(dir, path)
	}
	return key, err
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("vault key %s: mode %04o lets group or others read it; run chmod 600 %s: %w", path, perm, path, ErrBadKey)
	}
	buf := make([]byte, keySize+1)
	n, _ := f.Read(buf)
	if n != keySize {
		return nil, fmt.Errorf("vault key %s: holds %d bytes, want exactly %d: %w", path, n, keySize, ErrBadKey)
	}
	return buf[:keySize], nil
}

func createKeyFile(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	key := make([]byte, keySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // created meanwhile by another process
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("vault key %s: %w", path, err)
	}
	return key, nil
}

// ValidateName reports whether name is a valid secret name: 1 to 256 of
// letters, digits, '-', '_', '.', '/'.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("secret name is empty: %w", ErrInvalidName)
	}
	if len(name) > 256 {
		return fmt.Errorf("secret name %q is longer than 256 characters: %w", name[:32]+"...", ErrInvalidName)
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/':
		default:
			return fmt.Errorf("secret name %q: character %q at %d not allowed (use letters, digits, '-', '_', '.', '/'): %w", name, r, i, ErrInvalidName)
		}
	}
	return nil
}

// file is the on-disk layout of vault.json.
type file struct {
	Format  int                `json:"format"`
	Secrets map[string]*secret `json:"secrets"`
}

type secret struct {
	Versions []version `json:"versions"`
}

type version struct {
	Version    int       `json:"version"`
	Created    time.Time `json:"created"`
	WrappedKey []byte    `json:"wrappedKey"` // data key sealed by the KEK, nonce first
	Ciphertext []byte    `json:"ciphertext"` // value sealed by the data key, nonce first
}

const format = 1

// Set stores value as a new version of name and returns the version number.
func (e *Embedded) Set(ctx context.Context, name string, value []byte) (int, error) {
	if err := ValidateName(name); err != nil {
		return 0, fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := e.load()
	if err != nil {
		return 0, err
	}
	s := f.Secrets[name]
	if s == nil {
		s = &secret{}
		f.Secrets[name] = s
	}
	v := 1
	if n := len(s.Versions); n > 0 {
		v = s.Versions[n-1].Version + 1
	}
	dataKey := make([]byte, keySize)
	rand.Read(dataKey)
	dek, err := newGCM(dataKey)
	if err != nil {
		return 0, fmt.Errorf("vault %s: %w", e.path, err)
	}
	s.Versions = append(s.Versions, version{
		Version:    v,
		Created:    e.now().UTC(),
		WrappedKey: seal(e.kek, dataKey, ad("key", name, v)),
		Ciphertext: seal(dek, value, ad("value", name, v)),
	})
	if err := e.save(f); err != nil {
		return 0, err
	}
	return v, nil
}

// Get returns the latest version of name.
func (e *Embedded) Get(ctx context.Context, name string) ([]byte, error) {
	return e.GetVersion(ctx, name, 0)
}

// GetVersion returns version v of name (v <= 0: the latest).
func (e *Embedded) GetVersion(ctx context.Context, name string, v int) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	f, err := e.load()
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := f.Secrets[name]
	if s == nil || len(s.Versions) == 0 {
		return nil, fmt.Errorf("vault %s: secret %q: %w", e.path, name, ErrNotFound)
	}
	var ver *version
	if v <= 0 {
		ver = &s.Versions[len(s.Versions)-1]
	} else {
		i := slices.IndexFunc(s.Versions, func(x version) bool { return x.Version == v })
		if i < 0 {
			return nil, fmt.Errorf("vault %s: secret %q version %d (it has %d): %w", e.path, name, v, len(s.Versions), ErrNotFound)
		}
		ver = &s.Versions[i]
	}
	value, err := e.open(name, ver)
	if err != nil {
		return nil, fmt.Errorf("vault %s: secret %q version %d: %w", e.path, name, ver.Version, err)
	}
	return value, nil
}

func (e *Embedded) open(name string, ver *version) ([]byte, error) {
	dataKey, err := unseal(e.kek, ver.WrappedKey, ad("key", name, ver.Version))
	if err != nil {
		return nil, err
	}
	dek, err := newGCM(dataKey)
	if err != nil {
		return nil, ErrAuthentication
	}
	return unseal(dek, ver.Ciphertext, ad("value", name, ver.Version))
}

// List returns every secret's name, version count and timestamps, sorted by name.
func (e *Embedded) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	f, err := e.load()
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(f.Secrets))
	for name, s := range f.Secrets {
		if len(s.Versions) == 0 {
			continue
		}
		out = append(out, Info{
			Name:     name,
			Versions: len(s.Versions),
			Created:  s.Versions[0].Created,
			Updated:  s.Versions[len(s.Versions)-1].Created,
		})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes name and all its versions; ErrNotFound if absent.
func (e *Embedded) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := e.load()
	if err != nil {
		return err
	}
	if _, ok := f.Secrets[name]; !ok {
		return fmt.Errorf("vault %s: secret %q: %w", e.path, name, ErrNotFound)
	}
	delete(f.Secrets, name)
	return e.save(f)
}

func (e *Embedded) load() (*file, error) {
	b, err := os.ReadFile(e.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Format: format, Secrets: map[string]*secret{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", e.path, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("vault %s: corrupt file (not the vault's JSON): %w", e.path, err)
	}
	if f.Format != format {
		return nil, fmt.Errorf("vault %s: format %d, this conveyor reads format %d", e.path, f.Format, format)
	}
	if f.Secrets == nil {
		f.Secrets = map[string]*secret{}
	}
	return &f, nil
}

func (e *Embedded) save(f *file) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	dir := filepath.Dir(e.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	tmp, err := os.CreateTemp(dir, FileName+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	if err := os.Rename(tmp.Name(), e.path); err != nil {
		return fmt.Errorf("vault %s: %w", e.path, err)
	}
	if d, err := os.Open(dir); err == nil { // persist the rename; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// ad is the GCM additional data binding a seal to its purpose, name and version.
func ad(purpose, name string, v int) []byte {
	return []byte("conveyor-vault/1\x00" + purpose + "\x00" + name + "\x00" + strconv.Itoa(v))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext with a random nonce, returned as its prefix.
func seal(aead cipher.AEAD, plaintext, additional []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, additional)
}

func unseal(aead cipher.AEAD, sealed, additional []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrAuthentication
	}
	n := aead.NonceSize()
	out, err := aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, ErrAuthentication
	}
	return out, nil
}
