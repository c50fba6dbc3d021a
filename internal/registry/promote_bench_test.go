package registry

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Benchmarks of promotion and of the registry against peers:
//
//	go test ./internal/registry -run '^$' -bench . -benchtime 3x
//
// The image is 10 random (incompressible) layers of 10 MiB.
const (
	benchLayers    = 10
	benchLayerSize = 10 << 20
)

var (
	benchRepo atomic.Int64 // numbers target repositories, unique within a run

	craneOnce sync.Once
	cranePath string
	craneErr  error
)

// craneBinary builds crane, at the go-containerregistry version this module
// uses, from the Go module proxy once per run (the build cache keeps it).
func craneBinary(b *testing.B) string {
	b.Helper()
	craneOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/google/go-containerregistry").Output()
		if err != nil {
			craneErr = fmt.Errorf("go-containerregistry version: %w", err)
			return
		}
		version := strings.TrimSpace(string(out))
		dir := filepath.Join(os.TempDir(), "conveyor-bench-bin", version)
		cranePath = filepath.Join(dir, "crane")
		if _, err := os.Stat(cranePath); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/google/go-containerregistry/cmd/crane@"+version)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			craneErr = fmt.Errorf("build crane %s: %v\n%s", version, err, out)
		}
	})
	if craneErr != nil {
		b.Fatal(craneErr)
	}
	return cranePath
}

// newBenchImage returns an image of benchLayers random (incompressible)
// layers of benchLayerSize bytes held in memory, so that pushing it costs no
// compression, and its blob bytes.
func newBenchImage(b *testing.B) (v1.Image, int64) {
	b.Helper()
	rng := rand.NewChaCha8([32]byte{'c', 'o', 'n', 'v', 'e', 'y', 'o', 'r', byte(benchRepo.Add(1))})
	var layers []v1.Layer
	for range benchLayers {
		buf := make([]byte, benchLayerSize)
		_, _ = rng.Read(buf)
		layers = append(layers, static.NewLayer(buf, types.OCILayer))
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		b.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	m, err := img.Manifest()
	if err != nil {
		b.Fatal(err)
	}
	total := m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return img, total
}

// benchImage pushes a fresh image to host as app:v1 and returns its blob bytes.
func benchImage(b *testing.B, host string) (v1.Image, int64) {
	b.Helper()
	img, total := newBenchImage(b)
	ref, _ := name.ParseReference(host + "/app:v1")
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	return img, total
}

func startBenchRegistry(b *testing.B) *testRegistry {
	b.Helper()
	reg, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return serveBench(b, reg)
}

// BenchmarkPromote copies the image between two of our registries, to a new
// repository each time (every blob is sent), with Promote and with crane.
func BenchmarkPromote(b *testing.B) {
	src := startBenchRegistry(b)
	dst := startBenchRegistry(b)
	_, size := benchImage(b, src.host)

	b.Run("conveyor-promote", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			i := benchRepo.Add(1)
			if _, err := Promote(b.Context(), src.host+"/app:v1", fmt.Sprintf("%s/promote%d/app", dst.host, i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crane-copy-cli", func(b *testing.B) {
		bin := craneBinary(b)
		b.SetBytes(size)
		for b.Loop() {
			i := benchRepo.Add(1)
			cmd := exec.CommandContext(b.Context(), bin, "copy", src.host+"/app:v1", fmt.Sprintf("%s/crane%d/app:v1", dst.host, i))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("crane copy: %v\n%s", err, out)
			}
		}
	})
	b.Run("crane-copy-lib", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			i := benchRepo.Add(1)
			if err := crane.Copy(src.host+"/app:v1", fmt.Sprintf("%s/cranelib%d/app:v1", dst.host, i), crane.WithContext(b.Context())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPromoteExisting promotes an image the target already holds:
// no blob bytes, and few requests.
func BenchmarkPromoteExisting(b *testing.B) {
	src := startBenchRegistry(b)
	dst := startBenchRegistry(b)
	benchImage(b, src.host)
	if _, err := Promote(b.Context(), src.host+"/app:v1", dst.host+"/app"); err != nil {
		b.Fatal(err)
	}
	rt := newCountingTransport()
	for b.Loop() {
		if _, err := Promote(b.Context(), src.host+"/app:v1", dst.host+"/app", WithTransport(rt)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rt.requests.Load())/float64(b.N), "requests/op")
	b.ReportMetric(float64(rt.uploadBytes.Load())/float64(b.N), "blob-bytes/op")
}

// BenchmarkRegistry pushes the image to a new repository and pulls every
// blob back, against our registry and the Debian docker-registry
// (distribution 2.8), both on loopback.
func BenchmarkRegistry(b *testing.B) {
	ours := startBenchRegistry(b)
	dist := startDistribution(b)
	img, size := newBenchImage(b)
	for _, target := range []struct{ name, host string }{{"conveyor", ours.host}, {"distribution", dist}} {
		var pushed name.Reference
		b.Run("push/"+target.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				ref, _ := name.ParseReference(fmt.Sprintf("%s/push%d/app:v1", target.host, benchRepo.Add(1)))
				if err := remote.Write(ref, img); err != nil {
					b.Fatal(err)
				}
				pushed = ref
			}
		})
		b.Run("pull/"+target.name, func(b *testing.B) {
			ref := pushed
			b.SetBytes(size)
			for b.Loop() {
				pulled, err := remote.Image(ref)
				if err != nil {
					b.Fatal(err)
				}
				layers, err := pulled.Layers()
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				errs := make(chan error, len(layers))
				for _, l := range layers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rc, err := l.Compressed()
						if err != nil {
							errs <- err
							return
						}
						defer rc.Close()
						if _, err := io.Copy(io.Discard, rc); err != nil {
							errs <- err
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
		})
	}
}
