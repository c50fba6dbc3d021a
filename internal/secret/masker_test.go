package secret

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newMasker(t testing.TB, secrets ...string) *Masker {
	t.Helper()
	k := NewMasker()
	for _, s := range secrets {
		if err := k.Add(s); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return k
}

func TestMaskEncodings(t *testing.T) {
	const secret = `p@ss w0rd/"quoted"&<tag>+more=?`
	b := []byte(secret)
	tests := []struct {
		name, form string
	}{
		{"plain", secret},
		{"base64 std", base64.StdEncoding.EncodeToString(b)},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(b)},
		{"base64 url", base64.URLEncoding.EncodeToString(b)},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(b)},
		{"url query", url.QueryEscape(secret)},
		{"url path", url.PathEscape(secret)},
		{"url query, lower-case escapes", "p%40ss+w0rd%2f%22quoted%22%26%3ctag%3e%2bmore%3d%3f"},
		{"json", `p@ss w0rd/\"quoted\"\u0026\u003ctag\u003e+more=?`},
		{"json without html escapes", `p@ss w0rd/\"quoted\"&<tag>+more=?`},
		{"hex lower", hex.EncodeToString(b)},
		{"hex upper", strings.ToUpper(hex.EncodeToString(b))},
	}
	k := newMasker(t, secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := k.Mask("before " + tt.form + " after")
			if diff := cmp.Diff("before *** after", got); diff != "" {
				t.Errorf("Mask (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaskBase64InsideLongerStream(t *testing.T) {
	const secret = "hunter2-is-my-password"
	k := newMasker(t, secret)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for pre := 0; pre <= 5; pre++ {
			for post := 0; post <= 4; post++ {
				data := strings.Repeat("{", pre) + secret + strings.Repeat("}", post)
				encoded := enc.EncodeToString([]byte(data))
				got := k.Mask("data: " + encoded + " end")
				if !strings.Contains(got, Replacement) {
					t.Errorf("base64 of %q (%d bytes before) = %q: secret not masked in %q", data, pre, encoded, got)
					continue
				}
				// What is left must not decode to any 8-byte window of the secret.
				rest := strings.Split(strings.TrimSuffix(strings.TrimPrefix(got, "data: "), " end"), Replacement)
				for _, part := range rest {
					for off := 0; off < 4; off++ {
						if off > len(part) {
							break
						}
						dec, _ := base64.RawStdEncoding.DecodeString(strings.TrimRight(part[off:], "=")[:len(strings.TrimRight(part[off:], "="))/4*4])
						for i := 0; i+8 <= len(secret); i++ {
							if strings.Contains(string(dec), secret[i:i+8]) {
								t.Errorf("masked %q still reveals %q", got, secret[i:i+8])
							}
						}
					}
				}
			}
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secrets", nil, "nothing to hide", "nothing to hide"},
		{"empty input", []string{"secret"}, "", ""},
		{"every occurrence", []string{"secret"}, "secret,secret secretsecret", "***,*** ******"},
		{"overlapping secrets merge", []string{"abcdef", "defghi"}, "xxabcdefghixx", "xx***xx"},
		{"nested secret", []string{"long-secret-value", "secret"}, "a long-secret-value and secret", "a *** and ***"},
		{"prefix sharing secrets", []string{"token-aaaa", "token-aaab"}, "token-aaab token-aaaa token-aaa", "*** *** token-aaa"},
		{"multi-line secret, line by line", []string{"-----BEGIN KEY-----\nMIIBOgIBAAJBAK\r\n  ab\n-----END KEY-----\n"},
			"MIIBOgIBAAJBAK\n-----BEGIN KEY-----\nab\n", "***\n***\nab\n"},
		{"multi-line secret, whole", []string{"first-line\nsecond-line"}, "[first-line\nsecond-line]", "[***]"},
		{"binary-ish bytes", []string{"\x00\x01\x02\xff"}, "a\x00\x01\x02\xffb", "a***b"},
		{"unicode", []string{"pässwörd"}, "x pässwörd y " + url.QueryEscape("pässwörd"), "x *** y ***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newMasker(t, tt.secrets...)
			if diff := cmp.Diff(tt.want, k.Mask(tt.in)); diff != "" {
				t.Errorf("Mask(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestAddTooShort(t *testing.T) {
	k := NewMasker()
	for _, v := range []string{"", "a", "x9Z"} {
		err := k.Add(v)
		if !errors.Is(err, ErrTooShort) {
			t.Errorf("Add(%q) error = %v, want ErrTooShort", v, err)
		}
		if len(v) > 1 && err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("Add's warning %q contains the secret", err)
		}
	}
	if got := k.Mask("x9Z x9Zx"); got != "x9Z x9Zx" {
		t.Errorf("Mask after short secrets = %q, want it unchanged", got)
	}
	if k.Len() != 0 {
		t.Errorf("Len = %d, want 0", k.Len())
	}
	if err := k.Add("abcd"); err != nil {
		t.Errorf("Add of %d characters: %v", MinLength, err)
	}
}

func TestBase64Core(t *testing.T) {
	// The core at each offset must appear in the encoding of the value
	// surrounded by any bytes.
	v := []byte("0123456789abcdef")
	for off := 0; off < 3; off++ {
		core := base64Core(base64.RawStdEncoding, v, off)
		if len(core) < len(v)*4/3-2 { // all but the characters shared with the neighbours
			t.Errorf("offset %d: core %q is too short", off, core)
		}
		for _, fill := range []byte{0x00, 0xff, 'x'} {
			for tail := 0; tail < 3; tail++ {
				data := append(append(bytesOf(fill, off+3), v...), bytesOf(fill, tail)...)
				enc := base64.StdEncoding.EncodeToString(data)
				if !strings.Contains(enc, core) {
					t.Errorf("offset %d fill %#x tail %d: %q does not contain core %q", off, fill, tail, enc, core)
				}
			}
		}
	}
}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string([]byte{b}), n)) }

func TestForms(t *testing.T) {
	got := Forms("abcd")
	// base64 at offsets 0, 1, 2: "YWJjZ" of "YWJjZA", "FiY2" of "AGFiY2Q", "hYmNk" of "AABhYmNk".
	want := []string{"abcd", "YWJjZA==", "YWJjZA", "YWJjZ", "FiY2", "hYmNk", "61626364"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Forms(abcd) (-want +got):\n%s", diff)
	}
}

func TestConcurrentAddAndMask(t *testing.T) {
	k := newMasker(t, "first-secret")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			if err := k.Add(strings.Repeat("x", 4) + string(rune('a'+i%26)) + strings.Repeat("y", i)); err != nil {
				t.Error(err)
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for range 500 {
				if got := k.Mask("a first-secret b"); got != "a *** b" {
					t.Errorf("Mask = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
