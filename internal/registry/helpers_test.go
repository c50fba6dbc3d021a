package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is one of our registries served on 127.0.0.1.
type testRegistry struct {
	reg  *Registry
	srv  *httptest.Server
	host string // 127.0.0.1:port
	dir  string
}

func startRegistry(t *testing.T, dir string, opts ...Option) *testRegistry {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	reg, err := New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return &testRegistry{reg: reg, srv: srv, host: strings.TrimPrefix(srv.URL, "http://"), dir: dir}
}

// serveBench serves reg for a benchmark.
func serveBench(b *testing.B, reg *Registry) *testRegistry {
	b.Helper()
	srv := httptest.NewServer(reg)
	b.Cleanup(srv.Close)
	return &testRegistry{reg: reg, srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
}

func (r *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *testRegistry) repo(t *testing.T, s string) name.Repository {
	t.Helper()
	repo, err := name.NewRepository(r.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// rawManifest is a Taggable with a media type.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

const (
	cosignSigType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	sbomType      = "application/spdx+json"
)

// pushArtifact pushes an OCI artifact (an empty config and one layer) to
// repo, with subject when given, tagged when tag is not empty, and returns its
// descriptor.
func pushArtifact(t *testing.T, repo name.Repository, artifactType, payload string, subject *v1.Descriptor, tag string, opts ...remote.Option) v1.Descriptor {
	t.Helper()
	empty := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	layer := static.NewLayer([]byte(payload), "application/octet-stream")
	for _, l := range []v1.Layer{empty, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		d, _ := l.Digest()
		s, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: d, Size: s}
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"artifactType":  artifactType,
		"config":        desc(empty),
		"layers":        []v1.Descriptor{desc(layer)},
	}
	if subject != nil {
		m["subject"] = subject
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dig, size, _ := v1.SHA256(strings.NewReader(string(body)))
	var ref name.Reference = repo.Digest(dig.String())
	if tag != "" {
		ref = repo.Tag(tag)
	}
	if err := remote.Put(ref, rawManifest{body, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: dig, Size: size, ArtifactType: artifactType}
}

// descriptorOf returns the descriptor of a pushed image.
func descriptorOf(t *testing.T, img interface {
	Digest() (v1.Hash, error)
	Size() (int64, error)
	MediaType() (types.MediaType, error)
}) v1.Descriptor {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := img.Size()
	mt, _ := img.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: s}
}

// countingTransport counts requests and the bytes of blob upload bodies.
type countingTransport struct {
	next        http.RoundTripper
	requests    atomic.Int64
	uploadBytes atomic.Int64
	mu          sync.Mutex
	log         []string
}

func newCountingTransport() *countingTransport {
	return &countingTransport{next: http.DefaultTransport}
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	c.mu.Lock()
	c.log = append(c.log, req.Method+" "+req.URL.Path)
	c.mu.Unlock()
	if strings.Contains(req.URL.Path, "/blobs/uploads/") && req.Body != nil && req.Method != http.MethodGet {
		req.Body = &countingBody{ReadCloser: req.Body, n: &c.uploadBytes}
	}
	return c.next.RoundTrip(req)
}

func (c *countingTransport) reset() {
	c.requests.Store(0)
	c.uploadBytes.Store(0)
	c.mu.Lock()
	c.log = nil
	c.mu.Unlock()
}

func (c *countingTransport) requestLog() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, "\n")
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
