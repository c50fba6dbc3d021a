package registry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// debianBinary finds a binary that a Debian package installs, or fails the
// test naming the package.
func debianBinary(t testing.TB, bin, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (.ci/install-packages does)", bin, pkg)
	}
	return path
}

// startDistribution starts the Debian docker-registry (distribution 2.8) on
// a loopback port with its storage in a temp folder and returns its host:port.
func startDistribution(t testing.TB) string {
	t.Helper()
	bin := debianBinary(t, "docker-registry", "docker-registry")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	// Die with the test binary even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// distribution logs "listening on <addr>" once it accepts connections.
	sc := bufio.NewScanner(stderr)
	var logged []string
	for sc.Scan() {
		logged = append(logged, sc.Text())
		if strings.Contains(sc.Text(), "listening on") {
			go func() {
				for sc.Scan() {
				}
			}()
			return addr
		}
	}
	t.Fatalf("docker-registry exited before listening:\n%s", strings.Join(logged, "\n"))
	return ""
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestSkopeoCopiesFromOurRegistry(t *testing.T) {
	skopeo := debianBinary(t, "skopeo", "skopeo")
	r := startRegistry(t, "")
	img, _ := random.Image(4096, 3)
	if err := remote.Write(r.ref(t, "app/web:v1"), img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	out := filepath.Join(t.TempDir(), "image")
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), skopeo, append([]string{"--insecure-policy"}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return b
	}
	run("copy", "--src-tls-verify=false", "docker://"+r.host+"/app/web:v1", "dir:"+out)
	manifest, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Digest(string(manifest)); got != want.String() {
		t.Errorf("skopeo copied manifest %s, want %s", got, want)
	}
	m, _ := img.Manifest()
	for _, l := range m.Layers {
		if _, err := os.Stat(filepath.Join(out, l.Digest.Hex)); err != nil {
			t.Errorf("layer %s not copied: %v", l.Digest, err)
		}
	}

	var inspected struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(run("inspect", "--tls-verify=false", "docker://"+r.host+"/app/web:v1"), &inspected); err != nil {
		t.Fatal(err)
	}
	if inspected.Digest != want.String() || len(inspected.Layers) != 3 {
		t.Errorf("skopeo inspect: digest %s with %d layers, want %s with 3", inspected.Digest, len(inspected.Layers), want)
	}
	tags := run("list-tags", "--tls-verify=false", "docker://"+r.host+"/app/web")
	if !strings.Contains(string(tags), `"v1"`) {
		t.Errorf("skopeo list-tags: %s", tags)
	}
}

// TestPromoteThroughDistribution promotes an image with a signature referrer
// and a cosign tag-scheme signature from our registry to distribution 2.8
// (no referrers API: the referrer lands in the fallback tag index) and on to
// our prod registry, where the referrers API lists it again.
func TestPromoteThroughDistribution(t *testing.T) {
	dist := startDistribution(t)
	nonprod := startRegistry(t, "")
	prod := startRegistry(t, "", WithName("prod"), WithImmutableTags(true))

	img, _ := random.Image(8192, 2)
	if err := remote.Write(nonprod.ref(t, "app:3.1.0"), img); err != nil {
		t.Fatal(err)
	}
	subject := descriptorOf(t, img)
	sig := pushArtifact(t, nonprod.repo(t, "app"), cosignSigType, "referrer signature", &subject, "")
	tagSig := pushArtifact(t, nonprod.repo(t, "app"), "", "tag signature", nil, "sha256-"+subject.Digest.Hex+".sig")

	if _, err := Promote(t.Context(), nonprod.host+"/app:3.1.0", dist+"/mirror/app", WithRequireSignature(true)); err != nil {
		t.Fatalf("promote to distribution: %v", err)
	}
	// distribution 2.8 has no referrers API: the client keeps the referrers
	// in the fallback tag index sha256-<hex>.
	fallback, err := remote.Index(mustRef(t, dist+"/mirror/app:sha256-"+subject.Digest.Hex))
	if err != nil {
		t.Fatalf("referrers fallback tag at distribution: %v", err)
	}
	if fm, _ := fallback.IndexManifest(); len(fm.Manifests) != 1 || fm.Manifests[0].Digest != sig.Digest {
		t.Errorf("fallback index at distribution: %+v, want the signature %s", fm.Manifests, sig.Digest)
	}
	p, err := Promote(t.Context(), dist+"/mirror/app:3.1.0", prod.host+"/app", WithRequireSignature(true))
	if err != nil {
		t.Fatalf("promote from distribution: %v", err)
	}
	if p.Digest != subject.Digest.String() {
		t.Errorf("digest %s, want %s", p.Digest, subject.Digest)
	}
	got, err := remote.Image(prod.ref(t, "app:3.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Error(err)
	}
	refs, err := remote.Referrers(prod.repo(t, "app").Digest(subject.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := refs.IndexManifest()
	var gotRefs []string
	for _, m := range im.Manifests {
		gotRefs = append(gotRefs, m.Digest.String())
	}
	if diff := cmp.Diff([]string{sig.Digest.String()}, gotRefs); diff != "" {
		t.Errorf("prod referrers after the round trip (-want +got):\n%s", diff)
	}
	h, err := remote.Head(prod.repo(t, "app").Tag("sha256-" + subject.Digest.Hex + ".sig"))
	if err != nil || h.Digest != tagSig.Digest {
		t.Errorf("cosign tag at prod: %v %v, want %s", h, err, tagSig.Digest)
	}
}
