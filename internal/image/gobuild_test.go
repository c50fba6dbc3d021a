package image

import (
	"archive/tar"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"conveyor.dev/conveyor/internal/registry"
)

const helloMain = `package main

import (
	"fmt"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "GREETING") })
	_ = http.ListenAndServe(":8080", nil)
}
`

// writeApp writes a dependency-free Go HTTP program under dir/cmd/hello and
// returns dir.
func writeApp(t testing.TB, greeting string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":            "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": strings.Replace(helloMain, "GREETING", greeting, 1),
	}
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildGoReproducible(t *testing.T) {
	dir := writeApp(t, "hello")
	b := GoBuild{Dir: dir, Main: "./cmd/hello"}
	first, err := BuildGo(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	// The same sources from another directory still give the same image.
	b.Dir = writeApp(t, "hello")
	second, err := BuildGo(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := mustDigest(t, first), mustDigest(t, second); d1 != d2 {
		t.Errorf("two builds of the same sources: digests %s and %s differ", d1, d2)
	}
	if err := validate.Image(first); err != nil {
		t.Errorf("validate.Image: %v", err)
	}

	b.Dir = writeApp(t, "goodbye")
	changed, err := BuildGo(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, changed) == mustDigest(t, first) {
		t.Errorf("changing the source left the digest at %s", mustDigest(t, first))
	}
}

func TestBuildGoConfigAndLayer(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	img, err := BuildGo(t.Context(), GoBuild{
		Dir:             writeApp(t, "hello"),
		Main:            "./cmd/hello",
		Env:             []string{"MODE=prod"},
		Labels:          map[string]string{"team": "ci"},
		Annotations:     map[string]string{"note": "x"},
		Revision:        "abc123",
		Source:          "https://git.example.com/hello",
		SourceDateEpoch: epoch,
		Ldflags:         "-s -w",
	})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Entrypoint, Env []string
		Created         time.Time
		Labels          map[string]string
		OS, Arch        string
	}
	want := summary{
		Entrypoint: []string{"/ko-app/hello"},
		Env:        []string{"MODE=prod", defaultPath},
		Created:    epoch,
		Labels:     map[string]string{"team": "ci", RevisionKey: "abc123", SourceKey: "https://git.example.com/hello"},
		OS:         "linux", Arch: "amd64",
	}
	got := summary{cf.Config.Entrypoint, cf.Config.Env, cf.Created.UTC(), cf.Config.Labels, cf.OS, cf.Architecture}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{"note": "x", RevisionKey: "abc123", SourceKey: "https://git.example.com/hello"}
	if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
		t.Errorf("manifest annotations (-want +got):\n%s", diff)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers on a scratch base, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type entry struct {
		Name     string
		Mode     int64
		UID, GID int
		ModTime  time.Time
		ELF      bool
	}
	var entries []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 4)
		_, _ = io.ReadFull(tr, head)
		entries = append(entries, entry{h.Name, h.Mode, h.Uid, h.Gid, h.ModTime.UTC(), string(head) == "\x7fELF"})
	}
	wantEntries := []entry{
		{Name: "ko-app/", Mode: 0o755, ModTime: epoch},
		{Name: "ko-app/hello", Mode: 0o755, ModTime: epoch, ELF: true},
	}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	opt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opt  time.Time
		env  string
		want time.Time
	}{
		{"option wins", opt, "99", opt},
		{"environment", time.Time{}, "1700000000", time.Unix(1700000000, 0).UTC()},
		{"default is the Unix epoch", time.Time{}, "", time.Unix(0, 0).UTC()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sourceDateEpoch(tc.opt, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := sourceDateEpoch(time.Time{}, "yesterday"); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: got error %v, want one naming SOURCE_DATE_EPOCH", err)
	}
}

func TestSourceDateEpochFromEnvironment(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	img, err := BuildGo(t.Context(), GoBuild{Dir: writeApp(t, "hello"), Main: "./cmd/hello"})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1700000000, 0).UTC(); !cf.Created.Equal(want) {
		t.Errorf("created = %s, want %s from SOURCE_DATE_EPOCH", cf.Created, want)
	}
}

func TestBuildGoCompileError(t *testing.T) {
	dir := writeApp(t, "hello")
	if err := os.WriteFile(filepath.Join(dir, "cmd/hello/broken.go"), []byte("package main\nfunc broken() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := BuildGo(t.Context(), GoBuild{Dir: dir, Main: "./cmd/hello"})
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("got error %v, want the compiler's message", err)
	}
}

func TestPushAndPull(t *testing.T) {
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := BuildGo(t.Context(), GoBuild{Dir: writeApp(t, "hello"), Main: "./cmd/hello"})
	if err != nil {
		t.Fatal(err)
	}
	digest, ref, err := Push(t.Context(), img, host+"/team/hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDigest(t, img); digest != want {
		t.Errorf("pushed digest %s, want %s", digest, want)
	}
	if want := host + "/team/hello@" + digest.String(); ref != want {
		t.Errorf("reference %q, want %q", ref, want)
	}
	parsed, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(parsed, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(pulled); err != nil {
		t.Errorf("validate.Image of the pulled image: %v", err)
	}
	if got := mustDigest(t, pulled); got != digest {
		t.Errorf("pulled digest %s, want %s", got, digest)
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:8080": true, "[::1]:5000": true, "localhost": true,
		"registry.example.com": false, "10.0.0.1:5000": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// BenchmarkBuildGoOverGoBuild measures what BuildGo adds to a plain
// "go build" of the same program (both with a warm build cache). Each plain
// build writes to a fresh path, as BuildGo does: otherwise go build finds the
// binary up to date and skips linking, which BuildGo cannot.
func BenchmarkBuildGoOverGoBuild(b *testing.B) {
	dir := writeApp(b, "hello")
	tmp := b.TempDir()
	var plain, full time.Duration
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(tmp, strconv.Itoa(i), "hello")
		start := time.Now()
		cmd := exec.CommandContext(b.Context(), "go", "build", "-trimpath", "-buildvcs=false", "-o", out, "./cmd/hello")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, msg)
		}
		plain += time.Since(start)

		start = time.Now()
		img, err := BuildGo(b.Context(), GoBuild{Dir: dir, Main: "./cmd/hello"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.Digest(); err != nil {
			b.Fatal(err)
		}
		full += time.Since(start)
	}
	b.ReportMetric(float64((full-plain).Milliseconds())/float64(b.N), "overhead-ms")
	b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "gobuild-ms")
}

func TestBuildGoOnBase(t *testing.T) {
	base, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/bin", "LANG=C"}
	cf.Config.Cmd = []string{"sh"}
	if base, err = mutate.ConfigFile(base, cf); err != nil {
		t.Fatal(err)
	}
	img, err := BuildGo(t.Context(), GoBuild{
		Dir: writeApp(t, "hello"), Main: "./cmd/hello", Base: base,
		Env: []string{"LANG=C.UTF-8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 3 {
		t.Errorf("got %d layers, want the base's 2 plus 1", len(layers))
	}
	mt, err := layers[2].MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.DockerLayer {
		t.Errorf("layer media type %s on a Docker base, want %s", mt, types.DockerLayer)
	}
	got, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PATH=/bin", "LANG=C.UTF-8"}, got.Config.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if got.Config.Cmd != nil {
		t.Errorf("cmd = %q, want none (the entrypoint is the binary)", got.Config.Cmd)
	}
}
