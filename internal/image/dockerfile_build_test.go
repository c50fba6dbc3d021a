package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"conveyor.dev/conveyor/internal/registry"
)

// examples is the folder of sample Dockerfiles.
const examples = "../../examples/dockerfiles"

// copyDir copies the folder src to a new temp folder (modes kept) and returns it.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func buildExample(t testing.TB, dir string, mod func(*DockerBuild)) *BuildResult {
	t.Helper()
	b := DockerBuild{Dockerfile: filepath.Join(dir, "Dockerfile")}
	if mod != nil {
		mod(&b)
	}
	r, err := Build(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildExamplesReproducible(t *testing.T) {
	for _, ex := range []string{"static", "multistage"} {
		t.Run(ex, func(t *testing.T) {
			first := buildExample(t, filepath.Join(examples, ex), nil)
			if err := validate.Image(first.Image); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			// Another checkout of the same files, with a layer cache this time.
			second := buildExample(t, copyDir(t, filepath.Join(examples, ex)), func(b *DockerBuild) { b.CacheDir = t.TempDir() })
			d1, d2 := mustDigest(t, first.Image), mustDigest(t, second.Image)
			if d1 != d2 {
				t.Errorf("two builds of %s: digests %s and %s differ", ex, d1, d2)
			}
			later := buildExample(t, filepath.Join(examples, ex), func(b *DockerBuild) {
				b.SourceDateEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			})
			if d3 := mustDigest(t, later.Image); d3 == d1 {
				t.Errorf("SOURCE_DATE_EPOCH changed, digest stayed %s", d1)
			}
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			fromEnv := buildExample(t, filepath.Join(examples, ex), nil)
			if d4 := mustDigest(t, fromEnv.Image); d4 == d1 {
				t.Errorf("$SOURCE_DATE_EPOCH set, digest stayed %s", d1)
			}
		})
	}
}

// layerEntry summarises one tar entry.
type layerEntry struct {
	Name     string
	Mode     int64
	UID, GID int
	Link     string
	Content  string
}

func layerEntries(t testing.TB, l v1.Layer) []layerEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []layerEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, layerEntry{h.Name, h.Mode, h.Uid, h.Gid, h.Linkname, string(data)})
	}
}

func allLayerEntries(t testing.TB, img v1.Image) [][]layerEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]layerEntry
	for _, l := range layers {
		out = append(out, layerEntries(t, l))
	}
	return out
}

func TestBuildStaticExample(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	r := buildExample(t, filepath.Join(examples, "static"), func(b *DockerBuild) {
		b.SourceDateEpoch = epoch
		b.BuildArgs = map[string]string{"VERSION": "2.0.0", "UNUSED": "x"}
		b.Labels = map[string]string{"dev.conveyor.run": "42"}
		b.Revision = "abc123"
		b.Source = "https://git.example.com/site"
		b.Annotations = map[string]string{"dev.conveyor.run": "42"}
	})
	cf, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		Env:          []string{"APP_HOME=/srv/www", "APP_VERSION=2.0.0"},
		WorkingDir:   "/srv/www",
		User:         "65532:65532",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/udp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		StopSignal:   "SIGTERM",
		Shell:        []string{"/bin/ash", "-c"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/srv/www/health"}, Interval: 30 * time.Second,
			Timeout: 3 * time.Second, Retries: 3},
		Entrypoint: []string{"/bin/ash", "-c", "/srv/www/server"},
		Cmd:        []string{"--port", "8080"},
		Labels: map[string]string{
			"org.opencontainers.image.title": "static site", "org.opencontainers.image.version": "2.0.0",
			"dev.conveyor.run": "42", RevisionKey: "abc123", SourceKey: "https://git.example.com/site",
		},
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if !cf.Created.Equal(epoch) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("created %s %s/%s, want %s linux/amd64", cf.Created, cf.OS, cf.Architecture, epoch)
	}
	// One history entry per instruction after FROM except ARG; two of them made layers.
	var layered []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			layered = append(layered, h.CreatedBy)
		}
	}
	if diff := cmp.Diff([]string{"COPY site/ ./", "COPY motd.txt /etc/motd"}, layered); diff != "" {
		t.Errorf("layer history (-want +got):\n%s", diff)
	}
	if len(cf.History) != 13 {
		t.Errorf("%d history entries, want 13", len(cf.History))
	}
	m, err := r.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{CreatedKey: "2026-11-28T00:00:00Z", RevisionKey: "abc123",
		SourceKey: "https://git.example.com/site", "dev.conveyor.run": "42"}
	if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	wantLayers := [][]layerEntry{
		{
			{Name: "srv/", Mode: 0o755},
			{Name: "srv/www/", Mode: 0o755},
			{Name: "srv/www/health", Mode: 0o644, Content: "ok\n"},
			{Name: "srv/www/index.html", Mode: 0o644, Content: "<h1>hello from conveyor</h1>\n"},
			{Name: "srv/www/server", Mode: 0o755, Content: "#!/bin/false\n"},
		},
		{
			{Name: "etc/", Mode: 0o755},
			{Name: "etc/motd", Mode: 0o644, Content: "welcome\n"},
		},
	}
	if diff := cmp.Diff(wantLayers, allLayerEntries(t, r.Image)); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
}

func TestBuildMultistageExample(t *testing.T) {
	r := buildExample(t, filepath.Join(examples, "multistage"), func(b *DockerBuild) {
		b.BuildArgs = map[string]string{"GREETING": "hi"}
	})
	cf, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Env        []string
		WorkingDir string
		Entrypoint []string
		Layers     int
	}
	if diff := cmp.Diff(summary{[]string{"GREETING=hi"}, "/srv/www", []string{"/srv/www/server"}, 3},
		summary{cf.Config.Env, cf.Config.WorkingDir, cf.Config.Entrypoint, len(cf.RootFS.DiffIDs)}); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// The final stage starts from scratch: the assets stage's layers are not in it,
	// the unused stage is not built, .dockerignore kept notes.tmp out
	// and let keep.tmp in.
	wantLayers := [][]layerEntry{
		{
			{Name: "srv/", Mode: 0o755},
			{Name: "srv/www/", Mode: 0o640, UID: 1000, GID: 1000},
			{Name: "srv/www/app.conf", Mode: 0o640, UID: 1000, GID: 1000, Content: "port=8080\n"},
			{Name: "srv/www/css/", Mode: 0o640, UID: 1000, GID: 1000},
			{Name: "srv/www/css/main.css", Mode: 0o640, UID: 1000, GID: 1000, Content: "body{}\n"},
			{Name: "srv/www/index.html", Mode: 0o640, UID: 1000, GID: 1000, Content: "<p>multi</p>\n"},
			{Name: "srv/www/keep.tmp", Mode: 0o640, UID: 1000, GID: 1000, Content: "keep me\n"},
		},
		{
			{Name: "etc/", Mode: 0o755},
			{Name: "etc/app/", Mode: 0o755},
			{Name: "etc/app/app.conf", Mode: 0o644, Content: "port=8080\n"},
		},
		{
			{Name: "etc/", Mode: 0o755},
			{Name: "etc/app/", Mode: 0o755},
			{Name: "etc/app/app.default.conf", Mode: 0o644, GID: 1000, Content: "port=8080\n"},
		},
	}
	if diff := cmp.Diff(wantLayers, allLayerEntries(t, r.Image)); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}

	// --target builds an earlier stage, which copies the config to /debug.
	unused := buildExample(t, filepath.Join(examples, "multistage"), func(b *DockerBuild) { b.Target = "unused" })
	layers := allLayerEntries(t, unused.Image)
	if n := len(layers); n != 3 || len(layers[2]) == 0 || layers[2][len(layers[2])-1].Name != "debug/app.conf" {
		t.Errorf("target unused: layers %v, want 3 ending with debug/app.conf", layers)
	}
}

func TestBuildRunWithoutBuildKit(t *testing.T) {
	df := filepath.Join(examples, "run", "Dockerfile")
	_, err := Build(t.Context(), DockerBuild{Dockerfile: df})
	if !errors.Is(err, ErrRunNeedsBuildKit) {
		t.Fatalf("error %v, want ErrRunNeedsBuildKit", err)
	}
	for _, want := range []string{df + ":5: RUN needs a BuildKit daemon", "buildKit.address in conveyor.yaml", "remove the RUN instruction", "goPackage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// A RUN in a stage the target does not need does not matter.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM scratch AS tools\nRUN make\n\nFROM scratch\nCOPY a /a\n",
		"a":          "x",
	})
	if _, err := Build(t.Context(), DockerBuild{Dockerfile: filepath.Join(dir, "Dockerfile")}); err != nil {
		t.Errorf("unneeded RUN stage: %v", err)
	}
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"pkg/", "pkg/bin/tool", "pkg/README"} {
		body, ok := files[name]
		if !ok {
			continue
		}
		h := &tar.Header{Name: name, Mode: 0o755, Uid: 7, Gid: 7, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestBuildAddArchiveAndErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nADD tool.tar.gz /opt/\nADD plain.txt /opt/plain.txt\n",
		"plain.txt":  "plain",
	})
	if err := os.WriteFile(filepath.Join(dir, "tool.tar.gz"),
		tarGz(t, map[string]string{"pkg/": "", "pkg/bin/tool": "#!tool", "pkg/README": "read me"}), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Build(t.Context(), DockerBuild{Dockerfile: filepath.Join(dir, "Dockerfile")})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]layerEntry{
		{
			{Name: "opt/", Mode: 0o755},
			{Name: "opt/pkg/", Mode: 0o755, UID: 7, GID: 7},
			{Name: "opt/pkg/README", Mode: 0o755, UID: 7, GID: 7, Content: "read me"},
			{Name: "opt/pkg/bin/", Mode: 0o755},
			{Name: "opt/pkg/bin/tool", Mode: 0o755, UID: 7, GID: 7, Content: "#!tool"},
		},
		{
			{Name: "opt/", Mode: 0o755},
			{Name: "opt/plain.txt", Mode: 0o644, Content: "plain"},
		},
	}
	if diff := cmp.Diff(want, allLayerEntries(t, r.Image)); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ name, dockerfile, want string }{
		{"url", "FROM scratch\nADD https://example.com/x.tgz /x\n", "Dockerfile:2: ADD: ADD of a URL (https://example.com/x.tgz) is not supported"},
		{"missing source", "FROM scratch\nCOPY nope /nope\n", "Dockerfile:2: COPY: nope not found in the build context"},
		{"ignored source", "FROM scratch\nCOPY secret.txt /s\n", "Dockerfile:2: COPY: secret.txt is excluded by .dockerignore"},
		{"several to a file", "FROM scratch\nCOPY a b /dst\n", "Dockerfile:2: COPY: with several sources or a wildcard the destination must be a directory"},
		{"platform", "FROM --platform=linux/arm64 scratch\n", "Dockerfile:1: FROM: --platform=linux/arm64: only linux/amd64 is built"},
		{"before from", "ENV A=1\nFROM scratch\n", "Dockerfile:1: ENV: comes before the first FROM"},
		{"chown name without passwd", "FROM scratch\nCOPY a /a\nCOPY --chown=app a /b\n", "Dockerfile:3: COPY: --chown=app: user app is not in the image's /etc/passwd"},
		{"bad chmod", "FROM scratch\nCOPY --chmod=rwx a /a\n", "Dockerfile:2: COPY: --chmod=rwx is not an octal mode"},
		{"unknown flag", "FROM scratch\nCOPY --exclude=x a /a\n", "Dockerfile:2: COPY: flag --exclude is not supported"},
		{"heredoc", "FROM scratch\nCOPY <<EOF /a\n", "Dockerfile:2: COPY: heredocs are not supported"},
		{"bad port", "FROM scratch\nEXPOSE http\n", "Dockerfile:2: EXPOSE: \"http\" is not a port"},
		{"target", "FROM scratch AS a\n", "Dockerfile: target stage \"b\" not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"Dockerfile": tc.dockerfile, "a": "a", "b": "b", "secret.txt": "s", ".dockerignore": "secret.txt\n"})
			b := DockerBuild{Dockerfile: filepath.Join(dir, "Dockerfile")}
			if tc.name == "target" {
				b.Target = "b"
			}
			_, err := Build(t.Context(), b)
			want := dir + "/" + tc.want
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %v, want one starting %q", err, want)
			}
		})
	}
}

func TestBuildChownByName(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY passwd /etc/passwd\nCOPY group /etc/group\nCOPY --chown=app:staff a /a\nCOPY --chown=app a /b\n",
		"passwd":     "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n",
		"group":      "root:x:0:\nstaff:x:50:\n",
		"a":          "a",
	})
	r, err := Build(t.Context(), DockerBuild{Dockerfile: filepath.Join(dir, "Dockerfile")})
	if err != nil {
		t.Fatal(err)
	}
	layers := allLayerEntries(t, r.Image)
	got := [][2]int{{layers[2][0].UID, layers[2][0].GID}, {layers[3][0].UID, layers[3][0].GID}}
	if diff := cmp.Diff([][2]int{{1001, 50}, {1001, 1002}}, got); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
}

func TestLayerCache(t *testing.T) {
	dir := copyDir(t, filepath.Join(examples, "static"))
	cache := t.TempDir()
	first := buildExample(t, dir, func(b *DockerBuild) { b.CacheDir = cache })
	if first.CacheHits != 0 || first.CacheMisses != 2 {
		t.Errorf("first build: %d hits, %d misses, want 0 and 2", first.CacheHits, first.CacheMisses)
	}
	second := buildExample(t, dir, func(b *DockerBuild) { b.CacheDir = cache })
	if second.CacheHits != 2 || second.CacheMisses != 0 {
		t.Errorf("second build: %d hits, %d misses, want 2 and 0", second.CacheHits, second.CacheMisses)
	}
	// Another checkout of the same files: new paths and mtimes, same content.
	other := buildExample(t, copyDir(t, dir), func(b *DockerBuild) { b.CacheDir = cache })
	if other.CacheHits != 2 || mustDigest(t, other.Image) != mustDigest(t, first.Image) {
		t.Errorf("another checkout: %d hits, digest %s, want 2 hits and %s", other.CacheHits, mustDigest(t, other.Image), mustDigest(t, first.Image))
	}
	// Same size, new content.
	if err := os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := buildExample(t, dir, func(b *DockerBuild) { b.CacheDir = cache })
	if third.CacheHits != 1 || third.CacheMisses != 1 {
		t.Errorf("after a change: %d hits, %d misses, want 1 and 1", third.CacheHits, third.CacheMisses)
	}
	if mustDigest(t, third.Image) == mustDigest(t, first.Image) {
		t.Error("changed file, same digest")
	}
	if err := validate.Image(second.Image); err != nil {
		t.Errorf("validate.Image of a cached build: %v", err)
	}
}

func TestBuildFromRegistry(t *testing.T) {
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	// A base with accounts, an environment, a shell and a command.
	baseDir := t.TempDir()
	writeFiles(t, baseDir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY passwd group /etc/\nCOPY tool /usr/bin/tool\nENV PATH=/usr/bin LANG=C\nSHELL [\"/bin/ash\", \"-c\"]\nCMD [\"tool\"]\n",
		"passwd":     "root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n",
		"group":      "root:x:0:\napp:x:1001:\n",
		"tool":       "#!tool\n",
	})
	base := buildExample(t, baseDir, nil)
	baseDigest, _, err := Push(t.Context(), base.Image, host+"/base:1")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "ARG REG\nFROM ${REG}/base:1\nARG REG\nENV LANG=C.UTF-8\nCOPY --chown=app:app app.txt /home/app/\n" +
			"COPY --from=${REG}/base:1 /usr/bin/tool /opt/tool\nENTRYPOINT [\"tool\"]\n",
		"app.txt": "app",
	})
	r := buildExample(t, dir, func(b *DockerBuild) {
		b.BuildArgs = map[string]string{"REG": host}
		b.BaseImageData = true
	})
	if err := validate.Image(r.Image); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	if r.BaseName != host+"/base:1" || r.BaseDigest != baseDigest.String() {
		t.Errorf("base %s %s, want %s/base:1 %s", r.BaseName, r.BaseDigest, host, baseDigest)
	}
	cf, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Env, Shell, Entrypoint, Cmd []string
		Layers                      int
	}
	// ENTRYPOINT resets the base's CMD; the base's two layers come first.
	want := summary{[]string{"PATH=/usr/bin", "LANG=C.UTF-8"}, []string{"/bin/ash", "-c"}, []string{"tool"}, nil, 4}
	if diff := cmp.Diff(want, summary{cf.Config.Env, cf.Config.Shell, cf.Config.Entrypoint, cf.Config.Cmd, len(cf.RootFS.DiffIDs)}); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	layers := allLayerEntries(t, r.Image)
	wantLayers := [][]layerEntry{
		{{Name: "home/", Mode: 0o755}, {Name: "home/app/", Mode: 0o755}, {Name: "home/app/app.txt", Mode: 0o644, UID: 1001, GID: 1001, Content: "app"}},
		{{Name: "opt/", Mode: 0o755}, {Name: "opt/tool", Mode: 0o644, Content: "#!tool\n"}},
	}
	if diff := cmp.Diff(wantLayers, layers[2:]); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	m, err := r.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations[BaseNameKey] != host+"/base:1" || m.Annotations[BaseDigestKey] != baseDigest.String() {
		t.Errorf("base annotations %v", m.Annotations)
	}
}
