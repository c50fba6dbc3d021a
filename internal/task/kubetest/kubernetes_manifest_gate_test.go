package kubetest

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store/storetest"
	"conveyor.dev/conveyor/internal/supplychain"
	"conveyor.dev/conveyor/internal/task"
)

// TestKubernetesManifestProductionGate: an environment with
// requireSignedImages and enforceRegistry refuses an image of another
// registry and an unsigned one, and deploys the signed prod image, after
// installing the admission policy that keeps the namespace so.
func TestKubernetesManifestProductionGate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := "gated"
	if _, err := env.Client().CoreV1().Namespaces().Create(t.Context(), namespace(ns), createOpts); err != nil {
		t.Fatal(err)
	}
	serve := func() string {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	nonprod, prod := serve(), serve()
	dNonprod := pushRandom(t, nonprod+"/web:v1")
	dProd := pushRandom(t, prod+"/web:v1")

	priv, _, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`registries:
  nonprod: {url: %s, insecure: true}
  prod: {url: %s, insecure: true}
clusters:
  local: {kubeconfig: %s}
environments:
  production: {cluster: local, namespace: %s, registry: prod, requireSignedImages: true, enforceRegistry: true}
supplyChain: {signingKey: %s}
`, nonprod, prod, env.Kubeconfig, ns, keyFile)
	cfg, err := config.Parse("conveyor.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.NewTestStore(t)
	deploy := func(image string) (task.Result, *syncBuffer) {
		e, out := manifestEnv(t, prod, ns, st, map[string]string{
			"kubernetesServiceConnection": "production", "action": "deploy", "manifests": "k8s/app.yaml",
			"containers": image, "rolloutStatusTimeout": "60",
		})
		e.Services.Config = cfg
		e.Variables["Environment.Name"] = "production"
		e.Environ = []string{"COSIGN_PASSWORD=pw"}
		// The manifest names the image without a registry: containers pins it.
		if err := os.MkdirAll(filepath.Join(e.Dirs.Sources, "k8s"), 0o755); err != nil {
			t.Fatal(err)
		}
		app := strings.Replace(fmt.Sprintf(manifestApp, "{}", "x"), "image: x/web:latest", "image: web", 1)
		if err := os.WriteFile(filepath.Join(e.Dirs.Sources, "k8s", "app.yaml"), []byte(app), 0o644); err != nil {
			t.Fatal(err)
		}
		return runTask(t, e), out
	}
	if res, out := deploy(nonprod + "/web@" + dNonprod); res.Status != task.Failed || !strings.Contains(res.Message, "admits only images of "+prod) {
		t.Errorf("non-prod image = %+v, want refused naming the prod registry\n%s", res, out)
	}
	if res, out := deploy(prod + "/web@" + dProd); res.Status != task.Failed || !strings.Contains(res.Message, "requires signed images") {
		t.Errorf("unsigned prod image = %+v, want refused for its missing signature\n%s", res, out)
	}
	signer, err := supplychain.DecryptPrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supplychain.Sign(t.Context(), prod+"/web@"+dProd, signer, supplychain.SignOptions{Options: supplychain.Options{Insecure: true}}); err != nil {
		t.Fatal(err)
	}
	res, out := deploy(prod + "/web@" + dProd)
	if res.Status != task.Succeeded {
		t.Fatalf("signed prod image = %+v\n%s", res, out)
	}
	if !strings.Contains(out.String(), "Admission policy of production") || !strings.Contains(out.String(), "Verified the signature") {
		t.Errorf("log does not show the gate:\n%s", out)
	}
	dep, err := env.Client().AppsV1().Deployments(ns).Get(t.Context(), "web", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != prod+"/web@"+dProd {
		t.Errorf("live image = %s", got)
	}
}
