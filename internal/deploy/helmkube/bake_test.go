package helmkube_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/task"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBakeThenDeploy bakes the staging overlay (namePrefix, namespace,
// replica patch, image digest) with KubernetesManifest@1 action bake and
// deploys $(manifestsBundle) with action deploy, as an Azure pipeline does.
func TestBakeThenDeploy(t *testing.T) {
	ctx := t.Context()
	const ns = "staging" // set by the overlay
	if _, err := env.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := newServices(t, ns, "")
	kdir, err := filepath.Abs(filepath.Join("..", "testdata", "kustomize", "overlays", "staging"))
	if err != nil {
		t.Fatal(err)
	}
	r := runStep(t, ctx, "KubernetesManifest@1", svc, map[string]string{"action": "bake", "renderType": "kustomize", "kustomizationPath": kdir})
	if r.Result.Status != task.Succeeded {
		t.Fatalf("bake: %s %s\n%s", r.Result.Status, r.Result.Message, r.Log)
	}
	bundle := r.Vars["manifestsBundle"]
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("manifestsBundle %q: %v", bundle, err)
	}
	if !strings.Contains(string(b), "name: staging-web") {
		t.Fatalf("bundle:\n%s", b)
	}

	r = runStep(t, ctx, "KubernetesManifest@1", svc, map[string]string{"action": "deploy", "kubernetesServiceConnection": "test-aks", "manifests": bundle})
	if r.Result.Status != task.Succeeded {
		t.Fatalf("deploy of the bundle: %s %s\n%s", r.Result.Status, r.Result.Message, r.Log)
	}
	d := deployment(t, ctx, ns, "staging-web")
	if n := newPodsReady(t, ctx, d); n != 3 || !strings.HasPrefix(d.Spec.Template.Spec.Containers[0].Image, "127.0.0.1:5001/web@sha256:") {
		t.Errorf("deployed overlay: %d ready pods, image %s; want 3 and the overlay's digest", n, d.Spec.Template.Spec.Containers[0].Image)
	}
}
