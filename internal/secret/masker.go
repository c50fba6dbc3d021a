package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
)

// Replacement is what replaces every secret occurrence.
const Replacement = "***"

// MinLength is the shortest secret the masker masks; shorter values would
// hide ordinary text.
const MinLength = 4

// ErrTooShort is wrapped by Add's warning for a value shorter than MinLength.
var ErrTooShort = errors.New("secret too short to mask")

// Masker replaces registered secret values, in every common encoding, by
// "***". It is safe for concurrent use: Add may run while others mask.
type Masker struct {
	mu      sync.Mutex // guards secrets, forms and rebuilding
	secrets map[string]bool
	forms   map[string]bool
	dirty   atomic.Bool // forms changed since m was built
	m       atomic.Pointer[matcher]
}

// NewMasker returns a masker with no secrets.
func NewMasker() *Masker {
	return &Masker{secrets: map[string]bool{}, forms: map[string]bool{}}
}

// Add registers a secret value: the value, each of its lines of at least
// MinLength characters (trimmed), and their encodings are masked from now on.
// A value shorter than MinLength is not masked: Add returns a warning
// wrapping ErrTooShort (which never contains the value).
func (k *Masker) Add(value string) error {
	if len(value) < MinLength {
		return fmt.Errorf("secret of %d characters not masked: at least %d are needed: %w", len(value), MinLength, ErrTooShort)
	}
	values := []string{value}
	if strings.ContainsAny(value, "\r\n") {
		for _, line := range strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if line = strings.TrimSpace(line); len(line) >= MinLength {
				values = append(values, line)
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	added := false
	for _, v := range values {
		if k.secrets[v] {
			continue
		}
		k.secrets[v] = true
		for _, f := range Forms(v) {
			if !k.forms[f] {
				k.forms[f] = true
				added = true
			}
		}
	}
	if added {
		k.dirty.Store(true) // the next Mask rebuilds, once for many Adds
	}
	return nil
}

// matcher returns the automaton of every secret added so far (nil: none).
func (k *Masker) matcher() *matcher {
	if k.dirty.Load() {
		k.mu.Lock()
		if k.dirty.Load() {
			patterns := make([]string, 0, len(k.forms))
			for f := range k.forms {
				patterns = append(patterns, f)
			}
			k.m.Store(buildMatcher(patterns))
			k.dirty.Store(false)
		}
		k.mu.Unlock()
	}
	return k.m.Load()
}

// Len returns how many distinct values (whole secrets and their lines) are registered.
func (k *Masker) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.secrets)
}

// Mask returns s with every occurrence of a registered secret form replaced by "***".
func (k *Masker) Mask(s string) string {
	m := k.matcher()
	if m == nil {
		return s
	}
	var arr [8]span
	spans := m.find(s, arr[:0])
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(Replacement)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// appendMasked appends p masked by m (nil: no secrets) to dst.
func appendMasked(dst []byte, m *matcher, p []byte, spans []span) ([]byte, []span) {
	if m == nil {
		return append(dst, p...), spans
	}
	spans = m.find(bytesString(p), spans[:0])
	last := 0
	for _, sp := range spans {
		dst = append(dst, p[last:sp.start]...)
		dst = append(dst, Replacement...)
		last = sp.end
	}
	return append(dst, p[last:]...), spans
}

// Forms returns the strings that reveal value in a log: the value itself,
// its base64 (standard and URL alphabets, with and without padding, and the
// stable part of its encoding at each of the 3 byte offsets inside a longer
// base64 stream), its URL query and path escapes, its JSON string escapes and
// its hex (lower and upper case). Percent escapes come with upper- and
// lower-case hex digits. Forms shorter than MinLength are left out.
func Forms(value string) []string {
	forms := []string{value}
	v := []byte(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString(v))
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for off := 0; off < 3; off++ {
			forms = append(forms, base64Core(enc, v, off))
		}
	}
	query, path := url.QueryEscape(value), url.PathEscape(value)
	forms = append(forms, query, path, lowerPercent(query), lowerPercent(path))
	// Other encoders' choices of what to leave unescaped: RFC 3986
	// unreserved only (curl --data-urlencode, Python quote(safe="")), with
	// '/' kept (Python's default quote), JavaScript's encodeURIComponent,
	// and form encoding with '+' for spaces over the strict set.
	for _, pe := range []struct {
		keep  string
		space bool
	}{{"", false}, {"/", false}, {"!'()*", false}, {"", true}} {
		e := percentEncode(value, pe.keep, pe.space)
		forms = append(forms, e, lowerPercent(e))
	}
	forms = append(forms, jsonEscape(value, true), jsonEscape(value, false))
	// Encoders that escape every non-ASCII character (Python's json.dumps,
	// Java's) and those that escape '/' too (PHP's json_encode).
	for _, j := range []string{jsonEscape(value, true), jsonEscape(value, false)} {
		ascii := jsonASCII(j)
		forms = append(forms, ascii, upperUnicodeEscapes(ascii), strings.ReplaceAll(j, "/", `\/`), strings.ReplaceAll(ascii, "/", `\/`))
	}
	forms = append(forms, hex.EncodeToString(v), strings.ToUpper(hex.EncodeToString(v)))
	seen := map[string]bool{}
	out := forms[:0]
	for _, f := range forms {
		if len(f) >= MinLength && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// percentEncode escapes every byte of value outside the RFC 3986
// unreserved set (letters, digits, '-', '.', '_', '~') and keep, with
// upper-case hex; space becomes '+' when plus is set.
func percentEncode(value, keep string, plus bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~', strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		case c == ' ' && plus:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// jsonASCII rewrites the non-ASCII characters of a JSON string body as
// \uXXXX escapes (surrogate pairs beyond the BMP), lower-case hex.
func jsonASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// upperUnicodeEscapes upper-cases the hex digits of the \uXXXX escapes in s.
func upperUnicodeEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+5 < len(b); i++ {
		if b[i] == '\\' && b[i+1] == 'u' {
			for j := i + 2; j < i+6; j++ {
				if 'a' <= b[j] && b[j] <= 'f' {
					b[j] -= 'a' - 'A'
				}
			}
			i += 5
		} else if b[i] == '\\' {
			i++ // an escaped character: never the start of \u
		}
	}
	return string(b)
}

// lowerPercent lower-cases the hex digits of the percent escapes in s.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// base64Core returns the characters of the base64 encoding of v that do not
// depend on its neighbours when v starts at byte offset off (mod 3) of a
// longer encoded stream.
func base64Core(enc *base64.Encoding, v []byte, off int) string {
	full := enc.EncodeToString(append(make([]byte, off), v...))
	// Character i encodes bits [6i, 6i+6); the value holds bits [8off, 8(off+len)).
	lo := (8*off + 5) / 6
	hi := (8 * (off + len(v))) / 6 // exclusive
	if hi > len(full) {
		hi = len(full)
	}
	if lo >= hi {
		return ""
	}
	return full[lo:hi]
}

// jsonEscape returns value as it appears inside a JSON string.
func jsonEscape(value string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(value); err != nil {
		return value
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
}

// patterns returns how many strings (secrets and their forms) the automaton matches.
func (k *Masker) patterns() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.forms)
}
