package gitops

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"conveyor.dev/conveyor/internal/deploy"
)

// webApp is a Deployment (on the kwok node) and a ConfigMap.
func webApp(image string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
`, replicas, image)
}

const extraConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data: {a: b}
`

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := env.Client().AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scale changes replicas the way `kubectl scale`/`kubectl edit` would: an
// update by another field manager.
func scale(t *testing.T, ns string, replicas int) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if _, err := env.Client().AppsV1().Deployments(ns).Patch(t.Context(), "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != int32(replicas) {
		t.Fatalf("replicas after the manual patch = %d, want %d", got, replicas)
	}
}

// TestGitSourceReconcilesHealsDriftAndPrunes walks one git source through
// its life: first apply, a commit changing the image, a manual edit
// reverted, a deleted object recreated, an object removed from git pruned,
// and a suspended reconciler leaving drift alone.
func TestGitSourceReconcilesHealsDriftAndPrunes(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	repo := newGitRepo(t)
	c1 := repo.commit("first", map[string]string{
		"README.md":        "not a manifest, not under deploy/",
		"deploy/app.yaml":  webApp("registry.example/web:1", 2),
		"deploy/extra.yml": extraConfigMap,
	})
	src := &GitSource{Mirrors: mirrors(t), URL: repo.dir, Ref: "main", Path: "deploy"}
	r := newReconciler(t, Spec{Name: "webapp", Namespace: ns, Prune: true, Wait: true, Timeout: time.Minute}, src)

	res := reconcile(t, r)
	want := map[string]string{"Deployment/web": "created", "ConfigMap/web-config": "created", "ConfigMap/extra": "created"}
	if diff := cmp.Diff(want, actions(res)); diff != "" {
		t.Errorf("first reconcile (-want +got):\n%s", diff)
	}
	if res.Revision != "main@sha1:"+c1 || res.Health != Healthy {
		t.Errorf("revision %q health %s, want main@sha1:%s Healthy", res.Revision, res.Health, c1)
	}
	d := getDeployment(t, ns, "web")
	if d.Labels[LabelName] != "webapp" || d.Status.AvailableReplicas != 2 {
		t.Errorf("deployment labels %v, %d available; want the gitops label and 2 available (health waited)", d.Labels, d.Status.AvailableReplicas)
	}
	inv, found, err := r.Inventory(t.Context())
	if err != nil || !found {
		t.Fatalf("inventory: %v found=%v", err, found)
	}
	if len(inv.Objects) != 3 || inv.Revision != res.Revision {
		t.Errorf("inventory %+v, want the 3 objects at %s", inv, res.Revision)
	}
	var recorded map[string]any
	if err := json.Unmarshal(inv.Result, &recorded); err != nil || recorded["revision"] != res.Revision || recorded["health"] != "Healthy" {
		t.Errorf("recorded result %s (%v), want revision and health", inv.Result, err)
	}

	// Nothing changed: nothing to do.
	res = reconcile(t, r)
	if n := res.Applied.Count(deploy.Unchanged); n != 3 {
		t.Errorf("second reconcile: %s want 3 unchanged", res.Applied)
	}

	// A commit changes the image.
	c2 := repo.commit("new image", map[string]string{"deploy/app.yaml": webApp("registry.example/web:2", 2)})
	res = reconcile(t, r)
	if got := actions(res)["Deployment/web"]; got != "configured" || res.Revision != "main@sha1:"+c2 {
		t.Errorf("after the image commit: %v at %s, want Deployment configured at %s", actions(res), res.Revision, c2)
	}
	if img := getDeployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image; img != "registry.example/web:2" {
		t.Errorf("live image %s, want registry.example/web:2", img)
	}

	// A manual edit of replicas is reverted.
	scale(t, ns, 5)
	res = reconcile(t, r)
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 2 {
		t.Errorf("replicas after the reconcile = %d, want 2 (drift corrected)", got)
	}
	if got := actions(res)["Deployment/web"]; got != "configured" {
		t.Errorf("drift correction reported Deployment %q, want configured", got)
	}

	// A deleted object is recreated.
	if err := env.Client().CoreV1().ConfigMaps(ns).Delete(t.Context(), "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res = reconcile(t, r)
	if got := actions(res)["ConfigMap/web-config"]; got != "created" {
		t.Errorf("deleted ConfigMap: %q, want created", got)
	}
	if _, err := env.Client().CoreV1().ConfigMaps(ns).Get(t.Context(), "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap web-config not recreated: %v", err)
	}

	// An object removed from git is pruned.
	repo.commit("drop extra", map[string]string{"deploy/extra.yml": ""})
	res = reconcile(t, r)
	if got := actions(res)["ConfigMap/extra"]; got != "pruned:deleted" {
		t.Errorf("removed ConfigMap: %q, want pruned:deleted (%v)", got, actions(res))
	}
	if _, err := env.Client().CoreV1().ConfigMaps(ns).Get(t.Context(), "extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap extra after prune: %v, want not found", err)
	}
	if inv, _, _ := r.Inventory(t.Context()); len(inv.Objects) != 2 {
		t.Errorf("inventory after prune: %v, want 2 objects", inv.Objects)
	}

	// Suspended: drift stays until resumed.
	r.SetSuspended(true)
	scale(t, ns, 4)
	res = reconcile(t, r)
	if !res.Suspended || len(res.Applied.Entries) != 0 {
		t.Errorf("suspended reconcile: %+v, want Suspended and nothing applied", res)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 4 {
		t.Errorf("replicas while suspended = %d, want 4 (left alone)", got)
	}
	r.SetSuspended(false)
	reconcile(t, r)
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 2 {
		t.Errorf("replicas after resuming = %d, want 2", got)
	}
	if last, ok := r.Last(); !ok || last.Revision == "" || !strings.HasPrefix(last.String(), "webapp at main@sha1:") {
		t.Errorf("Last() = %v, %v", last, ok)
	}
}

// TestFailedPhasesApplyNothing: a broken manifest fails at render and a
// missing ref at fetch; the cluster keeps what it had.
func TestFailedPhasesApplyNothing(t *testing.T) {
	ns := namespace(t)
	repo := newGitRepo(t)
	repo.commit("first", map[string]string{"app.yaml": extraConfigMap})
	r := newReconciler(t, Spec{Name: "broken", Namespace: ns, Prune: true, Wait: true, Timeout: time.Minute},
		&GitSource{Mirrors: mirrors(t), URL: repo.dir})
	reconcile(t, r)

	repo.commit("break it", map[string]string{"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"})
	res, err := r.Reconcile(t.Context())
	if err == nil || res.Phase != PhaseRender || !strings.Contains(err.Error(), "manifest app.yaml:1") {
		t.Errorf("broken manifest: phase %q error %v, want a render error naming app.yaml:1", res.Phase, err)
	}
	if _, err := env.Client().CoreV1().ConfigMaps(ns).Get(t.Context(), "extra", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap extra after a failed render: %v, want it kept (no prune)", err)
	}

	r2 := newReconciler(t, Spec{Name: "noref", Namespace: ns}, &GitSource{Mirrors: mirrors(t), URL: repo.dir, Ref: "release"})
	res, err = r2.Reconcile(t.Context())
	if err == nil || res.Phase != PhaseFetch || !strings.Contains(err.Error(), `ref "release" is not a branch or tag`) {
		t.Errorf("unknown ref: phase %q error %v", res.Phase, err)
	}
}

// TestControllerLoopReconcilesOnTheClock: the loop reconciles at once,
// again when the interval passes on the injected clock (healing drift),
// and when triggered.
func TestControllerLoopReconcilesOnTheClock(t *testing.T) {
	ns := namespace(t)
	repo := newGitRepo(t)
	repo.commit("first", map[string]string{"app.yaml": webApp("registry.example/web:1", 1)})
	clock := newManualClock()
	r := newReconciler(t, Spec{Name: "loop", Namespace: ns, Interval: time.Minute, Wait: true, Timeout: time.Minute},
		&GitSource{Mirrors: mirrors(t), URL: repo.dir}, WithClock(clock))
	results := make(chan Result, 8)
	c, err := NewController([]*Reconciler{r}, func(res Result) { results <- res }, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()

	if res := next(t, results, "first result"); res.Err != nil || actions(res)["Deployment/web"] != "created" {
		t.Fatalf("first loop reconcile: %v", res)
	}
	if d := next(t, clock.waiting, "the loop to wait"); d != time.Minute {
		t.Errorf("loop waits %s, want the interval 1m", d)
	}
	scale(t, ns, 3)
	clock.Fire(time.Minute)
	if res := next(t, results, "result after the interval"); res.Err != nil || actions(res)["Deployment/web"] != "configured" {
		t.Fatalf("reconcile after the interval: %v", res)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 1 {
		t.Errorf("replicas = %d after the interval's reconcile, want 1", got)
	}
	next(t, clock.waiting, "the loop to wait again")
	if err := c.Trigger("loop"); err != nil {
		t.Fatal(err)
	}
	if res := next(t, results, "result after the trigger"); res.Err != nil || res.Applied.Count(deploy.Unchanged) != 2 {
		t.Fatalf("triggered reconcile: %v", res)
	}
	if err := c.Trigger("nope"); err == nil {
		t.Error("Trigger(unknown name) succeeded")
	}
	next(t, clock.waiting, "the loop to wait after the trigger")
	cancel()
	next(t, done, "Run to return after cancel")
}
