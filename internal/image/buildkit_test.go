package image

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"conveyor.dev/conveyor/internal/registry"
)

// buildkitBin builds (or finds in the cache) buildkitd and buildctl with
// tools/buildkit/build.sh and returns their folder.
func buildkitBin(t *testing.T) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", "../../tools/buildkit/build.sh")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools/buildkit/build.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// startBuildkitd runs buildkitd as root with the OCI worker (runc, native
// snapshotter, host network) in a temp root and returns its address; the
// registries in httpHosts are spoken to over plain HTTP.
func startBuildkitd(t *testing.T, bin string, httpHosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	var conf strings.Builder
	for _, h := range httpHosts {
		fmt.Fprintf(&conf, "[registry.%q]\n  http = true\n  insecure = true\n", h)
	}
	if err := os.WriteFile(filepath.Join(dir, "buildkitd.toml"), []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	logFile, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "buildkitd"),
		"--root", filepath.Join(dir, "root"), "--addr", addr, "--config", filepath.Join(dir, "buildkitd.toml"),
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=native", "--oci-worker-net=host")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start buildkitd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
	})
	logTail := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return tail(string(b), 30)
	}
	// Ready when buildctl lists the worker.
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if exec.CommandContext(t.Context(), filepath.Join(bin, "buildctl"), "--addr", addr, "debug", "workers").Run() == nil {
			return addr
		}
		select {
		case err := <-exited:
			t.Fatalf("buildkitd exited: %v\n%s", err, logTail())
		case <-deadline:
			t.Fatalf("buildkitd not ready after 90s\n%s", logTail())
		case <-tick.C:
		}
	}
}

// TestBuildKitRun builds the run example, whose RUN needs a shell, on a
// real buildkitd with runc. The base image is made here without a daemon:
// FROM scratch plus a static Go stand-in for /bin/sh (testdata/minish),
// pushed to the embedded registry, which buildkitd pulls from.
func TestBuildKitRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("buildkitd runs containers with runc as root; run this test as root (CI does)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatal("runc not found: apt-get install -y runc")
	}
	bin := buildkitBin(t)

	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	baseDir := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", filepath.Join(baseDir, "sh"), "./testdata/minish")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build minish: %v\n%s", err, out)
	}
	writeFiles(t, baseDir, map[string]string{"Dockerfile": "FROM scratch\nCOPY --chmod=0755 sh /bin/sh\n"})
	base, err := Build(t.Context(), DockerBuild{Dockerfile: filepath.Join(baseDir, "Dockerfile")})
	if err != nil {
		t.Fatal(err)
	}
	baseDigest, _, err := Push(t.Context(), base.Image, host+"/base:1")
	if err != nil {
		t.Fatal(err)
	}

	addr := startBuildkitd(t, bin, host)
	bk := &BuildKit{Address: addr, Buildctl: filepath.Join(bin, "buildctl"), WorkDir: t.TempDir()}
	runBuild := func() *BuildResult {
		t.Helper()
		var log bytes.Buffer
		r, err := Build(t.Context(), DockerBuild{
			Dockerfile:    filepath.Join(examples, "run", "Dockerfile"),
			BuildArgs:     map[string]string{"BASE": host + "/base:1"},
			Revision:      "abc123",
			BuildKit:      bk,
			BaseImageData: true,
			Log:           &log,
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := runBuild()
	if !r.BuildKit {
		t.Error("the build did not go to BuildKit")
	}
	if err := validate.Image(r.Image); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	cf, err := r.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/bin/sh"}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-want +got):\n%s", diff)
	}
	if got := cf.Config.Labels[RevisionKey]; got != "abc123" {
		t.Errorf("revision label %q, want abc123", got)
	}
	m, err := r.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Annotations[BaseNameKey] + " " + m.Annotations[BaseDigestKey]; got != host+"/base:1 "+baseDigest.String() {
		t.Errorf("base annotations %q, want %s/base:1 %s", got, host, baseDigest)
	}
	layers := allLayerEntries(t, r.Image)
	if len(layers) != 3 {
		t.Fatalf("%d layers, want base, COPY and RUN", len(layers))
	}
	var found bool
	for _, e := range layers[2] {
		if e.Name == "built.txt" && e.Content == "built-by-buildkit\n" {
			found = true
		}
	}
	if !found {
		t.Errorf("the RUN layer %v has no built.txt written by the RUN command", layers[2])
	}
	// The same inputs again give the same image.
	again := runBuild()
	if d1, d2 := mustDigest(t, r.Image), mustDigest(t, again.Image); d1 != d2 {
		t.Errorf("two BuildKit builds: digests %s and %s differ", d1, d2)
	}
	// The pushed result is a normal image.
	if _, _, err := Push(t.Context(), r.Image, host+"/run:1"); err != nil {
		t.Errorf("push the BuildKit result: %v", err)
	}
}
