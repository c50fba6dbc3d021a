package supplychain

import (
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/kubeenv"
)

var kenv *kubeenv.Env

// TestMain runs the package against a real API server (no nodes: admission
// happens before scheduling).
func TestMain(m *testing.M) { os.Exit(kubeenv.Main(m, kubeenv.Options{}, &kenv)) }

func TestAdmissionPolicy(t *testing.T) {
	ctx := t.Context()
	cs := kenv.Client()
	for _, ns := range []string{"prod", "dev"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const prodHost = "prod.registry.test:5000"
	if err := EnsureAdmissionPolicy(ctx, kenv.Config, prodHost, "prod", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second call updates in place.
	if err := EnsureAdmissionPolicy(ctx, kenv.Config, prodHost, "prod", time.Minute); err != nil {
		t.Fatalf("second EnsureAdmissionPolicy: %v", err)
	}
	digest := "@sha256:" + strings.Repeat("ab", 32)
	pod := func(ns, image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Namespace: ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
		}
	}
	for _, tc := range []struct {
		name, ns, image, want string
	}{
		{"tag-only prod image is rejected", "prod", prodHost + "/app:v1", "images must be pinned by digest"},
		{"non-prod registry is rejected", "prod", "nonprod.registry.test:5000/app" + digest, "images must come from the prod registry " + prodHost},
		{"docker hub short name is rejected", "prod", "nginx", "images must come from the prod registry"},
		{"digest-pinned prod image is admitted", "prod", prodHost + "/app" + digest, ""},
		{"other namespaces are not guarded", "dev", "nginx:latest", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cs.CoreV1().Pods(tc.ns).Create(ctx, pod(tc.ns, tc.image), metav1.CreateOptions{})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("deployment with an init container from elsewhere is rejected", func(t *testing.T) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{
						InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
						Containers:     []corev1.Container{{Name: "web", Image: prodHost + "/web" + digest}},
					},
				},
			},
		}
		_, err := cs.AppsV1().Deployments("prod").Create(ctx, d, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "busybox:1.36") {
			t.Errorf("err = %v, want a rejection naming busybox:1.36", err)
		}
		d.Spec.Template.Spec.InitContainers = nil
		if _, err := cs.AppsV1().Deployments("prod").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Errorf("compliant deployment rejected: %v", err)
		}
	})
}
