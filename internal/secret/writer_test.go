package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeSplit writes in through a masking writer in pieces cut at the given
// offsets and returns what reached the underlying writer.
func writeSplit(t *testing.T, k *Masker, in string, cuts ...int) string {
	t.Helper()
	var out bytes.Buffer
	w := k.Writer(&out)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if n, err := w.Write([]byte(in[prev:c])); err != nil || n != c-prev {
			t.Fatalf("Write = %d, %v", n, err)
		}
		prev = c
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// maskLines is what the writer must produce: each line masked on its own.
func maskLines(k *Masker, in string) string {
	lines := strings.SplitAfter(in, "\n")
	var b strings.Builder
	for _, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		b.WriteString(k.Mask(body))
		if nl {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestWriterEverySplitPoint(t *testing.T) {
	secrets := []string{"s3cr3t-token", "another-one!", "multi\nline-secret-part"}
	k := newMasker(t, secrets...)
	inputs := map[string]string{
		"plain":            "start s3cr3t-token end\nno secret here\nanother-one!s3cr3t-token\n",
		"encoded":          "b64=" + base64.StdEncoding.EncodeToString([]byte("s3cr3t-token")) + " hex=" + hex.EncodeToString([]byte("another-one!")) + "\n",
		"no final newline": "x line-secret-part y\nlast s3cr3t-to",
		"secret at edges":  "s3cr3t-token\ns3cr3t-token",
		"empty lines":      "\n\ns3cr3t-token\n\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			want := maskLines(k, in)
			if got := writeSplit(t, k, in); got != want {
				t.Fatalf("one write (-want +got):\n%s", cmp.Diff(want, got))
			}
			for i := 0; i <= len(in); i++ {
				if got := writeSplit(t, k, in, i); got != want {
					t.Fatalf("split at %d (-want +got):\n%s", i, cmp.Diff(want, got))
				}
				for j := i; j <= len(in); j += 3 {
					if got := writeSplit(t, k, in, i, j); got != want {
						t.Fatalf("split at %d and %d (-want +got):\n%s", i, j, cmp.Diff(want, got))
					}
				}
			}
			cuts := make([]int, 0, len(in))
			for i := 1; i < len(in); i++ {
				cuts = append(cuts, i)
			}
			if got := writeSplit(t, k, in, cuts...); got != want {
				t.Fatalf("byte by byte (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

func TestWriterLongLine(t *testing.T) {
	secret := "long-line-secret-" + strings.Repeat("z", 40)
	k := newMasker(t, secret)
	// 300 KiB without a newline, with secrets (and their base64) scattered
	// so some straddle the 64 KiB chunk edges.
	var b strings.Builder
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for i := 0; b.Len() < 300<<10; i++ {
		b.WriteString(strings.Repeat("ab", 1+i%97))
		if i%2 == 0 {
			b.WriteString(secret)
		} else {
			b.WriteString(b64)
		}
	}
	in := b.String()
	want := k.Mask(in)
	for _, size := range []int{1 << 16, 4093, 65535, 100000} {
		var out bytes.Buffer
		w := k.Writer(&out)
		for i := 0; i < len(in); i += size {
			if _, err := w.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if out.Len() == 0 {
			t.Errorf("writes of %d: nothing flushed before Close for a %d-byte line", size, len(in))
		}
		if !strings.HasPrefix(want, out.String()) {
			t.Fatalf("writes of %d: output before Close is not a prefix of Mask of the whole line", size)
		}
		// At most a chunk, a write and the longest secret form are held back.
		if held := len(want) - out.Len(); held > chunkSize+size+len(b64) {
			t.Errorf("writes of %d: %d bytes held back", size, held)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != want {
			t.Errorf("writes of %d: output differs from Mask of the whole line (%d vs %d bytes)", size, len(got), len(want))
		}
	}
	if strings.Contains(want, secret) || strings.Contains(want, b64[:20]) {
		t.Errorf("long line still contains the secret")
	}
}

func TestWriterWithoutSecrets(t *testing.T) {
	k := NewMasker()
	if got := writeSplit(t, k, "a\nb", 1, 2); got != "a\nb" {
		t.Errorf("got %q", got)
	}
}

func TestWriterAfterClose(t *testing.T) {
	w := NewMasker().Writer(&bytes.Buffer{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Errorf("Write after Close succeeded, want an error")
	}
}

// FuzzWriterSplit checks that where the writes are cut never changes what
// the masking writer produces: each line masked on its own.
func FuzzWriterSplit(f *testing.F) {
	k := newMasker(f, "s3cr3t-token", "abcd", "multi\nline-secret-part")
	f.Add("start s3cr3t-token end\nabcdabcd\n", 3, 17)
	f.Add(base64.StdEncoding.EncodeToString([]byte("xs3cr3t-token"))+"\nline-secret-part", 10, 11)
	f.Add("ab\ncd abc\nd", 0, 5)
	f.Fuzz(func(t *testing.T, in string, a, b int) {
		if len(in) == 0 {
			return
		}
		a, b = int(uint(a)%uint(len(in)+1)), int(uint(b)%uint(len(in)+1))
		if a > b {
			a, b = b, a
		}
		want := maskLines(k, in)
		if got := writeSplit(t, k, in, a, b); got != want {
			t.Fatalf("cut at %d and %d (-want +got):\n%s", a, b, cmp.Diff(want, got))
		}
	})
}
