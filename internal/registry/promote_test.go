package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// blobBytes is the size of an image's config and layers.
func blobBytes(t *testing.T, img v1.Image) (int64, int) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	total := m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, len(m.Layers) + 1
}

func TestPromoteBetweenRegistries(t *testing.T) {
	nonprod := startRegistry(t, "", WithName("nonprod"))
	prod := startRegistry(t, "", WithName("prod"), WithImmutableTags(true))
	img, err := random.Image(64<<10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nonprod.ref(t, "app:1.0.0"), img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	size, n := blobBytes(t, img)
	rt := newCountingTransport()

	p, err := Promote(t.Context(), nonprod.host+"/app:1.0.0", prod.host+"/app", WithTransport(rt))
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != want.String() {
		t.Errorf("promoted digest %s, want %s", p.Digest, want)
	}
	if diff := cmp.Diff([]string{"1.0.0"}, p.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if got := rt.uploadBytes.Load(); got != size {
		t.Errorf("first promotion sent %d blob bytes, want each blob once: %d", got, size)
	}
	got, err := remote.Image(prod.ref(t, "app:1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("promoted image: %v", err)
	}

	rt.reset()
	if _, err := Promote(t.Context(), nonprod.host+"/app:1.0.0", prod.host+"/app", WithTransport(rt)); err != nil {
		t.Fatal(err)
	}
	if got := rt.uploadBytes.Load(); got != 0 {
		t.Errorf("second promotion sent %d blob bytes, want 0", got)
	}
	if got, limit := rt.requests.Load(), int64(2*n+3); got > limit {
		t.Errorf("second promotion made %d requests, want ≤ 2N+3 = %d:\n%s", got, limit, rt.requestLog())
	}
	t.Logf("second promotion: %d requests for %d blobs:\n%s", rt.requests.Load(), n, rt.requestLog())
}

func TestPromoteWithReferrers(t *testing.T) {
	nonprod := startRegistry(t, "")
	prod := startRegistry(t, "", WithName("prod"), WithImmutableTags(true))
	idx, err := random.Index(1024, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(nonprod.ref(t, "app:2.0.0"), idx); err != nil {
		t.Fatal(err)
	}
	subject := descriptorOf(t, idx)
	im, _ := idx.IndexManifest()
	child := im.Manifests[0]
	repo := nonprod.repo(t, "app")
	sig := pushArtifact(t, repo, cosignSigType, "referrer signature", &subject, "")
	sbom := pushArtifact(t, repo, sbomType, "child sbom", &child, "")
	// A signature of the SBOM, and a cosign tag-scheme signature.
	sbomSig := pushArtifact(t, repo, cosignSigType, "sbom signature", &sbom, "")
	tagSig := pushArtifact(t, repo, "", "tag-scheme signature", nil, "sha256-"+subject.Digest.Hex+".sig")

	p, err := Promote(t.Context(), nonprod.host+"/app:2.0.0", prod.host+"/team/app", WithRequireSignature(true), WithTags("stable"))
	if err != nil {
		t.Fatal(err)
	}
	var gotReferrers []string
	for _, a := range p.Referrers {
		gotReferrers = append(gotReferrers, a.Digest)
	}
	wantReferrers := []string{sig.Digest.String(), sbom.Digest.String(), sbomSig.Digest.String(), tagSig.Digest.String()}
	sortStrings(wantReferrers)
	if diff := cmp.Diff(wantReferrers, gotReferrers); diff != "" {
		t.Errorf("promoted referrers (-want +got):\n%s", diff)
	}
	dst := prod.repo(t, "team/app")
	for _, tc := range []struct {
		subject v1.Hash
		want    []string
	}{
		{subject.Digest, []string{sig.Digest.String()}},
		{child.Digest, []string{sbom.Digest.String()}},
		{sbom.Digest, []string{sbomSig.Digest.String()}},
	} {
		refs, err := remote.Referrers(dst.Digest(tc.subject.String()))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := refs.IndexManifest()
		var got []string
		for _, d := range m.Manifests {
			got = append(got, d.Digest.String())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("target referrers of %s (-want +got):\n%s", tc.subject, diff)
		}
	}
	h, err := remote.Head(dst.Tag("sha256-" + subject.Digest.Hex + ".sig"))
	if err != nil || h.Digest != tagSig.Digest {
		t.Errorf("cosign tag at target: %v %v, want %s", h, err, tagSig.Digest)
	}
	for _, tag := range []string{"stable"} {
		h, err := remote.Head(dst.Tag(tag))
		if err != nil || h.Digest != subject.Digest {
			t.Errorf("tag %s at target: %v %v, want %s", tag, h, err, subject.Digest)
		}
	}
	gotIdx, err := remote.Index(dst.Tag("stable"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Errorf("promoted index: %v", err)
	}
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestPromoteRefusals(t *testing.T) {
	nonprod := startRegistry(t, "")
	prod := startRegistry(t, "", WithName("prod"), WithImmutableTags(true))
	a, _ := random.Image(128, 1)
	b, _ := random.Image(128, 1)
	if err := remote.Write(nonprod.ref(t, "app:a"), a); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nonprod.ref(t, "app:b"), b); err != nil {
		t.Fatal(err)
	}

	t.Run("unsigned with --require-signature", func(t *testing.T) {
		_, err := Promote(t.Context(), nonprod.host+"/app:a", prod.host+"/app", WithRequireSignature(true))
		if err == nil || !strings.Contains(err.Error(), "has no signature") || !strings.Contains(err.Error(), "verification comes with the supply-chain checks") {
			t.Fatalf("want a no-signature error naming the presence-only check, got %v", err)
		}
		if _, err := remote.Head(prod.ref(t, "app:a")); err == nil {
			t.Error("the refused image reached the target")
		}
	})
	t.Run("custom checker", func(t *testing.T) {
		refuse := checkerFunc(func(image string, _ []Artifact) error { return errors.New("policy says no to " + image) })
		_, err := Promote(t.Context(), nonprod.host+"/app:a", prod.host+"/app", WithSignatureChecker(refuse))
		if err == nil || !strings.Contains(err.Error(), "policy says no") {
			t.Fatalf("want the checker's refusal, got %v", err)
		}
	})
	t.Run("re-pointing a prod tag", func(t *testing.T) {
		if _, err := Promote(t.Context(), nonprod.host+"/app:a", prod.host+"/app:release"); err != nil {
			t.Fatal(err)
		}
		_, err := Promote(t.Context(), nonprod.host+"/app:b", prod.host+"/app:release")
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.Errors[0].Code != codeTagInvalid {
			t.Fatalf("want TAG_INVALID, got %v", err)
		}
	})
	t.Run("bad target", func(t *testing.T) {
		if _, err := Promote(t.Context(), nonprod.host+"/app:a", prod.host+"/App"); err == nil {
			t.Error("an invalid target repository was accepted")
		}
	})
}

type checkerFunc func(image string, arts []Artifact) error

func (f checkerFunc) CheckSignatures(_ context.Context, image string, arts []Artifact) error {
	return f(image, arts)
}

func TestPromoteWithinOneRegistryMounts(t *testing.T) {
	r := startRegistry(t, "")
	img, _ := random.Image(32<<10, 3)
	if err := remote.Write(r.ref(t, "staging/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	rt := newCountingTransport()
	if _, err := Promote(t.Context(), r.host+"/staging/app:v1", r.host+"/release/app", WithTransport(rt)); err != nil {
		t.Fatal(err)
	}
	if got := rt.uploadBytes.Load(); got != 0 {
		t.Errorf("promotion within one registry sent %d blob bytes, want 0 (mounted)", got)
	}
	if !strings.Contains(rt.requestLog(), "POST /v2/release/app/blobs/uploads/") {
		t.Errorf("no mount request:\n%s", rt.requestLog())
	}
	got, err := remote.Image(r.ref(t, "release/app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Error(err)
	}
}

// TestPromoteWithDockerConfigCredentials promotes between two registries
// that require logins, with the credentials in a docker config.json.
func TestPromoteWithDockerConfigCredentials(t *testing.T) {
	src := startRegistry(t, "", WithBasicAuth("builder", "build-pass"))
	dst := startRegistry(t, "", WithBasicAuth("releaser", "release-pass"))
	cfg := t.TempDir()
	auths := fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`,
		src.host, base64.StdEncoding.EncodeToString([]byte("builder:build-pass")),
		dst.host, base64.StdEncoding.EncodeToString([]byte("releaser:release-pass")))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(auths), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfg)

	img, _ := random.Image(1024, 2)
	if err := remote.Write(src.ref(t, "app:v1"), img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		t.Fatal(err)
	}
	p, err := Promote(t.Context(), src.host+"/app:v1", dst.host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if p.Digest != want.String() {
		t.Errorf("digest %s, want %s", p.Digest, want)
	}
	got, err := remote.Image(dst.ref(t, "app:v1"), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Error(err)
	}
}
