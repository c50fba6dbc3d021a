package supplychain

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	vulnAppOnce sync.Once
	vulnAppBin  []byte
	vulnAppErr  error
)

// vulnApp builds testdata/vulnapp, a Go program linking golang.org/x/text
// v0.3.7 (affected by GHSA-69ch-w2m2-3vjp), once per test binary.
func vulnApp(t testing.TB) []byte {
	t.Helper()
	vulnAppOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vulnapp")
		if err != nil {
			vulnAppErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "app")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "vulnapp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			vulnAppErr = err
			vulnAppBin = b
			return
		}
		vulnAppBin, vulnAppErr = os.ReadFile(out)
	})
	if vulnAppErr != nil {
		t.Fatalf("build testdata/vulnapp: %v\n%s", vulnAppErr, vulnAppBin)
	}
	return vulnAppBin
}

type fixtureFile struct {
	name string
	mode int64
	data []byte
}

// fixtureImage is a one-layer linux/amd64 image holding the vulnerable Go
// program and a Debian 12, npm and Python package database entry each.
func fixtureImage(t testing.TB) v1.Image {
	t.Helper()
	files := []fixtureFile{
		{"app/vulnapp", 0o755, vulnApp(t)},
		{"etc/os-release", 0o644, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")},
		{"var/lib/dpkg/status", 0o644, []byte("Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n" +
			"Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n" +
			"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n")},
		{"srv/node_modules/lodash/package.json", 0o644, []byte(`{"name":"lodash","version":"4.17.20"}`)},
		{"srv/node_modules/@scope/pkg/package.json", 0o644, []byte(`{"name":"@scope/pkg","version":"1.0.0"}`)},
		{"usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA", 0o644, []byte("Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n\nbody\n")},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fixedClock returns a clock stopped at s (RFC 3339).
func fixedClock(t *testing.T, s string) func() time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return func() time.Time { return tm }
}
