package kubetest

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/secret/vault/vaulttest"
)

var env *kubeenv.Env

func TestMain(m *testing.M) { os.Exit(kubeenv.Main(m, kubeenv.Options{}, &env)) }

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T, name string) string {
	t.Helper()
	_, err := env.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// setter writes a value as the Secret's "value" key, creating or updating it.
func setter(ns string) vaulttest.Setter {
	return func(ctx context.Context, name string, v []byte) error {
		secrets := env.Client().CoreV1().Secrets(ns)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"value": v}}
		_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		}
		return err
	}
}

func TestKubernetesProvider(t *testing.T) {
	ns := namespace(t, "suite")
	cfg := config.Default()
	cfg.Clusters["test"] = config.Cluster{Kubeconfig: env.Kubeconfig, Context: kubeenv.ContextName}
	p, err := vault.OpenConfigured(t.Context(), cfg, config.Vault{Provider: config.ProviderKubernetes, Cluster: "test", Namespace: ns}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.RunProvider(t, p, setter(ns))
}

func TestKubernetesProviderKeys(t *testing.T) {
	ns := namespace(t, "keys")
	_, err := env.Client().CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-creds"},
		StringData: map[string]string{"user": "app", "password": "k8s-field-secret"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := vault.NewKubernetes(env.Client(), "test", ns)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(t.Context(), "db-creds#password")
	if err != nil || string(got) != "k8s-field-secret" {
		t.Fatalf("Get(db-creds#password) = %q, %v", got, err)
	}
	_, err = p.Get(t.Context(), "db-creds")
	if err == nil || !strings.Contains(err.Error(), "password, user") || strings.Contains(err.Error(), "k8s-field-secret") {
		t.Fatalf("Get(db-creds) = %v, want an error naming the keys, not the values", err)
	}
	if _, err := p.Get(t.Context(), "db-creds#nope"); err == nil || !strings.Contains(err.Error(), "key nope") {
		t.Fatalf("Get(db-creds#nope) = %v, want a not-found naming the key", err)
	}
}

func TestKubernetesProviderNeedsNamespaceAndKubeconfig(t *testing.T) {
	cfg := config.Default()
	cfg.Clusters["nokube"] = config.Cluster{}
	_, err := vault.OpenConfigured(t.Context(), cfg, config.Vault{Provider: config.ProviderKubernetes, Cluster: "nokube", Namespace: "x"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no kubeconfig") {
		t.Fatalf("without kubeconfig: %v", err)
	}
	cfg.Clusters["test"] = config.Cluster{Kubeconfig: env.Kubeconfig}
	_, err = vault.OpenConfigured(t.Context(), cfg, config.Vault{Provider: config.ProviderKubernetes, Cluster: "test"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no namespace") {
		t.Fatalf("without namespace: %v", err)
	}
}
