package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, keySize) }

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Minute); return t }
}

func openT(t *testing.T, dir string, key []byte) *Embedded {
	t.Helper()
	e, err := Open(dir, key, WithClock(fixedClock()))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustSet(t *testing.T, e *Embedded, name, value string) int {
	t.Helper()
	v, err := e.Set(t.Context(), name, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRoundTripAndVersions(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, testKey(1))
	if v := mustSet(t, e, "db/password", "hunter2"); v != 1 {
		t.Errorf("first Set version %d, want 1", v)
	}
	if v := mustSet(t, e, "db/password", "correct horse"); v != 2 {
		t.Errorf("second Set version %d, want 2", v)
	}
	mustSet(t, e, "api.token_A-1", "tok")

	// A fresh instance on the same file reads what the first wrote.
	e2 := openT(t, dir, testKey(1))
	tests := []struct {
		name    string
		version int
		want    string
	}{
		{"db/password", 0, "correct horse"},
		{"db/password", 1, "hunter2"},
		{"db/password", 2, "correct horse"},
		{"api.token_A-1", 0, "tok"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"@"+string(rune('0'+tc.version)), func(t *testing.T) {
			got, err := e2.GetVersion(t.Context(), tc.name, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	got, err := e2.Get(t.Context(), "db/password")
	if err != nil || string(got) != "correct horse" {
		t.Errorf("Get = %q, %v; want latest", got, err)
	}

	list, err := e2.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	want := []Info{
		{Name: "api.token_A-1", Versions: 1, Created: base.Add(3 * time.Minute), Updated: base.Add(3 * time.Minute)},
		{Name: "db/password", Versions: 2, Created: base.Add(time.Minute), Updated: base.Add(2 * time.Minute)},
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List (-want +got)\n%s", diff)
	}

	if _, err := e2.GetVersion(t.Context(), "db/password", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing version: err %v, want ErrNotFound", err)
	}
	if err := e2.Delete(t.Context(), "db/password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Get(t.Context(), "db/password"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: err %v, want ErrNotFound", err)
	}
	if err := e2.Delete(t.Context(), "db/password"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: err %v, want ErrNotFound", err)
	}
	st, err := os.Stat(e2.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("vault file mode %04o, want 0600", perm)
	}
}

func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, openT(t, dir, testKey(1)), "x", "s3cret-value")
	_, err := openT(t, dir, testKey(2)).Get(t.Context(), "x")
	if !errors.Is(err, ErrAuthentication) {
		t.Fatalf("err %v, want ErrAuthentication", err)
	}
	want := `vault ` + filepath.Join(dir, FileName) + `: secret "x" version 1: authentication failed: wrong key or tampered data`
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

// rewrite decodes the vault file, lets edit change it, and writes it back.
func rewrite(t *testing.T, path string, edit func(*file)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	b, err = json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTampered(t *testing.T) {
	tests := []struct {
		name string
		edit func(*file)
	}{
		{"ciphertext byte flipped", func(f *file) { f.Secrets["x"].Versions[1].Ciphertext[20] ^= 1 }},
		{"wrapped key byte flipped", func(f *file) { f.Secrets["x"].Versions[1].WrappedKey[5] ^= 0x80 }},
		{"ciphertext truncated", func(f *file) { f.Secrets["x"].Versions[1].Ciphertext = f.Secrets["x"].Versions[1].Ciphertext[:3] }},
		{"versions swapped", func(f *file) {
			v := f.Secrets["x"].Versions
			v[0].Ciphertext, v[1].Ciphertext = v[1].Ciphertext, v[0].Ciphertext
			v[0].WrappedKey, v[1].WrappedKey = v[1].WrappedKey, v[0].WrappedKey
		}},
		{"entries swapped between names", func(f *file) {
			x, y := &f.Secrets["x"].Versions[1], &f.Secrets["y"].Versions[1]
			x.Ciphertext, y.Ciphertext = y.Ciphertext, x.Ciphertext
			x.WrappedKey, y.WrappedKey = y.WrappedKey, x.WrappedKey
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, testKey(1))
			mustSet(t, e, "x", "value-x-1")
			mustSet(t, e, "x", "value-x-2")
			mustSet(t, e, "y", "value-y-1")
			mustSet(t, e, "y", "value-y-2")
			rewrite(t, e.Path(), tc.edit)
			got, err := e.GetVersion(t.Context(), "x", 2)
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("got %q, err %v; want ErrAuthentication", got, err)
			}
			if want := `secret "x" version 2: authentication failed`; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if strings.Contains(err.Error(), "value-") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
}

func TestRawByteFlipInFile(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, testKey(1))
	mustSet(t, e, "x", "value-x-1")
	b, err := os.ReadFile(e.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Flip a character in the middle of the base64 ciphertext.
	i := bytes.Index(b, []byte(`"ciphertext": "`)) + len(`"ciphertext": "`) + 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	if err := os.WriteFile(e.Path(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Get(t.Context(), "x"); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("got %q, err %v; want ErrAuthentication", got, err)
	}
}

func TestPlaintextNotInFile(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, testKey(1))
	secret := "plaintext-canary-0123456789"
	mustSet(t, e, "canary", secret)
	mustSet(t, e, "canary", secret)
	b, err := os.ReadFile(e.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret))[:20],
		base64.URLEncoding.EncodeToString([]byte(secret)),
	} {
		if bytes.Contains(b, []byte(form)) {
			t.Errorf("vault file contains %q", form)
		}
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(testKey(7))
	tests := []struct {
		name, env, wantErr string
	}{
		{"valid", good, ""},
		{"not base64", "not*base64", "CONVEYOR_VAULT_KEY: not base64"},
		{"short", base64.StdEncoding.EncodeToString([]byte("short")), "CONVEYOR_VAULT_KEY: decodes to 5 bytes, want 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ResolveKey(tc.env, t.TempDir())
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(key, testKey(7)) {
					t.Fatalf("key %x, err %v", key, err)
				}
				return
			}
			if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want ErrBadKey containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key, err := ResolveKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	again, err := ResolveKey("", dir)
	if err != nil || !bytes.Equal(key, again) {
		t.Fatalf("second ResolveKey: %x, %v; want the same key", again, err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ResolveKey("", dir)
	if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644 key file: err %v, want a refusal naming the mode and the fix", err)
	}
}

func TestInvalidNames(t *testing.T) {
	e := openT(t, t.TempDir(), testKey(1))
	for _, name := range []string{"", "has space", "semi;colon", "ünï", "a\nb"} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Set(t.Context(), name, []byte("v"))
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("err %v, want ErrInvalidName", err)
			}
			if name != "" && !strings.Contains(err.Error(), strings.Trim(fmtQ(name), `"`)) {
				t.Errorf("error %q does not name %q", err, name)
			}
		})
	}
}

func fmtQ(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestKeyFileWrongSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveKey("", dir)
	if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "holds 5 bytes, want exactly 32") {
		t.Errorf("err %v, want ErrBadKey naming the size", err)
	}
}

func TestConcurrentSet(t *testing.T) {
	e := openT(t, t.TempDir(), testKey(1))
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.Set(t.Context(), "shared", []byte("v"))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, err := e.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Versions != n {
		t.Errorf("List = %+v, want one secret with %d versions", list, n)
	}
}

func TestCorruptFile(t *testing.T) {
	e := openT(t, t.TempDir(), testKey(1))
	if err := os.WriteFile(e.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := e.Get(t.Context(), "x")
	if err == nil || !strings.Contains(err.Error(), e.Path()+": corrupt file") {
		t.Errorf("err %v, want a corrupt-file error naming the file", err)
	}
}
