package image

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkDockerfileBuild builds each sample Dockerfile (no RUN) without a
// layer cache, up to the image digest (every layer compressed and hashed).
func BenchmarkDockerfileBuild(b *testing.B) {
	for _, ex := range []string{"static", "multistage"} {
		b.Run(ex, func(b *testing.B) {
			df := filepath.Join(examples, ex, "Dockerfile")
			for b.Loop() {
				r, err := Build(b.Context(), DockerBuild{Dockerfile: df})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.Image.Digest(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLayerCache builds a context of 200 files of 64 KiB (12.5 MiB of
// compressible text) with the layer cache: "miss" with an empty cache each
// time (tar, gzip, store), "hit" with a warm one (tar and hash only).
func BenchmarkLayerCache(b *testing.B) {
	dir := b.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY data/ /data/\n"}
	for i := range 200 {
		line := make([]byte, 64<<10)
		for j := range line {
			line[j] = "abcdefghijklmnopqrstuvwxyz\n"[(i*7+j*13)%27]
		}
		files[filepath.Join("data", "f"+strconv.Itoa(i))] = string(line)
	}
	writeFiles(b, dir, files)
	df := filepath.Join(dir, "Dockerfile")
	build := func(cache string) *BuildResult {
		r, err := Build(b.Context(), DockerBuild{Dockerfile: df, CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Image.Digest(); err != nil {
			b.Fatal(err)
		}
		return r
	}
	b.Run("miss", func(b *testing.B) {
		for b.Loop() {
			cache := b.TempDir()
			if r := build(cache); r.CacheMisses != 1 {
				b.Fatalf("%d misses, want 1", r.CacheMisses)
			}
			b.StopTimer()
			os.RemoveAll(cache)
			b.StartTimer()
		}
	})
	b.Run("hit", func(b *testing.B) {
		cache := b.TempDir()
		build(cache)
		for b.Loop() {
			if r := build(cache); r.CacheHits != 1 {
				b.Fatalf("%d hits, want 1", r.CacheHits)
			}
		}
	})
}
