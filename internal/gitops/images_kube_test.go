package gitops

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/kubeenv"
)

// TestImagesPinnedAndHealthFailureReported: images named by tag run by
// digest with PinDigests, Images overrides a repository's image, and a
// workload that never becomes ready gives an Unhealthy result at the
// health phase while what was applied stays in the inventory.
func TestImagesPinnedAndHealthFailureReported(t *testing.T) {
	env.DumpLogsOnFailure(t)
	host := startRegistry(t)
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/web:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	ns := namespace(t)
	repo := newGitRepo(t)
	repo.commit("first", map[string]string{"app.yaml": webApp(host+"/web:v1", 1)})
	resolver := &deploy.RegistryResolver{Registries: []deploy.Registry{{Host: host, Insecure: true}}}
	r := newReconciler(t, Spec{Name: "pinned", Namespace: ns, PinDigests: true, Wait: true, Timeout: time.Minute},
		&GitSource{Mirrors: mirrors(t), URL: repo.dir}, WithResolver(resolver))
	reconcile(t, r)
	if got := getDeployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image; got != host+"/web@"+digest.String() {
		t.Errorf("live image %s, want %s/web@%s", got, host, digest)
	}

	ns2 := namespace(t)
	unready := strings.Replace(webApp("registry.example/web:1", 1), "labels: {app: web}\n    spec:",
		"labels: {app: web}\n      annotations: {"+kubeenv.BehaviorAnnotation+": "+kubeenv.BehaviorUnready+"}\n    spec:", 1)
	repo2 := newGitRepo(t)
	repo2.commit("unready", map[string]string{"app.yaml": unready})
	r2 := newReconciler(t, Spec{Name: "unready", Namespace: ns2, Wait: true, Timeout: 2 * time.Second,
		Images: []string{"registry.example/web@sha256:" + strings.Repeat("1", 64)}},
		&GitSource{Mirrors: mirrors(t), URL: repo2.dir})
	res, err := r2.Reconcile(t.Context())
	if err == nil || res.Phase != PhaseHealth || res.Health != Unhealthy || !strings.Contains(res.HealthMessage, "Deployment/web") {
		t.Fatalf("unready workload: phase %q health %s (%s), error %v", res.Phase, res.Health, res.HealthMessage, err)
	}
	if got := getDeployment(t, ns2, "web").Spec.Template.Spec.Containers[0].Image; got != "registry.example/web@sha256:"+strings.Repeat("1", 64) {
		t.Errorf("Images did not replace the image: %s", got)
	}
	if inv, _, _ := r2.Inventory(t.Context()); len(inv.Objects) != 2 || !strings.Contains(string(inv.Result), `"health":"Unhealthy"`) {
		t.Errorf("inventory after a failed health wait: %+v %s", inv.Objects, inv.Result)
	}
}
