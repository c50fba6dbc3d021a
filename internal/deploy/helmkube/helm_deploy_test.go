package helmkube_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/task"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// chartDir is the test chart of the deploy package.
var chartDir = filepath.Join("..", "testdata", "helm", "web")

// stepRun is one task step run against the test cluster.
type stepRun struct {
	Result task.Result
	Vars   map[string]string
	Log    string
}

// newServices returns Services whose conveyor.yaml has the test cluster as
// connection "test-aks" (namespace ns) and, when regHost is set, a plain-HTTP
// registry "charts" at regHost, and an environment "test-env" on the test
// cluster in namespace ns.
func newServices(t testing.TB, ns, regHost string) *task.Services {
	t.Helper()
	y := fmt.Sprintf(`clusters:
  kube: {kubeconfig: %s, context: %s}
serviceConnections:
  test-aks: {cluster: kube, namespace: %[3]s}
environments:
  test-env: {cluster: kube, namespace: %[3]s}
`, env.Kubeconfig, kubeenv.ContextName, ns)
	if regHost != "" {
		y += fmt.Sprintf("registries:\n  charts: {url: %q, insecure: true}\n", regHost)
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return &task.Services{Config: cfg, DataDir: t.TempDir()}
}

// runStep runs the task name with inputs in a fresh workspace whose sources
// hold the test chart under charts/web.
func runStep(t testing.TB, ctx context.Context, name string, svc *task.Services, inputs map[string]string, variables ...map[string]string) stepRun {
	t.Helper()
	tk, ok := task.Lookup(name)
	if !ok {
		t.Fatalf("task %s is not registered", name)
	}
	root := t.TempDir()
	dirs := task.Dirs{Work: root, Sources: filepath.Join(root, "s"), ArtifactStaging: filepath.Join(root, "a"), Temp: filepath.Join(root, "_temp")}
	copyDir(t, chartDir, filepath.Join(dirs.Sources, "charts", "web"))
	var (
		mu   sync.Mutex
		log  bytes.Buffer
		vars = map[string]string{}
	)
	jobVars := map[string]string{}
	for _, m := range variables {
		for k, v := range m {
			jobVars[k] = v
		}
	}
	e := &task.Env{
		Task: name, Inputs: inputs, Variables: jobVars, Dirs: dirs, Log: &log, Now: time.Now, Services: svc,
		SetVariable: func(n, v string, o task.VarOptions) error {
			mu.Lock()
			defer mu.Unlock()
			if !o.Output {
				vars[n] = v
			}
			return nil
		},
	}
	res, err := tk.Run(ctx, e)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, log.String())
	}
	return stepRun{Result: res, Vars: vars, Log: log.String()}
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustSucceed(t testing.TB, what string, r stepRun) {
	t.Helper()
	if r.Result.Status != task.Succeeded {
		t.Fatalf("%s: %s: %s\nlog:\n%s", what, r.Result.Status, r.Result.Message, r.Log)
	}
	if r.Vars["helmExitCode"] != "0" {
		t.Errorf("%s: helmExitCode = %q, want 0", what, r.Vars["helmExitCode"])
	}
}

func deployment(t testing.TB, ctx context.Context, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := env.Client().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Deployment %s/%s: %v", ns, name, err)
	}
	return d
}

// newPodsReady returns how many pods of the Deployment's current
// ReplicaSet are ready: what helm --wait guarantees (old pods may still be
// terminating, and the Deployment's own status may lag its ReplicaSet's).
func newPodsReady(t testing.TB, ctx context.Context, d *appsv1.Deployment) int32 {
	t.Helper()
	const revision = "deployment.kubernetes.io/revision"
	sel := metav1.FormatLabelSelector(d.Spec.Selector)
	rss, err := env.Client().AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss.Items {
		if rs.Annotations[revision] == d.Annotations[revision] {
			return rs.Status.ReadyReplicas
		}
	}
	t.Fatalf("Deployment %s/%s: no ReplicaSet of revision %s", d.Namespace, d.Name, d.Annotations[revision])
	return 0
}

// history returns the revisions of a release as "N:status", oldest first.
func history(t testing.TB, ctx context.Context, ns, release string) []string {
	t.Helper()
	h, err := deploy.NewHelm(deploy.HelmOptions{Kubeconfig: env.Kubeconfig, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := h.History(ctx, release)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range revs {
		out = append(out, fmt.Sprintf("%d:%s", r.Revision, r.Status))
	}
	return out
}

func TestHelmDeployLifecycle(t *testing.T) {
	ctx := t.Context()
	const ns = "lifecycle"
	svc := newServices(t, ns, "")
	base := map[string]string{"kubernetesServiceConnection": "test-aks", "namespace": ns, "chartType": "FilePath", "chartPath": "charts/web", "releaseName": "web"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// install, creating the namespace, waiting for the rollout (waitForExecution defaults to true).
	r := runStep(t, ctx, "HelmDeploy@0", svc, with("command", "install", "arguments", "--create-namespace --timeout 2m"))
	mustSucceed(t, "install", r)
	for _, want := range []string{"STATUS: deployed", "REVISION: 1", "NAMESPACE: lifecycle", "runs 2 replica(s)"} {
		if !strings.Contains(r.Vars["helmOutput"], want) {
			t.Errorf("install helmOutput lacks %q:\n%s", want, r.Vars["helmOutput"])
		}
	}
	if !strings.Contains(r.Log, "release web: revision 1 deployed in lifecycle") {
		t.Errorf("install log does not say what was done:\n%s", r.Log)
	}
	if d := deployment(t, ctx, ns, "web-web"); newPodsReady(t, ctx, d) != 2 {
		t.Errorf("after install --wait: %d ready pods, want 2", newPodsReady(t, ctx, d))
	}

	// ls in a deployment job: the job's environment is the connection.
	r = runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{"command": "ls"}, map[string]string{"Environment.Name": "test-env"})
	mustSucceed(t, "ls", r)
	if !strings.Contains(r.Vars["helmOutput"], "web\tlifecycle\t1\t") || !strings.Contains(r.Vars["helmOutput"], "\tdeployed\tweb-0.1.0\t1.0.0") {
		t.Errorf("ls helmOutput:\n%s", r.Vars["helmOutput"])
	}

	// upgrade (HelmDeploy@1, --install by default) to 3 replicas.
	r = runStep(t, ctx, "HelmDeploy@1", svc, with("command", "upgrade", "overrideValues", "replicaCount=3\nimage.tag=2.0.0"))
	mustSucceed(t, "upgrade", r)
	if !strings.Contains(r.Vars["helmOutput"], "REVISION: 2") {
		t.Errorf("upgrade helmOutput:\n%s", r.Vars["helmOutput"])
	}
	if d := deployment(t, ctx, ns, "web-web"); newPodsReady(t, ctx, d) != 3 || d.Spec.Template.Spec.Containers[0].Image != "registry.example/web:2.0.0" {
		t.Errorf("after upgrade: %d new pods ready, image %s; want 3 and web:2.0.0", newPodsReady(t, ctx, d), d.Spec.Template.Spec.Containers[0].Image)
	}

	// a failing upgrade (pods never Ready) with --atomic rolls back by itself.
	start := time.Now()
	r = runStep(t, ctx, "HelmDeploy@0", svc, with("command", "upgrade", "overrideValues", "replicaCount=3,image.tag=3.0.0,unready=true", "arguments", "--atomic --timeout 6s"))
	if r.Result.Status != task.Failed || r.Vars["helmExitCode"] != "1" {
		t.Fatalf("atomic upgrade of unready pods: %s (exit %s), want Failed (exit 1)\n%s", r.Result.Status, r.Vars["helmExitCode"], r.Log)
	}
	if !strings.Contains(r.Result.Message, "rolled back") {
		t.Errorf("atomic failure message %q does not say it rolled back", r.Result.Message)
	}
	if !strings.Contains(r.Log, "release web is now at revision 4 (deployed)") {
		t.Errorf("atomic failure log does not give the release's state:\n%s", r.Log)
	}
	t.Logf("atomic upgrade failed and rolled back in %s", time.Since(start).Round(time.Millisecond))
	if got, want := strings.Join(history(t, ctx, ns, "web"), " "), "1:superseded 2:superseded 3:failed 4:deployed"; got != want {
		t.Errorf("history after atomic rollback = %s, want %s", got, want)
	}
	d := deployment(t, ctx, ns, "web-web")
	if _, unready := d.Spec.Template.Annotations[kubeenv.BehaviorAnnotation]; unready || d.Spec.Template.Spec.Containers[0].Image != "registry.example/web:2.0.0" {
		t.Errorf("after atomic rollback the Deployment is not revision 2's: annotations %v, image %s", d.Spec.Template.Annotations, d.Spec.Template.Spec.Containers[0].Image)
	}

	// explicit rollback to revision 1.
	r = runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{"command": "rollback", "kubernetesServiceConnection": "test-aks", "namespace": ns, "arguments": "web 1 --wait --timeout 2m"})
	mustSucceed(t, "rollback", r)
	if !strings.Contains(r.Vars["helmOutput"], "revision 5 (deployed)") {
		t.Errorf("rollback helmOutput: %s", r.Vars["helmOutput"])
	}
	if d := deployment(t, ctx, ns, "web-web"); *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "registry.example/web:1.0.0" {
		t.Errorf("after rollback to 1: replicas %d image %s, want 2 and web:1.0.0", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}

	// uninstall.
	r = runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{"command": "uninstall", "kubernetesServiceConnection": "test-aks", "namespace": ns, "releaseName": "web", "arguments": "--wait"})
	mustSucceed(t, "uninstall", r)
	if _, err := env.Client().AppsV1().Deployments(ns).Get(ctx, "web-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after uninstall: get Deployment: %v, want not found", err)
	}
	if _, err := env.Client().CoreV1().Services(ns).Get(ctx, "web-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after uninstall: get Service: %v, want not found", err)
	}
}

// pushChart packages the test chart at version and pushes it to
// host/charts/web:version with helm's own registry client.
func pushChart(t testing.TB, host, version string) {
	t.Helper()
	tgz, err := deploy.PackageHelmChart(chartDir, deploy.HelmPackageOptions{Destination: t.TempDir(), Version: version})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	c, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "none.json")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(data, host+"/charts/web:"+version); err != nil {
		t.Fatalf("push chart %s to %s: %v", version, host, err)
	}
}

func TestHelmDeployFromEmbeddedRegistry(t *testing.T) {
	ctx := t.Context()
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	pushChart(t, host, "0.1.0")
	pushChart(t, host, "0.2.0")

	const ns = "oci"
	if _, err := env.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The connection's namespace is used when the step names none.
	svc := newServices(t, ns, host)
	ref := "oci://" + host + "/charts/web"

	r := runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{
		"command": "install", "kubernetesServiceConnection": "test-aks", "chartName": ref, "chartVersion": "0.1.0", "releaseName": "shop",
	})
	mustSucceed(t, "install from OCI", r)
	if !strings.Contains(r.Vars["helmOutput"], "CHART: web-0.1.0") {
		t.Errorf("install helmOutput:\n%s", r.Vars["helmOutput"])
	}
	if d := deployment(t, ctx, ns, "shop-web"); newPodsReady(t, ctx, d) != 2 {
		t.Errorf("OCI install: %d ready pods, want 2", newPodsReady(t, ctx, d))
	}

	// No version: the newest tag.
	r = runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{
		"command": "upgrade", "kubernetesServiceConnection": "test-aks", "chartName": ref, "releaseName": "shop",
	})
	mustSucceed(t, "upgrade from OCI", r)
	if !strings.Contains(r.Vars["helmOutput"], "CHART: web-0.2.0") || !strings.Contains(r.Vars["helmOutput"], "REVISION: 2") {
		t.Errorf("upgrade helmOutput:\n%s", r.Vars["helmOutput"])
	}

	// template pulls too, without a cluster.
	r = runStep(t, ctx, "HelmDeploy@0", svc, map[string]string{"command": "template", "chartName": ref, "chartVersion": "~0.1"})
	if r.Result.Status != task.Succeeded || !strings.Contains(r.Vars["helmOutput"], "name: release-name-web") {
		t.Errorf("template from OCI: %s %s\n%s", r.Result.Status, r.Result.Message, r.Vars["helmOutput"])
	}
}
