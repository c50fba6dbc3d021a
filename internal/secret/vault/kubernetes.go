package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kubernetes reads secrets from the Secrets of one namespace. A secret name
// is a Secret's name; its value is the data key "value", or the Secret's only
// key, or the key named after '#' ("db-creds#password"). List leaves out
// service-account tokens. Safe for concurrent use.
type Kubernetes struct {
	client    kubernetes.Interface
	namespace string
	cluster   string
}

var _ Provider = (*Kubernetes)(nil)

// NewKubernetes returns a provider for the Secrets of namespace through
// client; cluster names the cluster in errors.
func NewKubernetes(client kubernetes.Interface, cluster, namespace string) (*Kubernetes, error) {
	if namespace == "" {
		return nil, fmt.Errorf("kubernetes vault on cluster %s: no namespace: set namespace", cluster)
	}
	return &Kubernetes{client: client, namespace: namespace, cluster: cluster}, nil
}

// KubeConfig loads the REST config of a kubeconfig file and context (empty:
// its current context).
func KubeConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" {
		return nil, errors.New("no kubeconfig: set clusters.<name>.kubeconfig in conveyor.yaml, or start `conveyor cluster up` for local")
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

func (k *Kubernetes) String() string {
	return "kubernetes vault " + k.cluster + "/" + k.namespace
}

// Get returns the Secret's value: its key "value", its only key, or the key
// after '#'.
func (k *Kubernetes) Get(ctx context.Context, name string) ([]byte, error) {
	n, key := splitField(name)
	s, err := k.client.CoreV1().Secrets(k.namespace).Get(ctx, n, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s: secret %s: %w", k, n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: secret %s: %w", k, n, err)
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for kk, v := range s.Data {
		data[kk] = v
	}
	if key == "" {
		if _, ok := data["value"]; ok {
			key = "value"
		} else if len(data) == 1 {
			for kk := range data {
				key = kk
			}
		} else {
			keys := make([]string, 0, len(data))
			for kk := range data {
				keys = append(keys, kk)
			}
			slices.Sort(keys)
			return nil, fmt.Errorf("%s: secret %s: %d keys (%s) and none is named value: name one as secret#key", k, n, len(data), strings.Join(keys, ", "))
		}
	}
	v, ok := data[key]
	if !ok {
		return nil, fmt.Errorf("%s: secret %s: key %s: %w", k, n, key, ErrNotFound)
	}
	return v, nil
}

// List returns the namespace's Secrets, one version each, sorted by name.
func (k *Kubernetes) List(ctx context.Context) ([]Info, error) {
	var out []Info
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := k.client.CoreV1().Secrets(k.namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: list: %w", k, err)
		}
		for _, s := range l.Items {
			if s.Type == corev1.SecretTypeServiceAccountToken {
				continue
			}
			out = append(out, Info{Name: s.Name, Versions: 1, Created: s.CreationTimestamp.Time, Updated: s.CreationTimestamp.Time})
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
