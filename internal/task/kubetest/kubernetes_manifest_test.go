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
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
	"conveyor.dev/conveyor/internal/task"
)

// manifestEnv is a task.Env for KubernetesManifest@1 whose conveyor.yaml
// has the test cluster behind connection "aks" (namespace ns) and the
// registry host as "nonprod", and whose deployments go to st.
func manifestEnv(t *testing.T, host, ns string, st *store.SQLite, inputs map[string]string) (*task.Env, *syncBuffer) {
	t.Helper()
	text := fmt.Sprintf("registries:\n  nonprod: {url: %s, insecure: true}\nclusters:\n  local: {kubeconfig: %s, context: local}\nserviceConnections:\n  aks: {cluster: local, namespace: %s}\n  nonprod-acr: {registry: nonprod}\n", host, env.Kubeconfig, ns)
	cfg, err := config.Parse("conveyor.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := &syncBuffer{}
	in := map[string]string{"kubernetesServiceConnection": "aks"}
	for k, v := range inputs {
		in[k] = v
	}
	return &task.Env{
		Task:   "KubernetesManifest@1",
		Inputs: in,
		Variables: map[string]string{"Build.DefinitionName": "webapp-cd", "Build.BuildId": "12", "Build.ContainerId": "run-12",
			"Build.SourceVersion": "abcdef0123456789", "Environment.Name": "staging"},
		Dirs:     task.Dirs{Sources: dir, Temp: filepath.Join(dir, "tmp")},
		Log:      log,
		Now:      time.Now,
		Services: &task.Services{Config: cfg, DataDir: dir, Revisions: st},
	}, log
}

func pushRandom(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

const manifestApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: %s
    spec:
      containers:
      - {name: web, image: %s/web:latest}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

func writeManifests(t *testing.T, dir, podAnnotations, host string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "k8s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k8s", "app.yaml"), fmt.Appendf(nil, manifestApp, podAnnotations, host), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k8s", "config.yml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {a: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKubernetesManifestDeployRollbackAndActions(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := "manifest-e2e"
	if _, err := env.Client().CoreV1().Namespaces().Create(t.Context(), namespace(ns), createOpts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	d1 := pushRandom(t, host+"/web:v1")
	d2 := pushRandom(t, host+"/web:v2")
	st := storetest.NewTestStore(t)

	// deploy v1: manifests by glob, image by tag through containers.
	e, log := manifestEnv(t, host, ns, st, map[string]string{
		"action": "deploy", "manifests": "k8s/*.yaml\nk8s/*.yml", "containers": host + "/web:v1", "rolloutStatusTimeout": "60",
	})
	writeManifests(t, e.Dirs.Sources, "{}", host)
	var summaryText string
	e.AddSummary = func(text string) { summaryText += text }
	res := runTask(t, e)
	if res.Status != task.Succeeded {
		t.Fatalf("deploy v1: %+v\n%s", res, log)
	}
	if want := "**Deployed** to `staging/" + ns + "`: 3 created, 0 configured, 0 unchanged; revision 1\n- `" + host + "/web@" + d1 + "`\n"; summaryText != want {
		t.Errorf("summary %q, want %q", summaryText, want)
	}
	dep, err := env.Client().AppsV1().Deployments(ns).Get(t.Context(), "web", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dep.Spec.Template.Spec.Containers[0].Image, host+"/web@"+d1; got != want {
		t.Errorf("live image %s, want %s", got, want)
	}
	if dep.Annotations["conveyor.dev/pipeline"] != "webapp-cd" || dep.Annotations["conveyor.dev/run"] != "run-12" || dep.Annotations["conveyor.dev/commit"] != "abcdef0123456789" {
		t.Errorf("annotations %v", dep.Annotations)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("available replicas %d after the deploy step, want 2", dep.Status.AvailableReplicas)
	}
	last, err := st.LastDeployment(t.Context(), "staging", ns, "webapp-cd")
	if err != nil || last.Revision != 1 || len(last.Objects) != 3 {
		t.Fatalf("stored deployment %+v, %v: want revision 1 with 3 objects", last, err)
	}

	// deploy v2 whose pods never get ready: rolled back to v1.
	e, log = manifestEnv(t, host, ns, st, map[string]string{
		"manifests": "k8s", "containers": host + "/web:v2", "rolloutStatusTimeout": "60",
	})
	writeManifests(t, e.Dirs.Sources, "{kubeenv.conveyor.dev/behavior: unready}", host)
	res = runTask(t, e)
	if res.Status != task.Failed || !strings.Contains(res.Message, "progress deadline exceeded") || !strings.Contains(res.Message, "rolled back to revision 1") {
		t.Fatalf("deploy v2 = %+v, want Failed, rolled back to revision 1\n%s", res, log)
	}
	dep, _ = env.Client().AppsV1().Deployments(ns).Get(t.Context(), "web", getOpts)
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != host+"/web@"+d1 || dep.Status.AvailableReplicas != 2 {
		t.Errorf("after rollback: image %s (%d available), want %s@%s with 2 available", got, dep.Status.AvailableReplicas, host+"/web", d1)
	}
	if !strings.Contains(log.String(), "Rolling back to revision 1") {
		t.Errorf("log lacks the rollback:\n%s", log)
	}
	_ = d2

	// scale, then the actions that must fail clearly.
	e, log = manifestEnv(t, host, ns, st, map[string]string{"action": "scale", "kind": "deployment", "name": "web", "replicas": "3"})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("scale: %+v\n%s", res, log)
	}
	if dep, _ := env.Client().AppsV1().Deployments(ns).Get(t.Context(), "web", getOpts); dep.Status.AvailableReplicas != 3 {
		t.Errorf("after scale: %d available, want 3", dep.Status.AvailableReplicas)
	}
	for _, tt := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"action": "promote", "manifests": "x.yaml"}, "action promote needs strategy: canary"},
		{map[string]string{"action": "deploy", "strategy": "canary", "trafficSplitMethod": "smi", "percentage": "20", "manifests": "x.yaml"}, "trafficSplitMethod smi is not supported"},
		{map[string]string{"action": "bake"}, "input helmChart is required when renderType is helm"},
		{map[string]string{"action": "deploy", "manifests": "none/*.yaml"}, "pattern none/*.yaml matches no file"},
		{map[string]string{"kubernetesServiceConnection": "nope", "manifests": "x.yaml"}, `service connection "nope" is not defined`},
		{map[string]string{"action": "dance"}, `input action: "dance" is not known`},
	} {
		e, _ := manifestEnv(t, host, ns, st, tt.inputs)
		if res := runTask(t, e); res.Status != task.Failed || !strings.Contains(res.Message, tt.want) {
			t.Errorf("%v = %+v, want Failed with %q", tt.inputs, res, tt.want)
		}
	}

	// createSecret, patch and delete.
	e, log = manifestEnv(t, host, ns, st, map[string]string{"action": "createSecret", "secretType": "generic", "secretName": "app-secret", "secretArguments": "--from-literal=token=s3cret"})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("createSecret: %+v\n%s", res, log)
	}
	sec, err := env.Client().CoreV1().Secrets(ns).Get(t.Context(), "app-secret", getOpts)
	if err != nil || string(sec.Data["token"]) != "s3cret" {
		t.Errorf("secret %v, %v", sec, err)
	}
	e, log = manifestEnv(t, host, ns, st, map[string]string{"action": "createSecret", "secretName": "pull", "dockerRegistryEndpoint": "nonprod-acr"})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("createSecret docker: %+v\n%s", res, log)
	}
	if sec, err := env.Client().CoreV1().Secrets(ns).Get(t.Context(), "pull", getOpts); err != nil || sec.Type != corev1.SecretTypeDockerConfigJson || !strings.Contains(string(sec.Data[".dockerconfigjson"]), host) {
		t.Errorf("docker secret %v, %v", sec, err)
	}
	e, log = manifestEnv(t, host, ns, st, map[string]string{"action": "patch", "resourceToPatch": "name", "kind": "configmap", "name": "web-config", "mergeStrategy": "merge", "patch": "data: {a: patched}"})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("patch: %+v\n%s", res, log)
	}
	if cm, _ := env.Client().CoreV1().ConfigMaps(ns).Get(t.Context(), "web-config", getOpts); cm.Data["a"] != "patched" {
		t.Errorf("after patch: %v", cm.Data)
	}
	e, log = manifestEnv(t, host, ns, st, map[string]string{"action": "delete", "arguments": "configmap web-config"})
	if res := runTask(t, e); res.Status != task.Succeeded || res.Message != "1 objects deleted" {
		t.Fatalf("delete: %+v\n%s", res, log)
	}
	if _, err := env.Client().CoreV1().ConfigMaps(ns).Get(t.Context(), "web-config", metav1.GetOptions{}); err == nil {
		t.Error("web-config still exists after delete")
	}
}

func TestKubernetesManifestCanaryPromote(t *testing.T) {
	ns := "manifest-canary"
	if _, err := env.Client().CoreV1().Namespaces().Create(t.Context(), namespace(ns), createOpts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	d1 := pushRandom(t, host+"/web:v1")
	d2 := pushRandom(t, host+"/web:v2")
	st := storetest.NewTestStore(t)
	run := func(inputs map[string]string) {
		t.Helper()
		e, log := manifestEnv(t, host, ns, st, inputs)
		writeManifests(t, e.Dirs.Sources, "{}", host)
		if res := runTask(t, e); res.Status != task.Succeeded {
			t.Fatalf("%v: %+v\n%s", inputs, res, log)
		}
	}
	images := func() map[string]string {
		ds, _ := env.Client().AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
		out := map[string]string{}
		for _, d := range ds.Items {
			out[d.Name] = fmt.Sprintf("%d %s", *d.Spec.Replicas, strings.TrimPrefix(d.Spec.Template.Spec.Containers[0].Image, host+"/web@"))
		}
		return out
	}
	run(map[string]string{"manifests": "k8s/app.yaml", "containers": host + "/web:v1"})
	run(map[string]string{"manifests": "k8s/app.yaml", "containers": host + "/web:v2", "strategy": "canary", "percentage": "50"})
	if got, want := images(), map[string]string{"web": "2 " + d1, "web-canary": "1 " + d2, "web-baseline": "1 " + d1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after canary: %v, want %v", got, want)
	}
	run(map[string]string{"action": "promote", "manifests": "k8s/app.yaml", "containers": host + "/web:v2", "strategy": "canary"})
	if got, want := images(), map[string]string{"web": "2 " + d2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after promote: %v, want %v", got, want)
	}
}
