package secret

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// The expected encodings below were produced by other encoders (Python's
// urllib.parse and json, JavaScript's encodeURIComponent rules, PHP's
// json_encode rules), not by this package.
func TestMaskOtherEncoders(t *testing.T) {
	const secret = "p@ss w0rd/\"quoted\"&<tag>+more=?ü€😀!*'()~"
	k := NewMasker()
	if err := k.Add(secret); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, enc string }{
		{"python quote safe=''", "p%40ss%20w0rd%2F%22quoted%22%26%3Ctag%3E%2Bmore%3D%3F%C3%BC%E2%82%AC%F0%9F%98%80%21%2A%27%28%29~"},
		{"python quote", "p%40ss%20w0rd/%22quoted%22%26%3Ctag%3E%2Bmore%3D%3F%C3%BC%E2%82%AC%F0%9F%98%80%21%2A%27%28%29~"},
		{"encodeURIComponent", "p%40ss%20w0rd%2F%22quoted%22%26%3Ctag%3E%2Bmore%3D%3F%C3%BC%E2%82%AC%F0%9F%98%80!*'()~"},
		{"python quote_plus", "p%40ss+w0rd%2F%22quoted%22%26%3Ctag%3E%2Bmore%3D%3F%C3%BC%E2%82%AC%F0%9F%98%80%21%2A%27%28%29~"},
		{"lower-case escapes", "p%40ss%20w0rd%2f%22quoted%22%26%3ctag%3e%2bmore%3d%3f%c3%bc%e2%82%ac%f0%9f%98%80%21%2a%27%28%29~"},
		{"python json.dumps", `p@ss w0rd/\"quoted\"&<tag>+more=?\u00fc\u20ac\ud83d\ude00!*'()~`},
		{"json, upper-case escapes", `p@ss w0rd/\"quoted\"&<tag>+more=?\u00FC\u20AC\uD83D\uDE00!*'()~`},
		{"php json_encode", `p@ss w0rd\/\"quoted\"&<tag>+more=?\u00fc\u20ac\ud83d\ude00!*'()~`},
		{"json, utf-8 kept", `p@ss w0rd/\"quoted\"&<tag>+more=?ü€😀!*'()~`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := `{"k":"` + tt.enc + `"}`
			if got, want := k.Mask(in), `{"k":"***"}`; got != want {
				t.Errorf("Mask(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// TestMaskBase64EveryAlignment embeds the secret at byte offsets 0..5 of a
// longer payload, encodes the whole payload (as `base64 file` would), and
// checks that no 4 consecutive characters that depend only on the secret's
// bytes survive masking.
func TestMaskBase64EveryAlignment(t *testing.T) {
	const secret = "canary-Hx7q2LmN9pRt"
	k := NewMasker()
	if err := k.Add(secret); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for pre := 0; pre < 6; pre++ {
			for post := 0; post < 4; post++ {
				payload := strings.Repeat("x", pre) + secret + strings.Repeat("y", post)
				got := k.Mask(enc.EncodeToString([]byte(payload)))
				if !strings.Contains(got, Replacement) {
					t.Errorf("pre %d post %d: %q not masked", pre, post, got)
					continue
				}
				// What is left must decode (ignoring the masked hole) to
				// no more than 2 bytes of the secret on either side.
				left, right, _ := strings.Cut(got, Replacement)
				if n := len(left)*6/8 - pre; n > 2 {
					t.Errorf("pre %d post %d: %d secret bytes left before the mask in %q", pre, post, n, got)
				}
				if n := len(strings.TrimRight(right, "="))*6/8 - post; n > 2 {
					t.Errorf("pre %d post %d: %d secret bytes left after the mask in %q", pre, post, n, got)
				}
			}
		}
	}
}

// TestMaskCanaryForms checks the forms the canary pipeline prints: raw,
// base64 with a trailing newline (echo | base64), hex (xxd -p), and a
// multi-line secret line by line.
func TestMaskCanaryForms(t *testing.T) {
	const secret = "canary-Hx7q2LmN9pRt"
	k := NewMasker()
	if err := k.Add(secret); err != nil {
		t.Fatal(err)
	}
	multi := "-----BEGIN CANARY-----\nline-one-Hx7q\n  line-two-LmN9  \nab\n-----END CANARY-----"
	if err := k.Add(multi); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret + "\n")),
		hex.EncodeToString([]byte(secret + "\n")),
		"line-one-Hx7q",
		"line-two-LmN9",
	} {
		if got := k.Mask(in); strings.Contains(got, "Hx7q") || strings.Contains(got, "LmN9") || !strings.Contains(got, Replacement) {
			t.Errorf("Mask(%q) = %q", in, got)
		}
	}
	// A line shorter than MinLength stays: it would hide ordinary text.
	if got := k.Mask("ab"); got != "ab" {
		t.Errorf("Mask(ab) = %q, want it kept", got)
	}
}
