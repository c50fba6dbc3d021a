package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// benchObjects is 100 objects: 40 Deployments (one replica each), 30
// Services and 30 ConfigMaps, in namespace ns.
func benchObjects(ns string) string {
	var b strings.Builder
	img := "registry.invalid/bench@sha256:" + strings.Repeat("b", 64)
	for i := range 40 {
		fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%d, namespace: %s, labels: {bench: \"1\"}}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: app%d}}\n  template:\n    metadata: {labels: {app: app%d}}\n    spec: {containers: [{name: c, image: %q}]}\n", i, ns, i, i, img)
	}
	for i := range 30 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc%d, namespace: %s}\nspec: {selector: {app: app%d}, ports: [{port: 80}]}\n", i, ns, i)
	}
	for i := range 30 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%d, namespace: %s}\ndata: {k: v%d}\n", i, ns, i)
	}
	return b.String()
}

func benchNamespace(b *testing.B, prefix string, i int) string {
	b.Helper()
	ns := fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano()%1000000)
	if _, err := env.Client().CoreV1().Namespaces().Create(b.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	return ns
}

// deleteNamespace deletes ns and waits (on a watch) until it is gone, so
// that its clean-up does not load the next iteration.
func deleteNamespace(b *testing.B, ns string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := env.Client().CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", ns).String()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	if err := env.Client().CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	for ev := range w.ResultChan() {
		if ev.Type == watch.Deleted {
			return
		}
	}
	b.Fatalf("namespace %s not gone within 3 minutes", ns)
}

// BenchmarkApplyWait100 compares applying 100 objects and waiting until
// they are healthy: Conveyor's Apply + Wait against kubectl apply
// --server-side + kubectl rollout status, on the same control plane.
// Run: go test ./internal/deploy -run '^$' -bench ApplyWait100 -benchtime 5x
func BenchmarkApplyWait100(b *testing.B) {
	b.Run("conveyor", func(b *testing.B) {
		m := newManager(b)
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			ns := benchNamespace(b, "bench-conveyor", i)
			objs := parse(b, benchObjects(ns))
			b.StartTimer()
			start := time.Now()
			if _, err := m.Apply(b.Context(), objs, ApplyOptions{Namespace: ns}); err != nil {
				b.Fatal(err)
			}
			applied := time.Now()
			if err := m.Wait(b.Context(), refsOf(objs), WaitOptions{Timeout: 5 * time.Minute}); err != nil {
				b.Fatal(err)
			}
			b.Logf("apply %v, wait %v", applied.Sub(start), time.Since(applied))
			b.StopTimer()
			deleteNamespace(b, ns)
			b.StartTimer()
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		kubectl := filepath.Join(env.BinDir, "kubectl")
		dir := b.TempDir()
		run := func(args ...string) {
			cmd := exec.CommandContext(b.Context(), kubectl, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			ns := benchNamespace(b, "bench-kubectl", i)
			file := filepath.Join(dir, ns+".yaml")
			if err := os.WriteFile(file, []byte(benchObjects(ns)), 0o644); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			run("apply", "--server-side", "--field-manager", "bench", "-f", file)
			applied := time.Now()
			run("rollout", "status", "deployment", "-n", ns, "-l", "bench=1", "--timeout", "5m")
			b.Logf("apply %v, rollout status %v", applied.Sub(start), time.Since(applied))
			b.StopTimer()
			deleteNamespace(b, ns)
			b.StartTimer()
		}
	})
}

// BenchmarkWaitLatency measures how long after a Deployment turns
// Available (as an independent watch sees it) Wait returns; reported as
// ms-after-available (mean) and max-ms-after-available. Negative means
// Wait returned before the independent watch delivered the event.
// Run: go test ./internal/deploy -run '^$' -bench WaitLatency -benchtime 20x
func BenchmarkWaitLatency(b *testing.B) {
	m := newManager(b)
	ns := benchNamespace(b, "bench-latency", 0)
	defer deleteNamespace(b, ns)
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	var lags []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("lat%d", i)
		y := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, namespace: %s}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec: {containers: [{name: c, image: x}]}\n", name, ns, name, name)
		objs := parse(b, y)
		available := make(chan time.Time, 1)
		w, err := m.dynamic.Resource(gvr).Namespace(ns).Watch(b.Context(), metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			b.Fatal(err)
		}
		go watchAvailable(w, available)
		if _, err := m.Apply(b.Context(), objs, ApplyOptions{Namespace: ns}); err != nil {
			b.Fatal(err)
		}
		if err := m.Wait(b.Context(), refsOf(objs), WaitOptions{Timeout: time.Minute}); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		// The independent watch may see the event after Wait returned
		// (a negative lag): wait for it before stopping it.
		select {
		case at, ok := <-available:
			if !ok {
				b.Fatal("the independent watch ended before it saw the Deployment available")
			}
			lags = append(lags, returned.Sub(at))
		case <-time.After(time.Minute):
			b.Fatal("the independent watch did not see the Deployment available within a minute of Wait returning")
		}
		w.Stop()
	}
	var sum time.Duration
	for _, l := range lags {
		sum += l
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(lags))/1000, "ms-after-available")
	b.ReportMetric(float64(slices.Max(lags).Microseconds())/1000, "max-ms-after-available")
}

// watchAvailable sends the time the watch first sees the Deployment
// Current, then closes the channel.
func watchAvailable(w watch.Interface, out chan<- time.Time) {
	defer close(out)
	for ev := range w.ResultChan() {
		if u, ok := ev.Object.(*unstructured.Unstructured); ok && ComputeStatus(u).State == Current {
			out <- time.Now()
			return
		}
	}
}
