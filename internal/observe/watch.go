package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

// WatchStore is what the Watcher needs of the store.
type WatchStore interface {
	// ListDeployments returns the recorded deploys (revisions) matching f,
	// newest first.
	ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error)
	// SetDeployOutcomeStatus marks an outcome degraded.
	SetDeployOutcomeStatus(ctx context.Context, id int64, status store.DeployStatus, reason string) error
}

// Cluster is the Kubernetes API of an environment and the namespace its
// deployments go to.
type Cluster struct {
	Client    kubernetes.Interface
	Namespace string
}

// ClusterFunc returns the cluster of an environment.
type ClusterFunc func(environment string) (Cluster, error)

// ClustersOf returns the clusters of conveyor.yaml's environments (cfg
// with kubeconfig paths resolved, as services.Start leaves it).
func ClustersOf(cfg *config.Config) ClusterFunc {
	var mu sync.Mutex
	clients := map[string]kubernetes.Interface{}
	return func(environment string) (Cluster, error) {
		env, ok := cfg.Environments[environment]
		if !ok {
			return Cluster{}, fmt.Errorf("environment %q is not in conveyor.yaml: its deployments cannot be watched", environment)
		}
		cl := cfg.Clusters[env.Cluster]
		if cl.Kubeconfig == "" {
			return Cluster{}, fmt.Errorf("environment %s: cluster %s has no kubeconfig", environment, env.Cluster)
		}
		mu.Lock()
		defer mu.Unlock()
		key := cl.Kubeconfig + "\x00" + cl.Context
		if c := clients[key]; c != nil {
			return Cluster{Client: c, Namespace: env.Namespace}, nil
		}
		rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: cl.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: cl.Context}).ClientConfig()
		if err != nil {
			return Cluster{}, fmt.Errorf("environment %s: kubeconfig %s: %w", environment, cl.Kubeconfig, err)
		}
		c, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return Cluster{}, fmt.Errorf("environment %s: %w", environment, err)
		}
		clients[key] = c
		return Cluster{Client: c, Namespace: env.Namespace}, nil
	}
}

// WatchResult is how a watch ended.
type WatchResult struct {
	Outcome store.DeployOutcome
	// Status is DeploySucceeded when the window passed without a problem,
	// DeployDegraded when one was found; Err is set when the watch could
	// not look (the outcome is left as it was).
	Status store.DeployStatus
	Reason string
	Err    error
}

// Watcher is the post-deploy watch: after a succeeded deployment it looks
// at the environment's Deployments until the outcome's WatchUntil, and
// marks the outcome degraded (in the store and in
// conveyor_deployments_total) when a pod crash-loops or a Deployment
// becomes unavailable. The Deployments watched are those the deploy
// recorded (KubernetesManifest@1), else every Deployment of the
// environment's namespace.
type Watcher struct {
	st        WatchStore
	clusters  ClusterFunc
	metrics   *Metrics
	interval  time.Duration
	threshold int32
	grace     time.Duration
	now       func() time.Time
	log       *slog.Logger
	done      func(WatchResult)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// WatcherOption configures NewWatcher.
type WatcherOption func(*Watcher)

// WithWatchInterval sets how often the workload is looked at (default 10s).
func WithWatchInterval(d time.Duration) WatcherOption { return func(w *Watcher) { w.interval = d } }

// WithRestartThreshold sets how many restarts of a container during the
// watch make it crash-looping (default 2; CrashLoopBackOff always does).
func WithRestartThreshold(n int32) WatcherOption { return func(w *Watcher) { w.threshold = n } }

// WithUnavailableGrace sets how long a Deployment may have fewer available
// replicas than wanted before the deploy is degraded (default 1m; a
// Deployment whose Available condition is False is degraded at once).
func WithUnavailableGrace(d time.Duration) WatcherOption { return func(w *Watcher) { w.grace = d } }

// WithWatcherMetrics counts degraded deploys in m.
func WithWatcherMetrics(m *Metrics) WatcherOption { return func(w *Watcher) { w.metrics = m } }

// WithWatcherLogger sets where watch errors are logged.
func WithWatcherLogger(l *slog.Logger) WatcherOption { return func(w *Watcher) { w.log = l } }

// WithWatchDone calls f when a watch ends (tests, the UI).
func WithWatchDone(f func(WatchResult)) WatcherOption { return func(w *Watcher) { w.done = f } }

// WithWatcherClock sets the clock that ends watches.
func WithWatcherClock(now func() time.Time) WatcherOption { return func(w *Watcher) { w.now = now } }

// NewWatcher returns a Watcher; Close stops its watches.
func NewWatcher(st WatchStore, clusters ClusterFunc, opts ...WatcherOption) *Watcher {
	w := &Watcher{st: st, clusters: clusters, interval: 10 * time.Second, threshold: 2, grace: time.Minute,
		now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(w)
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// Watch starts watching o's workload in the background until
// o.WatchUntil.
func (w *Watcher) Watch(o store.DeployOutcome) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		res := w.watch(w.ctx, o)
		if res.Err != nil && !errors.Is(res.Err, context.Canceled) {
			w.log.Warn("post-deploy watch", slog.String("run", o.RunID), slog.String("env", o.Environment), slog.Any("err", res.Err))
		}
		if w.done != nil {
			w.done(res)
		}
	}()
}

// Close stops the watches and waits for them; an outcome keeps its
// status and its WatchUntil, so a restarted server resumes the watch
// (Resume).
func (w *Watcher) Close() {
	w.cancel()
	w.wg.Wait()
}

// Resume restarts the watches a stopped server left unfinished.
func (w *Watcher) Resume(ctx context.Context, st interface {
	WatchedDeployOutcomes(ctx context.Context, now time.Time) ([]store.DeployOutcome, error)
}) error {
	outs, err := st.WatchedDeployOutcomes(ctx, w.now())
	if err != nil {
		return err
	}
	for _, o := range outs {
		w.Watch(o)
	}
	return nil
}

// target is one Deployment to watch.
type target struct{ namespace, name string }

func (w *Watcher) targets(ctx context.Context, o store.DeployOutcome, cl Cluster) ([]target, error) {
	ds, err := w.st.ListDeployments(ctx, store.DeploymentFilter{Environment: o.Environment, Pipeline: o.Pipeline, Limit: 50})
	if err != nil {
		return nil, err
	}
	seen := map[target]bool{}
	var out []target
	for _, d := range ds {
		if d.RunID != o.RunID {
			continue
		}
		for _, obj := range d.Objects {
			t := target{obj.Namespace, obj.Name}
			if t.namespace == "" {
				t.namespace = d.Namespace
			}
			if obj.Group == "apps" && obj.Kind == "Deployment" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	if len(out) > 0 || cl.Namespace == "" {
		return out, nil
	}
	list, err := cl.Client.AppsV1().Deployments(cl.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the Deployments of namespace %s: %w", cl.Namespace, err)
	}
	for _, d := range list.Items {
		out = append(out, target{d.Namespace, d.Name})
	}
	return out, nil
}

func (w *Watcher) watch(ctx context.Context, o store.DeployOutcome) WatchResult {
	res := WatchResult{Outcome: o, Status: o.Status}
	cl, err := w.clusters(o.Environment)
	if err != nil {
		res.Err = err
		return res
	}
	targets, err := w.targets(ctx, o, cl)
	if err != nil {
		res.Err = err
		return res
	}
	baseline := map[string]int32{} // pod UID/container → restarts when first seen
	unavailableSince := map[target]time.Time{}
	first := true
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		problem, err := w.look(ctx, cl.Client, targets, baseline, unavailableSince, first)
		first = false
		if err != nil && ctx.Err() != nil {
			res.Err = ctx.Err()
			return res
		}
		if err != nil {
			w.log.Warn("post-deploy watch: look at the workload", slog.String("run", o.RunID), slog.String("env", o.Environment), slog.Any("err", err))
		}
		if problem != "" {
			// The outcome is marked even when the server is stopping.
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := w.st.SetDeployOutcomeStatus(mctx, o.ID, store.DeployDegraded, problem)
			cancel()
			if err != nil {
				res.Err = err
				return res
			}
			if w.metrics != nil {
				w.metrics.DeploymentFinished(o.Environment, o.Pipeline, store.DeployDegraded)
			}
			res.Status, res.Reason = store.DeployDegraded, problem
			return res
		}
		if !w.now().Before(o.WatchUntil) {
			return res
		}
		select {
		case <-ctx.Done():
			res.Err = ctx.Err()
			return res
		case <-tick.C:
		}
	}
}

// look checks every target once and returns the first problem found.
func (w *Watcher) look(ctx context.Context, c kubernetes.Interface, targets []target, baseline map[string]int32, unavailableSince map[target]time.Time, first bool) (string, error) {
	var errs []error
	for _, t := range targets {
		dep, err := c.AppsV1().Deployments(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("Deployment %s/%s was deleted", t.namespace, t.name), nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pods, err := c.CoreV1().Pods(t.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first {
			for _, p := range pods.Items {
				for _, cs := range p.Status.ContainerStatuses {
					baseline[string(p.UID)+"/"+cs.Name] = cs.RestartCount
				}
			}
		}
		if p := CrashLooping(pods.Items, baseline, w.threshold); p != "" {
			return fmt.Sprintf("Deployment %s/%s: %s", t.namespace, t.name, p), nil
		}
		unavailable := Unavailable(dep)
		if unavailable == "" {
			delete(unavailableSince, t)
			continue
		}
		if strings.HasPrefix(unavailable, "not available") {
			return fmt.Sprintf("Deployment %s/%s is %s", t.namespace, t.name, unavailable), nil
		}
		since, ok := unavailableSince[t]
		if !ok {
			unavailableSince[t] = w.now()
		} else if w.now().Sub(since) >= w.grace {
			return fmt.Sprintf("Deployment %s/%s has had %s for %s", t.namespace, t.name, unavailable, w.now().Sub(since).Round(time.Second)), nil
		}
	}
	return "", errors.Join(errs...)
}

// CrashLooping returns why pods crash-loop, or "": a container waiting in
// CrashLoopBackOff, or restarted threshold times or more since baseline
// (restart counts by "podUID/container"; a pod not in baseline counts
// from 0).
func CrashLooping(pods []corev1.Pod, baseline map[string]int32, threshold int32) string {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
				return fmt.Sprintf("pod %s: container %s is in CrashLoopBackOff (%d restarts)", p.Name, cs.Name, cs.RestartCount)
			}
			if n := cs.RestartCount - baseline[string(p.UID)+"/"+cs.Name]; threshold > 0 && n >= threshold {
				return fmt.Sprintf("pod %s: container %s restarted %d times since the deploy", p.Name, cs.Name, n)
			}
		}
	}
	return ""
}

// Unavailable returns how a Deployment falls short of its replicas, or "":
// "not available: <message>" when its Available condition is False,
// else "N of M replicas available" when fewer are available than wanted.
func Unavailable(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionFalse {
			return "not available: " + c.Message
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.AvailableReplicas < want {
		return fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, want)
	}
	return ""
}
