package supplychain

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// AdmissionPolicyName is the name of the policy (and binding) guarding
// namespace.
func AdmissionPolicyName(namespace string) string { return "conveyor-images." + namespace }

// AdmissionPolicy returns a ValidatingAdmissionPolicy and its binding that
// reject, in namespace, Pods and the pod templates of Deployments,
// ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs whose containers
// (init and ephemeral ones too) use an image that is not from registryHost
// ("prod.example:5000") or not pinned by digest (@sha256:…). It is pure.
func AdmissionPolicy(registryHost, namespace string) (*admv1.ValidatingAdmissionPolicy, *admv1.ValidatingAdmissionPolicyBinding) {
	name := AdmissionPolicyName(namespace)
	prefix := strconv.Quote(strings.TrimSuffix(registryHost, "/") + "/")
	ops := []admv1.OperationType{admv1.Create, admv1.Update}
	rule := func(group, version string, resources ...string) admv1.NamedRuleWithOperations {
		return admv1.NamedRuleWithOperations{RuleWithOperations: admv1.RuleWithOperations{
			Operations: ops,
			Rule:       admv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources},
		}}
	}
	fail := admv1.Fail
	labels := map[string]string{"app.kubernetes.io/managed-by": "conveyor"}
	policy := &admv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admv1.MatchResources{ResourceRules: []admv1.NamedRuleWithOperations{
				rule("", "v1", "pods"),
				rule("apps", "v1", "deployments", "replicasets", "statefulsets", "daemonsets"),
				rule("batch", "v1", "jobs", "cronjobs"),
			}},
			Variables: []admv1.Variable{
				{Name: "spec", Expression: `object.kind == 'Pod' ? object.spec : ` +
					`(object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)`},
				{Name: "images", Expression: `variables.spec.containers.map(c, c.image)` +
					` + (has(variables.spec.initContainers) ? variables.spec.initContainers.map(c, c.image) : [])` +
					` + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers.map(c, c.image) : [])`},
			},
			Validations: []admv1.Validation{
				{
					Expression: `variables.images.all(i, i.startsWith(` + prefix + `))`,
					MessageExpression: `'images must come from the prod registry ` + registryHost + `; not: ' + ` +
						`variables.images.filter(i, !i.startsWith(` + prefix + `)).join(', ') + ` +
						`' (promote them with conveyor promote)'`,
					Reason: ptr(metav1.StatusReasonForbidden),
				},
				{
					Expression: `variables.images.all(i, i.matches('@sha256:[a-f0-9]{64}$'))`,
					MessageExpression: `'images must be pinned by digest (image@sha256:...); not: ' + ` +
						`variables.images.filter(i, !i.matches('@sha256:[a-f0-9]{64}$')).join(', ')`,
					Reason: ptr(metav1.StatusReasonForbidden),
				},
			},
		},
	}
	binding := &admv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: admv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admv1.ValidationAction{admv1.Deny},
			MatchResources: &admv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
			}},
		},
	}
	return policy, binding
}

func ptr[T any](v T) *T { return &v }

// EnsureAdmissionPolicy creates or updates the policy and binding of
// AdmissionPolicy on the cluster of cfg, then waits (up to timeout; zero
// means one minute) until the API server enforces them: a dry-run pod with
// a tag-only image in namespace is rejected.
func EnsureAdmissionPolicy(ctx context.Context, cfg *rest.Config, registryHost, namespace string, timeout time.Duration) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("admission policy for %s: %w", namespace, err)
	}
	policy, binding := AdmissionPolicy(registryHost, namespace)
	vap := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	if cur, err := vap.Get(ctx, policy.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = vap.Create(ctx, policy, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create ValidatingAdmissionPolicy/%s: %w", policy.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("get ValidatingAdmissionPolicy/%s: %w", policy.Name, err)
	} else {
		policy.ResourceVersion = cur.ResourceVersion
		if _, err := vap.Update(ctx, policy, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update ValidatingAdmissionPolicy/%s: %w", policy.Name, err)
		}
	}
	vapb := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	if cur, err := vapb.Get(ctx, binding.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := vapb.Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create ValidatingAdmissionPolicyBinding/%s: %w", binding.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("get ValidatingAdmissionPolicyBinding/%s: %w", binding.Name, err)
	} else {
		binding.ResourceVersion = cur.ResourceVersion
		if _, err := vapb.Update(ctx, binding, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update ValidatingAdmissionPolicyBinding/%s: %w", binding.Name, err)
		}
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "conveyor-admission-probe-", Namespace: namespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "conveyor.invalid/probe:latest"}}},
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		switch {
		case err == nil:
			last = errors.New("a tag-only image from another registry is still admitted")
			return false, nil
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			if strings.Contains(err.Error(), "images must") {
				return true, nil
			}
			last = err
			return false, nil
		case apierrors.IsNotFound(err):
			return false, fmt.Errorf("namespace %s: %w", namespace, err)
		default:
			last = err
			return false, nil
		}
	})
	if err != nil {
		return fmt.Errorf("admission policy %s: not enforced after %s: %w (last: %v)", policy.Name, timeout, err, last)
	}
	return nil
}
