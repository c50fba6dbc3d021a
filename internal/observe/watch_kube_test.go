package observe_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// The control plane with kwok nodes starts once, for the tests that need
// it, and stops after the package's tests.
var (
	kubeOnce sync.Once
	kubeEnv  *kubeenv.Env
	kubeErr  error
)

func kube(t *testing.T) *kubeenv.Env {
	t.Helper()
	kubeOnce.Do(func() { kubeEnv, kubeErr = kubeenv.Start(t.Context(), kubeenv.Options{KwokNodes: 1}) })
	if kubeErr != nil {
		t.Fatal(kubeErr)
	}
	return kubeEnv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kubeEnv != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "kubeenv logs:\n%s", kubeEnv.Logs(40))
		}
		if err := kubeEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// deployWeb creates namespace and Deployment "web" with replicas kwok pods
// (behavior: the kubeenv pod annotation, "" for healthy ones).
func deployWeb(t *testing.T, env *kubeenv.Env, replicas int32, behavior string) string {
	t.Helper()
	ns := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	ns = fmt.Sprintf("%.40s-%d", ns, time.Now().UnixNano()%100000)
	c := env.Client()
	if _, err := c.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	annotations := map[string]string{}
	if behavior != "" {
		annotations[kubeenv.BehaviorAnnotation] = behavior
	}
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web@sha256:" + strings.Repeat("a", 64)}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// waitAvailable polls until the Deployment has all its replicas available.
func waitAvailable(t *testing.T, env *kubeenv.Env, ns string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := env.Client().AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if observe.Unavailable(d) == "" && d.Status.ObservedGeneration == d.Generation {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Deployment %s/web not available after 60s: %+v", ns, d.Status)
		}
		time.Sleep(100 * time.Millisecond) // polling the condition
	}
}

// watched records a succeeded deploy of Deployment ns/web by run r1 and
// returns its outcome, watched for window.
func watched(t *testing.T, st *store.SQLite, ns string, window time.Duration) store.DeployOutcome {
	t.Helper()
	d := store.Deployment{Environment: "production", Namespace: ns, Pipeline: "cd", RunID: "r1", Manifests: []byte("kind: Deployment\n"),
		Objects: []store.DeployedObject{{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}}}
	if err := st.AddDeployment(t.Context(), &d); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	o := store.DeployOutcome{Environment: "production", Pipeline: "cd", RunID: "r1", Job: "Production.Web", Status: store.DeploySucceeded,
		FinishedAt: now, WatchUntil: now.Add(window)}
	if err := st.RecordDeployOutcome(t.Context(), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func newWatcher(t *testing.T, st *store.SQLite, env *kubeenv.Env, m *observe.Metrics) (*observe.Watcher, <-chan observe.WatchResult) {
	t.Helper()
	done := make(chan observe.WatchResult, 1)
	w := observe.NewWatcher(st, func(string) (observe.Cluster, error) { return observe.Cluster{Client: env.Client()}, nil },
		observe.WithWatchInterval(200*time.Millisecond), observe.WithWatcherMetrics(m), observe.WithWatchDone(func(r observe.WatchResult) { done <- r }))
	t.Cleanup(w.Close)
	return w, done
}

func result(t *testing.T, done <-chan observe.WatchResult) observe.WatchResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(90 * time.Second):
		t.Fatal("the watch did not end in 90s")
	}
	return observe.WatchResult{}
}

func storedOutcome(t *testing.T, st *store.SQLite) store.DeployOutcome {
	t.Helper()
	outs, err := st.ListDeployOutcomes(t.Context(), store.DeployOutcomeFilter{Environment: "production"})
	if err != nil || len(outs) != 1 {
		t.Fatalf("outcomes: %v, %v", outs, err)
	}
	return outs[0]
}

// TestWatchMarksACrashLoopDegraded: the deploy rolled out, then one of its
// pods starts crash-looping (kwok's crash stage, set on the running pod):
// the watch marks the deploy degraded in the store and the metrics.
func TestWatchMarksACrashLoopDegraded(t *testing.T) {
	env := kube(t)
	t.Parallel()
	ns := deployWeb(t, env, 2, "")
	waitAvailable(t, env, ns)
	st := storetest.NewTestStore(t)
	m := observe.NewMetrics(observe.WithoutProcessMetrics())
	w, done := newWatcher(t, st, env, m)
	w.Watch(watched(t, st, ns, 2*time.Minute))

	pods, err := env.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kubeenv.BehaviorAnnotation, kubeenv.BehaviorCrash)
	if _, err := env.Client().CoreV1().Pods(ns).Patch(t.Context(), pods.Items[0].Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := result(t, done)
	if r.Err != nil || r.Status != store.DeployDegraded || !strings.Contains(r.Reason, "pod "+pods.Items[0].Name) {
		t.Fatalf("watch result: %+v, want degraded by pod %s", r, pods.Items[0].Name)
	}
	t.Logf("degraded: %s", r.Reason)
	if o := storedOutcome(t, st); o.Status != store.DeployDegraded || o.Reason != r.Reason {
		t.Errorf("stored outcome: %+v", o)
	}
	if text := gatherText(t, m); !strings.Contains(text, `conveyor_deployments_total{environment="production",pipeline="cd",status="degraded"} 1`+"\n") {
		t.Errorf("metrics do not count the degraded deploy:\n%s", text)
	}
}

// TestWatchMarksAnUnavailableDeployDegraded: pods that never become ready
// leave the Deployment unavailable.
func TestWatchMarksAnUnavailableDeployDegraded(t *testing.T) {
	env := kube(t)
	t.Parallel()
	ns := deployWeb(t, env, 1, kubeenv.BehaviorUnready)
	st := storetest.NewTestStore(t)
	w, done := newWatcher(t, st, env, observe.NewMetrics(observe.WithoutProcessMetrics()))
	w.Watch(watched(t, st, ns, 2*time.Minute))
	r := result(t, done)
	if r.Err != nil || r.Status != store.DeployDegraded || !strings.Contains(r.Reason, "Deployment "+ns+"/web") || !strings.Contains(r.Reason, "available") {
		t.Fatalf("watch result: %+v, want degraded as unavailable", r)
	}
	t.Logf("degraded: %s", r.Reason)
	if o := storedOutcome(t, st); o.Status != store.DeployDegraded {
		t.Errorf("stored outcome: %+v", o)
	}
}

// TestWatchKeepsAHealthyDeploy: a healthy workload passes the window and
// the deploy stays succeeded (the watch resumed from the store).
func TestWatchKeepsAHealthyDeploy(t *testing.T) {
	env := kube(t)
	t.Parallel()
	ns := deployWeb(t, env, 2, "")
	waitAvailable(t, env, ns)
	st := storetest.NewTestStore(t)
	w, done := newWatcher(t, st, env, observe.NewMetrics(observe.WithoutProcessMetrics()))
	start := time.Now()
	watched(t, st, ns, 2*time.Second)
	// A restarted server resumes the watches its store lists.
	if err := w.Resume(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	r := result(t, done)
	if r.Err != nil || r.Status != store.DeploySucceeded {
		t.Fatalf("watch result: %+v, want succeeded", r)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("the watch ended after %v, before its 2s window", time.Since(start))
	}
	if o := storedOutcome(t, st); o.Status != store.DeploySucceeded {
		t.Errorf("stored outcome: %+v", o)
	}
}

// TestDeployJobWatchedToDegraded runs a CD pipeline on the real engine;
// its production deploy job succeeds, the Recorder starts the watch of
// production (no revision recorded: every Deployment of the environment's
// namespace), where the workload crash-loops: the outcome turns degraded
// and the DORA report counts it as a change failure.
func TestDeployJobWatchedToDegraded(t *testing.T) {
	env := kube(t)
	t.Parallel()
	ns := deployWeb(t, env, 1, kubeenv.BehaviorCrash)
	st := storetest.NewTestStore(t)
	m := observe.NewMetrics(observe.WithoutProcessMetrics())
	done := make(chan observe.WatchResult, 4)
	// The cluster comes from conveyor.yaml, as in the server.
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf("clusters:\n  kube: {kubeconfig: %s, context: %s}\nenvironments:\n  production: {cluster: kube, namespace: %s, watch: 1m}\n",
		env.Kubeconfig, kubeenv.ContextName, ns)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	clusters := observe.ClustersOf(cfg)
	if _, err := clusters("qa"); err == nil || !strings.Contains(err.Error(), `environment "qa" is not in conveyor.yaml`) {
		t.Errorf("the cluster of an unknown environment: %v", err)
	}
	w := observe.NewWatcher(st, clusters, observe.WithWatchInterval(200*time.Millisecond), observe.WithWatcherMetrics(m),
		observe.WithWatchDone(func(r observe.WatchResult) { done <- r }))
	t.Cleanup(w.Close)
	rec := observe.NewRecorder(st, observe.WithRecorderMetrics(m), observe.WithPostDeployWatch(w, func(environment string) time.Duration {
		return cfg.Environments[environment].Watch // staging is not in cfg: not watched
	}))
	eng := newEngine(t, st, fanout{m, rec})
	repo, commit := newRepo(t)
	out, err := eng.Run(t.Context(), compile(t, cdPipeline, nil), engineInput(repo, commit))
	if err != nil || out.Result != store.ResultSucceeded {
		t.Fatalf("run: %+v, %v", out, err)
	}
	rec.Close()
	r := result(t, done)
	if r.Status != store.DeployDegraded || r.Outcome.Environment != "production" || !strings.Contains(r.Reason, "Deployment "+ns+"/web") {
		t.Fatalf("watch result: %+v", r)
	}
	rep, err := observe.ReportDORA(t.Context(), st, observe.Query{Environment: "production", Window: time.Hour})
	if err != nil || len(rep.Environments) != 1 {
		t.Fatalf("report: %+v, %v", rep, err)
	}
	if p := rep.Environments[0]; p.Failures != 1 || p.Deployments != 1 || p.ChangeFailureRate != 1 || p.Unrestored != 1 {
		t.Errorf("production DORA after a degraded deploy: %+v", p)
	}
}
