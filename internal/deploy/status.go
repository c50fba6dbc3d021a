package deploy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// State is the health of an object, with kstatus's names.
type State string

// The states of an object.
const (
	// Current: the object is what its spec asks for (rolled out, ready).
	Current State = "Current"
	// InProgress: the object is getting there.
	InProgress State = "InProgress"
	// Failed: the object will not get there without a change (a
	// Deployment past its progress deadline, a failed Job).
	Failed State = "Failed"
	// NotFound: the object does not exist.
	NotFound State = "NotFound"
)

// Status is an object's health and a one-line reason for it.
type Status struct {
	State   State
	Message string
}

// ComputeStatus returns the health of obj by the rules of its kind:
// Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, Pods,
// Services, PersistentVolumeClaims, Namespaces and CRDs have their own;
// every other object is judged by its observedGeneration and its standard
// conditions (Ready, Stalled, Reconciling), and is Current without them.
func ComputeStatus(obj *unstructured.Unstructured) Status {
	if obj == nil {
		return Status{NotFound, "not found"}
	}
	if obj.GetDeletionTimestamp() != nil {
		return Status{InProgress, "being deleted"}
	}
	if st, ok := generationStatus(obj); !ok {
		return st
	}
	switch gk := obj.GroupVersionKind().GroupKind(); {
	case gk.Group == "apps" && gk.Kind == "Deployment":
		return deploymentStatus(obj)
	case gk.Group == "apps" && gk.Kind == "ReplicaSet", gk.Group == "" && gk.Kind == "ReplicationController":
		return replicaSetStatus(obj)
	case gk.Group == "apps" && gk.Kind == "StatefulSet":
		return statefulSetStatus(obj)
	case gk.Group == "apps" && gk.Kind == "DaemonSet":
		return daemonSetStatus(obj)
	case gk.Group == "batch" && gk.Kind == "Job":
		return jobStatus(obj)
	case gk.Group == "" && gk.Kind == "Pod":
		return podStatus(obj)
	case gk.Group == "" && gk.Kind == "Service":
		return serviceStatus(obj)
	case gk.Group == "" && gk.Kind == "PersistentVolumeClaim":
		return pvcStatus(obj)
	case gk.Group == "" && gk.Kind == "Namespace":
		if phase := str(obj, "status", "phase"); phase != "" && phase != "Active" {
			return Status{InProgress, "namespace is " + phase}
		}
		return Status{Current, "active"}
	case gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition":
		return crdStatus(obj)
	}
	return conditionsStatus(obj)
}

// generationStatus is InProgress while the controller has not seen the
// latest spec; ok is true when there is nothing to wait for on that count.
func generationStatus(obj *unstructured.Unstructured) (Status, bool) {
	observed, found, err := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	if !found || err != nil {
		return Status{}, true
	}
	if gen := obj.GetGeneration(); observed < gen {
		return Status{InProgress, fmt.Sprintf("controller has not observed generation %d yet (at %d)", gen, observed)}, false
	}
	return Status{}, true
}

func str(obj *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, path...)
	return s
}

func num(obj *unstructured.Unstructured, path ...string) int64 {
	n, _, _ := unstructured.NestedInt64(obj.Object, path...)
	return n
}

// specReplicas is spec.replicas, 1 when unset (the API default).
func specReplicas(obj *unstructured.Unstructured) int64 {
	n, found, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if !found || err != nil {
		return 1
	}
	return n
}

type condition struct{ Type, Status, Reason, Message string }

func conditions(obj *unstructured.Unstructured) map[string]condition {
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := map[string]condition{}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		c := condition{s("type"), s("status"), s("reason"), s("message")}
		out[c.Type] = c
	}
	return out
}

func deploymentStatus(obj *unstructured.Unstructured) Status {
	conds := conditions(obj)
	if c, ok := conds["Progressing"]; ok && c.Reason == "ProgressDeadlineExceeded" {
		return Status{Failed, fmt.Sprintf("progress deadline exceeded: %s", c.Message)}
	}
	if b, _, _ := unstructured.NestedBool(obj.Object, "spec", "paused"); b {
		return Status{InProgress, "rollout is paused"}
	}
	want := specReplicas(obj)
	replicas := num(obj, "status", "replicas")
	updated := num(obj, "status", "updatedReplicas")
	ready := num(obj, "status", "readyReplicas")
	available := num(obj, "status", "availableReplicas")
	switch {
	case updated < want:
		return Status{InProgress, fmt.Sprintf("%d of %d replicas updated, %d ready", updated, want, ready)}
	case replicas > updated:
		return Status{InProgress, fmt.Sprintf("%d old replicas pending termination", replicas-updated)}
	case available < updated:
		return Status{InProgress, fmt.Sprintf("%d of %d updated replicas available", available, updated)}
	}
	if c, ok := conds["Available"]; ok && c.Status != "True" {
		return Status{InProgress, "not available: " + c.Message}
	}
	return Status{Current, fmt.Sprintf("%d of %d replicas available", available, want)}
}

func replicaSetStatus(obj *unstructured.Unstructured) Status {
	want := specReplicas(obj)
	ready := num(obj, "status", "readyReplicas")
	available := num(obj, "status", "availableReplicas")
	if c, ok := conditions(obj)["ReplicaFailure"]; ok && c.Status == "True" {
		return Status{InProgress, "replica failure: " + c.Message}
	}
	if ready < want || available < want {
		return Status{InProgress, fmt.Sprintf("%d of %d replicas ready, %d available", ready, want, available)}
	}
	return Status{Current, fmt.Sprintf("%d of %d replicas ready", ready, want)}
}

func statefulSetStatus(obj *unstructured.Unstructured) Status {
	want := specReplicas(obj)
	ready := num(obj, "status", "readyReplicas")
	current := num(obj, "status", "currentReplicas")
	updated := num(obj, "status", "updatedReplicas")
	if ready < want {
		return Status{InProgress, fmt.Sprintf("%d of %d replicas ready", ready, want)}
	}
	if str(obj, "spec", "updateStrategy", "type") != "OnDelete" {
		partition := num(obj, "spec", "updateStrategy", "rollingUpdate", "partition")
		if partition > 0 {
			if updated < want-partition {
				return Status{InProgress, fmt.Sprintf("%d of %d replicas updated (partition %d)", updated, want-partition, partition)}
			}
		} else if cur, upd := str(obj, "status", "currentRevision"), str(obj, "status", "updateRevision"); cur != upd {
			return Status{InProgress, fmt.Sprintf("%d of %d replicas updated, %d at the old revision", updated, want, current)}
		}
	}
	return Status{Current, fmt.Sprintf("%d of %d replicas ready", ready, want)}
}

func daemonSetStatus(obj *unstructured.Unstructured) Status {
	desired := num(obj, "status", "desiredNumberScheduled")
	updated := num(obj, "status", "updatedNumberScheduled")
	available := num(obj, "status", "numberAvailable")
	ready := num(obj, "status", "numberReady")
	if _, found, _ := unstructured.NestedInt64(obj.Object, "status", "desiredNumberScheduled"); !found {
		return Status{InProgress, "controller has not reported yet"}
	}
	switch {
	case updated < desired:
		return Status{InProgress, fmt.Sprintf("%d of %d pods updated", updated, desired)}
	case available < desired:
		return Status{InProgress, fmt.Sprintf("%d of %d pods available, %d ready", available, desired, ready)}
	}
	return Status{Current, fmt.Sprintf("%d of %d pods available", available, desired)}
}

func jobStatus(obj *unstructured.Unstructured) Status {
	conds := conditions(obj)
	if c, ok := conds["Failed"]; ok && c.Status == "True" {
		return Status{Failed, fmt.Sprintf("job failed: %s %s", c.Reason, c.Message)}
	}
	if c, ok := conds["Complete"]; ok && c.Status == "True" {
		return Status{Current, fmt.Sprintf("job complete: %d succeeded", num(obj, "status", "succeeded"))}
	}
	return Status{InProgress, fmt.Sprintf("job running: %d active, %d succeeded, %d failed",
		num(obj, "status", "active"), num(obj, "status", "succeeded"), num(obj, "status", "failed"))}
}

func podStatus(obj *unstructured.Unstructured) Status {
	switch phase := str(obj, "status", "phase"); phase {
	case "Succeeded":
		return Status{Current, "pod succeeded"}
	case "Failed":
		return Status{Failed, "pod failed: " + str(obj, "status", "reason")}
	case "Running":
		if c, ok := conditions(obj)["Ready"]; ok && c.Status == "True" {
			return Status{Current, "pod ready"}
		}
		if r := podProblem(obj); r != "" {
			return Status{InProgress, "pod not ready: " + r}
		}
		return Status{InProgress, "pod running, not ready"}
	default:
		if r := podProblem(obj); r != "" {
			return Status{InProgress, "pod " + phase + ": " + r}
		}
		return Status{InProgress, "pod " + phase}
	}
}

// podProblem says why a pod is not ready, from its containers' waiting or
// terminated states and its conditions; empty when nothing is said.
func podProblem(obj *unstructured.Unstructured) string {
	for _, field := range []string{"initContainerStatuses", "containerStatuses"} {
		list, _, _ := unstructured.NestedSlice(obj.Object, "status", field)
		for _, item := range list {
			m, _ := item.(map[string]any)
			name, _ := m["name"].(string)
			if ready, _ := m["ready"].(bool); ready {
				continue
			}
			if w, ok, _ := unstructured.NestedMap(m, "state", "waiting"); ok {
				if r, _ := w["reason"].(string); r != "" {
					restarts, _, _ := unstructured.NestedInt64(m, "restartCount")
					if restarts > 0 {
						return fmt.Sprintf("container %s %s (%d restarts)", name, r, restarts)
					}
					return fmt.Sprintf("container %s %s", name, r)
				}
			}
			if t, ok, _ := unstructured.NestedMap(m, "state", "terminated"); ok {
				r, _ := t["reason"].(string)
				return fmt.Sprintf("container %s terminated %s", name, r)
			}
		}
	}
	conds := conditions(obj)
	if c, ok := conds["PodScheduled"]; ok && c.Status == "False" {
		return "unschedulable: " + c.Message
	}
	if c, ok := conds["Ready"]; ok && c.Status != "True" && c.Reason != "" {
		return c.Reason
	}
	return ""
}

func serviceStatus(obj *unstructured.Unstructured) Status {
	if str(obj, "spec", "type") == "LoadBalancer" {
		ingress, _, _ := unstructured.NestedSlice(obj.Object, "status", "loadBalancer", "ingress")
		if len(ingress) == 0 {
			return Status{InProgress, "waiting for a load balancer address"}
		}
	}
	return Status{Current, "service ready"}
}

func pvcStatus(obj *unstructured.Unstructured) Status {
	if phase := str(obj, "status", "phase"); phase != "Bound" {
		return Status{InProgress, "claim is " + phase}
	}
	return Status{Current, "claim bound"}
}

func crdStatus(obj *unstructured.Unstructured) Status {
	conds := conditions(obj)
	if c, ok := conds["NamesAccepted"]; ok && c.Status == "False" {
		return Status{Failed, "names not accepted: " + c.Message}
	}
	if c, ok := conds["Established"]; ok && c.Status == "True" {
		return Status{Current, "established"}
	}
	return Status{InProgress, "not established yet"}
}

// conditionsStatus is the generic rule for custom resources (kstatus's
// standard conditions).
func conditionsStatus(obj *unstructured.Unstructured) Status {
	conds := conditions(obj)
	if c, ok := conds["Stalled"]; ok && c.Status == "True" {
		return Status{Failed, fmt.Sprintf("stalled: %s %s", c.Reason, c.Message)}
	}
	if c, ok := conds["Reconciling"]; ok && c.Status == "True" {
		return Status{InProgress, fmt.Sprintf("reconciling: %s %s", c.Reason, c.Message)}
	}
	if c, ok := conds["Ready"]; ok {
		if c.Status == "True" {
			return Status{Current, "ready"}
		}
		return Status{InProgress, fmt.Sprintf("not ready: %s %s", c.Reason, c.Message)}
	}
	return Status{Current, "exists"}
}
