package helmkube_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/deploy"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// availableAt watches Deployment ns/name and sends the moment its rollout
// is complete (every replica updated and available) on the returned channel.
func availableAt(ctx context.Context, tb testing.TB, ns, name string) <-chan time.Time {
	tb.Helper()
	w, err := env.Client().AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan time.Time, 1)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want && d.Status.AvailableReplicas == want && d.Status.Replicas == want {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// BenchmarkHelmInstallWait installs the test chart (2 replicas on kwok
// nodes) with --wait and reports how long the install took against when the
// Deployment really was available: helm's own wait polls every 2 s,
// Conveyor's every WaitInterval.
func BenchmarkHelmInstallWait(b *testing.B) {
	ch, err := deploy.LoadHelmChart(b.Context(), chartDir, "", deploy.HelmPullOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{
		{"helm-2s-poll", deploy.HelmWaitPollHelm},
		{"conveyor-default", 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := b.Context()
			ns := "bench-" + tc.name
			if _, err := env.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			h, err := deploy.NewHelm(deploy.HelmOptions{Kubeconfig: env.Kubeconfig, Namespace: ns, WaitInterval: tc.interval})
			if err != nil {
				b.Fatal(err)
			}
			var install, avail time.Duration
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("r%d", i)
				b.StopTimer()
				at := availableAt(ctx, b, ns, name+"-web")
				b.StartTimer()
				start := time.Now()
				if _, err := h.Install(ctx, name, ch, deploy.HelmInstallOptions{Wait: true, Timeout: time.Minute, SkipCRDs: true}); err != nil {
					b.Fatal(err)
				}
				done := time.Now()
				b.StopTimer()
				select {
				case t := <-at:
					avail += t.Sub(start)
				case <-time.After(10 * time.Second):
					b.Fatalf("install --wait returned but the watch never saw %s available", name)
				}
				install += done.Sub(start)
				if _, _, err := h.Uninstall(ctx, name, deploy.HelmUninstallOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(install.Milliseconds())/n, "install-ms/op")
			b.ReportMetric(float64(avail.Milliseconds())/n, "available-ms/op")
			b.ReportMetric(float64((install-avail).Milliseconds())/n, "overhead-ms/op")
		})
	}
}
