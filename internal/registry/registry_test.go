package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPushPullImageAndIndex(t *testing.T) {
	r := startRegistry(t, "")
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.ref(t, "app/web:v1"), img); err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r.ref(t, "app/multi:v1"), idx); err != nil {
		t.Fatal(err)
	}

	got, err := remote.Image(r.ref(t, "app/web:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("pulled image: %v", err)
	}
	gotIdx, err := remote.Index(r.ref(t, "app/multi:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Errorf("pulled index: %v", err)
	}
	want, _ := img.Digest()
	have, _ := got.Digest()
	if want != have {
		t.Errorf("digest: want %s, got %s", want, have)
	}

	repos, err := remote.Catalog(t.Context(), r.ref(t, "x").Context().Registry)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"app/multi", "app/web"}, repos); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
}

func TestTagListPagination(t *testing.T) {
	r := startRegistry(t, "")
	img, _ := random.Image(64, 1)
	for _, tag := range []string{"c", "a", "b", "d"} {
		if err := remote.Write(r.ref(t, "pg:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		want  []string
		link  string
	}{
		{"", []string{"a", "b", "c", "d"}, ""},
		{"?n=2", []string{"a", "b"}, `</v2/pg/tags/list?n=2&last=b>; rel="next"`},
		{"?n=2&last=b", []string{"c", "d"}, ""},
		{"?last=c", []string{"d"}, ""},
		{"?n=0", []string{}, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, err := http.Get(r.srv.URL + "/v2/pg/tags/list" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Tags []string `json:"tags"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.link, resp.Header.Get("Link")); diff != "" {
				t.Errorf("Link (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReferrers(t *testing.T) {
	r := startRegistry(t, "")
	img, _ := random.Image(256, 2)
	if err := remote.Write(r.ref(t, "app:v1"), img); err != nil {
		t.Fatal(err)
	}
	subject := descriptorOf(t, img)
	repo := r.repo(t, "app")
	sig := pushArtifact(t, repo, cosignSigType, "signature", &subject, "")
	sbom := pushArtifact(t, repo, sbomType, `{"spdxVersion":"SPDX-2.3"}`, &subject, "")

	for _, tc := range []struct {
		name   string
		filter string
		want   []string
	}{
		{"all", "", sortedDigests(sig, sbom)},
		{"signatures", cosignSigType, []string{sig.Digest.String()}},
		{"sboms", sbomType, []string{sbom.Digest.String()}},
		{"none", "application/x-nothing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := r.srv.URL + "/v2/app/referrers/" + subject.Digest.String()
			if tc.filter != "" {
				u += "?artifactType=" + url.QueryEscape(tc.filter)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Content-Type"); got != mtOCIIndex {
				t.Errorf("Content-Type %q, want %q", got, mtOCIIndex)
			}
			wantFilter := ""
			if tc.filter != "" {
				wantFilter = "artifactType"
			}
			if got := resp.Header.Get("OCI-Filters-Applied"); got != wantFilter {
				t.Errorf("OCI-Filters-Applied %q, want %q", got, wantFilter)
			}
			var idx v1.IndexManifest
			if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range idx.Manifests {
				got = append(got, m.Digest.String())
				if m.ArtifactType == "" {
					t.Errorf("referrer %s has no artifactType", m.Digest)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("referrers (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("OCI-Subject header on push", func(t *testing.T) {
		body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-test","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"subject":{"mediaType":"%s","digest":"%s","size":%d}}`,
			subject.MediaType, subject.Digest, subject.Size)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, r.srv.URL+"/v2/app/manifests/"+sha256Digest(body), strings.NewReader(body))
		req.Header.Set("Content-Type", mtOCIManifest)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("OCI-Subject") != subject.Digest.String() {
			t.Errorf("status %d, OCI-Subject %q; want 201 and %s", resp.StatusCode, resp.Header.Get("OCI-Subject"), subject.Digest)
		}
	})

	t.Run("deleted referrer leaves the list", func(t *testing.T) {
		if err := remote.Delete(repo.Digest(sbom.Digest.String())); err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Referrers(repo.Digest(subject.Digest.String()), remote.WithFilter("artifactType", sbomType))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := idx.IndexManifest()
		if len(m.Manifests) != 0 {
			t.Errorf("referrers after delete: %v", m.Manifests)
		}
	})
}

func sha256Digest(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

func sortedDigests(ds ...v1.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	if len(out) == 2 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

func TestProdTagsAreImmutable(t *testing.T) {
	r := startRegistry(t, "", WithName("prod"), WithImmutableTags(true))
	v1img, _ := random.Image(128, 1)
	v2img, _ := random.Image(128, 1)
	if err := remote.Write(r.ref(t, "app:1.0.0"), v1img); err != nil {
		t.Fatal(err)
	}

	t.Run("same digest again", func(t *testing.T) {
		if err := remote.Write(r.ref(t, "app:1.0.0"), v1img); err != nil {
			t.Errorf("re-pushing the same digest to the same tag: %v", err)
		}
	})
	t.Run("other digest refused", func(t *testing.T) {
		err := remote.Write(r.ref(t, "app:1.0.0"), v2img)
		var terr *transport.Error
		if !errors.As(err, &terr) {
			t.Fatalf("want an OCI error, got %v", err)
		}
		if terr.StatusCode != http.StatusBadRequest || len(terr.Errors) != 1 || terr.Errors[0].Code != codeTagInvalid {
			t.Fatalf("want 400 TAG_INVALID, got %d %+v", terr.StatusCode, terr.Errors)
		}
		for _, want := range []string{"immutable in the prod registry", "push a new tag"} {
			if !strings.Contains(terr.Errors[0].Message, want) {
				t.Errorf("message %q does not say %q", terr.Errors[0].Message, want)
			}
		}
		got, _ := remote.Head(r.ref(t, "app:1.0.0"))
		want, _ := v1img.Digest()
		if got.Digest != want {
			t.Errorf("tag moved to %s", got.Digest)
		}
	})
	t.Run("new tag fine", func(t *testing.T) {
		if err := remote.Write(r.ref(t, "app:1.0.1"), v2img); err != nil {
			t.Error(err)
		}
	})
	t.Run("tag delete refused", func(t *testing.T) {
		if err := remote.Delete(r.ref(t, "app:1.0.0")); err == nil {
			t.Error("deleting a prod tag succeeded")
		}
	})
	t.Run("cosign tags stay mutable", func(t *testing.T) {
		d, _ := v1img.Digest()
		tag := "sha256-" + d.Hex + ".sig"
		pushArtifact(t, r.repo(t, "app"), cosignSigType, "sig one", nil, tag)
		pushArtifact(t, r.repo(t, "app"), cosignSigType, "sig one and two", nil, tag)
	})
}

func TestGarbageCollection(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	r := startRegistry(t, "", WithClock(clock), WithGCUntagged(true))
	ctx := t.Context()

	kept, _ := random.Image(512, 2)
	if err := remote.Write(r.ref(t, "app:v1"), kept); err != nil {
		t.Fatal(err)
	}
	keptDesc := descriptorOf(t, kept)
	sig := pushArtifact(t, r.repo(t, "app"), cosignSigType, "signature", &keptDesc, "")
	idx, _ := random.Index(256, 1, 2)
	if err := remote.WriteIndex(r.ref(t, "app:multi"), idx); err != nil {
		t.Fatal(err)
	}
	untagged, _ := random.Image(512, 2)
	untaggedDigest, _ := untagged.Digest()
	if err := remote.Write(r.repo(t, "app").Digest(untaggedDigest.String()), untagged); err != nil {
		t.Fatal(err)
	}
	orphan, _ := random.Layer(1000, "application/octet-stream")
	if err := remote.WriteLayer(r.repo(t, "app"), orphan); err != nil {
		t.Fatal(err)
	}

	// Within the grace period nothing goes.
	res, err := r.reg.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(GCResult{}, res); diff != "" {
		t.Errorf("GC within the grace period (-want +got):\n%s", diff)
	}

	clock.Add(2 * time.Hour)
	res, err = r.reg.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The untagged image (manifest, config, 2 layers) and the orphan layer.
	if res.ManifestsDeleted != 1 || res.BlobsDeleted != 1+1+2+1 {
		t.Errorf("GC removed %+v, want 1 manifest and 5 blobs (manifest, config, 2 layers, orphan)", res)
	}
	for _, ref := range []string{"app:v1", "app@" + sig.Digest.String()} {
		if _, err := remote.Get(r.ref(t, ref)); err != nil {
			t.Errorf("%s after GC: %v", ref, err)
		}
	}
	img, err := remote.Image(r.ref(t, "app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("tagged image after GC: %v", err)
	}
	gotIdx, err := remote.Index(r.ref(t, "app:multi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Errorf("tagged index after GC: %v", err)
	}
	if _, err := remote.Get(r.repo(t, "app").Digest(untaggedDigest.String())); err == nil {
		t.Error("untagged image survived GC")
	}
	od, _ := orphan.Digest()
	if _, ok := r.reg.store.blobSize(digest{alg: od.Algorithm, hex: od.Hex}); ok {
		t.Error("orphan blob survived GC")
	}
}

func TestRestartKeepsContentAndUploads(t *testing.T) {
	dir := t.TempDir()
	r1 := startRegistry(t, dir)
	img, _ := random.Image(2048, 2)
	if err := remote.Write(r1.ref(t, "app:v1"), img); err != nil {
		t.Fatal(err)
	}
	// Start a chunked upload and send half of it.
	blob := bytes.Repeat([]byte("conveyor"), 1000)
	resp := do(t, http.MethodPost, r1.srv.URL+"/v2/app/blobs/uploads/", nil, nil)
	loc := resp.Header.Get("Location")
	do(t, http.MethodPatch, r1.srv.URL+loc, blob[:4000], map[string]string{"Content-Range": "0-3999"})
	r1.srv.Close()

	r2 := startRegistry(t, dir)
	got, err := remote.Image(r2.ref(t, "app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("image after restart: %v", err)
	}
	status := do(t, http.MethodGet, r2.srv.URL+loc, nil, nil)
	if status.StatusCode != http.StatusNoContent || status.Header.Get("Range") != "0-3999" {
		t.Fatalf("upload status after restart: %d Range %q", status.StatusCode, status.Header.Get("Range"))
	}
	do(t, http.MethodPatch, r2.srv.URL+loc, blob[4000:], map[string]string{"Content-Range": fmt.Sprintf("4000-%d", len(blob)-1)})
	dig := sha256Digest(string(blob))
	done := do(t, http.MethodPut, r2.srv.URL+loc+"?digest="+dig, nil, nil)
	if done.StatusCode != http.StatusCreated {
		t.Fatalf("completing the resumed upload: %d", done.StatusCode)
	}
	fetched := do(t, http.MethodGet, r2.srv.URL+"/v2/app/blobs/"+dig, nil, nil)
	if fetched.StatusCode != http.StatusOK {
		t.Fatalf("GET resumed blob: %d", fetched.StatusCode)
	}
}

// do sends one request and fails the test on a transport error or a 4xx/5xx.
func do(t *testing.T, method, url string, body []byte, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp
}

func TestAuth(t *testing.T) {
	const token = "0123456789abcdef-token"
	r := startRegistry(t, "", WithBasicAuth("ci", "s3cret"), WithToken(token))
	img, _ := random.Image(64, 1)

	err := remote.Write(r.ref(t, "app:v1"), img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous push: want 401, got %v", err)
	}
	for _, tc := range []struct {
		name string
		auth authn.Authenticator
	}{
		{"basic", &authn.Basic{Username: "ci", Password: "s3cret"}},
		{"token as password", &authn.Basic{Username: "anyone", Password: token}},
		{"bearer token", authn.FromConfig(authn.AuthConfig{RegistryToken: token})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := remote.Write(r.ref(t, "app:"+strings.ReplaceAll(tc.name, " ", "-")), img, remote.WithAuth(tc.auth)); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		if err := remote.Write(r.ref(t, "app:x"), img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "nope"})); err == nil {
			t.Error("push with a wrong password succeeded")
		}
	})
}

func TestDeletesDisabled(t *testing.T) {
	r := startRegistry(t, "", WithDeletes(false))
	img, _ := random.Image(64, 1)
	if err := remote.Write(r.ref(t, "app:v1"), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	err := remote.Delete(r.repo(t, "app").Digest(d.String()))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("delete with deletes disabled: want 405, got %v", err)
	}
}

func TestBadInputErrors(t *testing.T) {
	r := startRegistry(t, "")
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v2/Bad_Name/tags/list", 400, codeNameInvalid},
		{"GET", "/v2/app/manifests/sha256:nothex", 400, codeDigestInvalid},
		{"GET", "/v2/app/manifests/missing", 404, codeManifestUnknown},
		{"GET", "/v2/app/blobs/sha256:" + strings.Repeat("0", 64), 404, codeBlobUnknown},
		{"GET", "/v2/app/blobs/uploads/" + strings.Repeat("a", 32), 404, codeBlobUploadUnknown},
		{"GET", "/v2/nothing/tags/list", 404, codeNameUnknown},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, r.srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Errors []struct{ Code, Message string } `json:"errors"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || len(body.Errors) != 1 || body.Errors[0].Code != tc.code {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, body.Errors, tc.status, tc.code)
			}
		})
	}
}
