package registry

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"regexp"
	"strings"
)

// digest is a parsed content digest: "sha256:<64 hex>" or "sha512:<128 hex>".
type digest struct {
	alg string
	hex string
}

func (d digest) String() string { return d.alg + ":" + d.hex }

var hexLen = map[string]int{"sha256": 64, "sha512": 128}

func parseDigest(s string) (digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		return digest{}, fmt.Errorf("digest %q: want <algorithm>:<hex>", s)
	}
	n, known := hexLen[alg]
	if !known {
		return digest{}, fmt.Errorf("digest %q: unsupported algorithm %q (sha256 and sha512 are)", s, alg)
	}
	if len(hx) != n || !isLowerHex(hx) {
		return digest{}, fmt.Errorf("digest %q: want %d lower-case hex characters after the algorithm %s", s, n, alg)
	}
	return digest{alg: alg, hex: hx}, nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newHash(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

func digestOf(alg string, b []byte) digest {
	h := newHash(alg)
	h.Write(b)
	return digest{alg: alg, hex: fmt.Sprintf("%x", h.Sum(nil))}
}

var (
	// The distribution spec's grammar for repository names and tags.
	nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	// Tags that cosign and the OCI referrers fallback rewrite as signatures
	// and attestations are added; immutability does not apply to them.
	cosignTagRE = regexp.MustCompile(`^sha(256|512)-[0-9a-f]+(\.(sig|att|sbom))?$`)
)
