package deploy

import (
	"math"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Azure's canary labels and name suffixes (KubernetesManifest, pod split).
const (
	VersionLabel    = "azure-pipelines/version"
	VersionCanary   = "canary"
	VersionBaseline = "baseline"
	VersionStable   = "stable"
	CanarySuffix    = "-canary"
	BaselineSuffix  = "-baseline"
)

// IsCanaryWorkload reports whether a canary deploy splits obj into canary
// and baseline copies: Deployments, ReplicaSets and StatefulSets. Other
// objects are applied as they are.
func IsCanaryWorkload(obj *unstructured.Unstructured) bool {
	gk := obj.GroupVersionKind().GroupKind()
	return gk.Group == "apps" && (gk.Kind == "Deployment" || gk.Kind == "ReplicaSet" || gk.Kind == "StatefulSet")
}

// CanaryReplicas is the replica count of the canary and of the baseline of
// a workload of replicas replicas: round(replicas × percentage / 100), at
// least 1.
func CanaryReplicas(replicas int64, percentage float64) int64 {
	n := int64(math.Round(float64(replicas) * percentage / 100))
	if n < 1 {
		n = 1
	}
	return n
}

// CanaryObject derives the canary of obj (the new spec): named
// <name>-canary, labelled azure-pipelines/version=canary on its metadata,
// selector and pod template, with replicas replicas.
func CanaryObject(obj *unstructured.Unstructured, replicas int64) *unstructured.Unstructured {
	return variant(obj, CanarySuffix, VersionCanary, replicas)
}

// BaselineObject derives the baseline from the live stable object: a copy
// of its spec named <name>-baseline, labelled
// azure-pipelines/version=baseline, with replicas replicas. Server-set
// fields and status are dropped.
func BaselineObject(stable *unstructured.Unstructured, replicas int64) *unstructured.Unstructured {
	return variant(Clean(stable), BaselineSuffix, VersionBaseline, replicas)
}

// StableObject labels obj azure-pipelines/version=stable on its metadata
// and pod template (not its selector, which is immutable).
func StableObject(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	setLabel(out.Object, VersionStable, "metadata", "labels")
	if podSpecPath(out) != nil && out.GetKind() != "Pod" {
		setLabel(out.Object, VersionStable, "spec", "template", "metadata", "labels")
	}
	return out
}

func variant(obj *unstructured.Unstructured, suffix, version string, replicas int64) *unstructured.Unstructured {
	out := obj.DeepCopy()
	out.SetName(obj.GetName() + suffix)
	setLabel(out.Object, version, "metadata", "labels")
	setLabel(out.Object, version, "spec", "selector", "matchLabels")
	setLabel(out.Object, version, "spec", "template", "metadata", "labels")
	_ = unstructured.SetNestedField(out.Object, replicas, "spec", "replicas")
	return out
}

func setLabel(obj map[string]any, version string, path ...string) {
	labels, _, _ := unstructured.NestedStringMap(obj, path...)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[VersionLabel] = version
	_ = unstructured.SetNestedStringMap(obj, labels, path...)
}

// Clean returns a copy of a live object fit to apply again: status and
// the fields the server sets (uid, resourceVersion, generation,
// creationTimestamp, managedFields, owner references) dropped, and the
// annotations controllers add removed.
func Clean(live *unstructured.Unstructured) *unstructured.Unstructured {
	out := live.DeepCopy()
	delete(out.Object, "status")
	md, _ := out.Object["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		delete(md, k)
	}
	a := out.GetAnnotations()
	for _, k := range []string{"deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration"} {
		delete(a, k)
	}
	if len(a) == 0 {
		a = nil
	}
	out.SetAnnotations(a)
	return out
}
