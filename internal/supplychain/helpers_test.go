package supplychain

import (
	"crypto"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/registry"
)

// testRegistry is an embedded Conveyor registry on loopback.
type testRegistry struct {
	host string
}

func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return &testRegistry{host: strings.TrimPrefix(srv.URL, "http://")}
}

// pushImage pushes img (a random one when nil) to repo:tag and returns the
// digest reference.
func (r *testRegistry) pushImage(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	if img == nil {
		var err error
		if img, err = random.Image(512, 2); err != nil {
			t.Fatal(err)
		}
	}
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String()).String()
}

var testOpts = Options{Insecure: true}

// testKey makes a key pair in cosign's format and returns the decrypted
// signer and the public key PEM.
func testKey(t *testing.T, password string) (crypto.Signer, []byte, []byte) {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := DecryptPrivateKey(priv, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv, pub
}
