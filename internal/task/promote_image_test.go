package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/config"
	ociregistry "conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/supplychain"
)

func TestPromoteImage(t *testing.T) {
	nonprod, prod := embeddedRegistry(t), embeddedRegistry(t, ociregistry.WithImmutableTags(true))
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	src, err := name.ParseReference(nonprod+"/team/web:build-7", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(src, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	digest := d.String()
	regs := map[string]config.Registry{"nonprod": {URL: nonprod, Insecure: true}, "prod": {URL: prod, Insecure: true}}

	env, vars := imageEnv(t, map[string]string{
		"sourceConnection": "nonprod-acr", "targetConnection": "prod-acr", "repository": "team/web",
		"image": digest, "targetTags": "1.0.0\nstable",
	}, regs)
	env.Task = "PromoteImage@1"
	res, err := runPromoteImage(t.Context(), env)
	if err != nil || res.Status != Succeeded {
		t.Fatalf("%v %+v", err, res)
	}
	wantRef := prod + "/team/web@" + digest
	if diff := cmp.Diff(map[string]string{VarImageDigest: digest, VarDockerDigest: digest, VarImageRef: wantRef, VarDockerRef: wantRef}, vars); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	for _, ref := range []string{wantRef, prod + "/team/web:1.0.0", prod + "/team/web:stable"} {
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Head(r, remote.WithContext(t.Context()))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got.Digest.String() != digest {
			t.Errorf("%s has digest %s, want %s", ref, got.Digest, digest)
		}
	}

	// By tag, into another repository, requiring a signature the image lacks.
	env, _ = imageEnv(t, map[string]string{
		"sourceConnection": "nonprod-acr", "targetConnection": "prod-acr", "repository": "team/web",
		"image": "build-7", "targetRepository": "release/web", "requireSignature": "true",
	}, regs)
	res, err = runPromoteImage(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Failed || !strings.Contains(res.Message, "set supplyChain.signingKey") {
		t.Errorf("requireSignature without a key to verify with: %+v, want Failed naming supplyChain.signingKey", res)
	}

	// With supplyChain.signingKey: the unsigned image is refused, the same
	// image signed with that key is promoted.
	priv, _, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	signed := func() (*Env, map[string]string) {
		env, vars := imageEnv(t, map[string]string{
			"sourceConnection": "nonprod-acr", "targetConnection": "prod-acr", "repository": "team/web",
			"image": "build-7", "targetRepository": "signed/web", "requireSignature": "true",
		}, regs)
		env.Services.Config.SupplyChain.SigningKey = keyFile
		env.Environ = append(env.Environ, "COSIGN_PASSWORD=pw")
		return env, vars
	}
	env, _ = signed()
	if res, err = runPromoteImage(t.Context(), env); err != nil || res.Status != Failed {
		t.Errorf("unsigned image with requireSignature = %+v, %v; want Failed", res, err)
	}
	signer, err := supplychain.DecryptPrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supplychain.Sign(t.Context(), nonprod+"/team/web@"+digest, signer, supplychain.SignOptions{Options: supplychain.Options{Insecure: true}}); err != nil {
		t.Fatal(err)
	}
	env, vars = signed()
	if res, err = runPromoteImage(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("signed image with requireSignature = %+v, %v", res, err)
	}
	if want := prod + "/signed/web@" + digest; vars[VarImageRef] != want {
		t.Errorf("imageRef = %q, want %q", vars[VarImageRef], want)
	}

	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"no image", map[string]string{"targetConnection": "prod-acr", "repository": "team/web"}, "input image is required"},
		{"no target", map[string]string{"image": digest, "repository": "team/web"}, "input targetConnection is required"},
		{"no source", map[string]string{"image": digest, "repository": "team/web", "targetConnection": "prod-acr"}, "input sourceConnection is required"},
		{"bad tag", map[string]string{"image": digest, "repository": "team/web", "sourceConnection": "nonprod-acr", "targetConnection": "prod-acr", "targetTags": "-bad"}, "tag \"-bad\" is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := imageEnv(t, tc.inputs, regs)
			res, err := runPromoteImage(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Failed || !strings.Contains(res.Message, tc.want) {
				t.Errorf("result %+v, want Failed saying %q", res, tc.want)
			}
		})
	}
}
