package gitops

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/supplychain"
)

// writeDir lays out files under a new temporary folder.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPushIsAFluxArtifactWithStableDigest: the manifest has Flux's media
// types, and pushing the same folder again gives the same digest.
func TestPushIsAFluxArtifactWithStableDigest(t *testing.T) {
	host := startRegistry(t)
	dir := writeDir(t, map[string]string{"app/cm.yaml": extraConfigMap, ".git/config": "ignored", "app/README": "x"})
	p1, err := Push(t.Context(), dir, "oci://"+host+"/manifests/app:v1", PushOptions{Insecure: true, Source: "https://git.example/app", Revision: "main@sha1:abc"})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Files != 2 || p1.Tag != "v1" || !strings.HasPrefix(p1.Ref, host+"/manifests/app@sha256:") {
		t.Errorf("pushed %+v, want 2 files (no .git) under tag v1", p1)
	}
	p2, err := Push(t.Context(), dir, host+"/manifests/app:v2", PushOptions{Insecure: true, Source: "https://git.example/app", Revision: "main@sha1:abc"})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Digest != p1.Digest {
		t.Errorf("same folder pushed twice: digests %s and %s", p1.Digest, p2.Digest)
	}
	ref, _ := name.ParseReference(p1.Ref, name.Insecure)
	m, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	body := string(m.Manifest)
	for _, want := range []string{ArtifactConfigMediaType, ArtifactContentMediaType, `"org.opencontainers.image.revision":"main@sha1:abc"`, "application/vnd.oci.image.manifest.v1+json"} {
		if !strings.Contains(body, want) {
			t.Errorf("manifest lacks %s:\n%s", want, body)
		}
	}
	if _, err := Push(t.Context(), t.TempDir(), host+"/manifests/app:v3", PushOptions{Insecure: true}); err == nil || !strings.Contains(err.Error(), "no files to push") {
		t.Errorf("push of an empty folder: %v", err)
	}
}

// TestOCISourceByDigestAndSignature: an artifact pushed to the embedded
// registry is reconciled by digest and by tag; with verify set, the
// unsigned artifact is refused before anything is applied, and applied
// once signed with the key.
func TestOCISourceByDigestAndSignature(t *testing.T) {
	env.DumpLogsOnFailure(t)
	host := startRegistry(t)
	dir := writeDir(t, map[string]string{"deploy/app.yaml": webApp("registry.example/web:7", 1), "other/x.yaml": "not: applied\n"})
	pushed, err := Push(t.Context(), dir, "oci://"+host+"/manifests/webapp:v1", PushOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}

	ns := namespace(t)
	byDigest := &OCISource{URL: "oci://" + host + "/manifests/webapp", Ref: pushed.Digest, Path: "deploy", Insecure: true}
	r := newReconciler(t, Spec{Name: "oci-digest", Namespace: ns, Prune: true, Wait: true, Timeout: time.Minute}, byDigest)
	res := reconcile(t, r)
	if res.Revision != pushed.Digest || actions(res)["Deployment/web"] != "created" || len(res.Applied.Entries) != 2 {
		t.Errorf("by digest: revision %s, %v; want %s and the 2 objects of deploy/", res.Revision, actions(res), pushed.Digest)
	}
	if img := getDeployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image; img != "registry.example/web:7" {
		t.Errorf("image %s", img)
	}
	byTag := &OCISource{URL: "oci://" + host + "/manifests/webapp", Ref: "v1", Path: "deploy", Insecure: true}
	rev, err := byTag.Fetch(t.Context(), t.TempDir())
	if err != nil || rev != "v1@"+pushed.Digest {
		t.Errorf("by tag: revision %q, %v; want v1@%s", rev, err, pushed.Digest)
	}
	missing := &OCISource{URL: "oci://" + host + "/manifests/webapp", Ref: "v1", Path: "nope", Insecure: true}
	if _, err := missing.Fetch(t.Context(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "path nope holds no files") {
		t.Errorf("missing path: %v", err)
	}

	privPEM, pubPEM, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := supplychain.DecryptPrivateKey(privPEM, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := supplychain.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	ns2 := namespace(t)
	verified := &OCISource{URL: "oci://" + host + "/manifests/webapp", Ref: "v1", Path: "deploy", Insecure: true, Verify: pub}
	rv := newReconciler(t, Spec{Name: "oci-signed", Namespace: ns2, Wait: true, Timeout: time.Minute}, verified)
	res, err = rv.Reconcile(t.Context())
	if err == nil || !errors.Is(err, supplychain.ErrNoValidSignature) || res.Phase != PhaseFetch {
		t.Fatalf("unsigned artifact with verify: phase %q error %v, want a fetch error wrapping ErrNoValidSignature", res.Phase, err)
	}
	if !strings.Contains(err.Error(), "not signed") {
		t.Errorf("error %q does not say the artifact is not signed", err)
	}
	if _, err := env.Client().AppsV1().Deployments(ns2).Get(t.Context(), "web", metav1.GetOptions{}); err == nil {
		t.Error("the unsigned artifact's Deployment was applied")
	}
	if _, err := supplychain.Sign(t.Context(), pushed.Ref, signer, supplychain.SignOptions{Options: supplychain.Options{Insecure: true}}); err != nil {
		t.Fatal(err)
	}
	res = reconcile(t, rv)
	if actions(res)["Deployment/web"] != "created" {
		t.Errorf("signed artifact: %v, want the Deployment created", actions(res))
	}

	// A key that did not sign it is refused too.
	_, otherPEM, _ := supplychain.GenerateKeyPair([]byte("x"))
	other, _ := supplychain.ParsePublicKey(otherPEM)
	wrong := &OCISource{URL: "oci://" + host + "/manifests/webapp", Ref: pushed.Digest, Insecure: true, Verify: other}
	if _, err := wrong.Fetch(t.Context(), t.TempDir()); !errors.Is(err, supplychain.ErrNoValidSignature) {
		t.Errorf("other key: %v, want ErrNoValidSignature", err)
	}
}

// TestOCISourceWithCredentials: a registry that requires a password is
// read, and the signature verified, with the source's credentials only.
func TestOCISourceWithCredentials(t *testing.T) {
	reg, err := registry.New(t.TempDir(), registry.WithBasicAuth("ci", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	auth := authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "s3cret"})
	dir := writeDir(t, map[string]string{"cm.yaml": extraConfigMap})
	if _, err := Push(t.Context(), dir, host+"/m/app:v1", PushOptions{Insecure: true}); err == nil {
		t.Fatal("push without credentials succeeded")
	}
	pushed, err := Push(t.Context(), dir, host+"/m/app:v1", PushOptions{Insecure: true, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	privPEM, pubPEM, _ := supplychain.GenerateKeyPair(nil)
	signer, err := supplychain.DecryptPrivateKey(privPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := supplychain.ParsePublicKey(pubPEM)
	creds := supplychain.Options{Insecure: true, Remote: []remote.Option{remote.WithAuthFromKeychain(staticKeychain{auth})}}
	if _, err := supplychain.Sign(t.Context(), pushed.Ref, signer, supplychain.SignOptions{Options: creds}); err != nil {
		t.Fatal(err)
	}
	src := &OCISource{URL: "oci://" + host + "/m/app", Ref: "v1", Insecure: true, Auth: auth, Verify: pub}
	dest := t.TempDir()
	if rev, err := src.Fetch(t.Context(), dest); err != nil || rev != "v1@"+pushed.Digest {
		t.Fatalf("fetch with credentials: %q, %v", rev, err)
	}
	if got := readDir(t, dest); got["cm.yaml"] != extraConfigMap {
		t.Errorf("fetched files %v", got)
	}
	src.Auth = nil
	if _, err := src.Fetch(t.Context(), t.TempDir()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("fetch without credentials: %v, want refused without the password in the message", err)
	}
}
