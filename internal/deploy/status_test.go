package deploy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	objs, err := ParseManifests([]Manifest{{Name: t.Name(), Data: []byte(y)}})
	if err != nil || len(objs) != 1 {
		t.Fatalf("parse %s: %v (%d objects)", y, err, len(objs))
	}
	return objs[0]
}

func TestComputeStatus(t *testing.T) {
	tests := []struct {
		name string
		obj  string
		want State
	}{
		{"configmap", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}`, Current},
		{"deployment new, no status", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 1}, spec: {replicas: 2}}`, InProgress},
		{"deployment generation not observed", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 2}, spec: {replicas: 1},
			status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}}`, InProgress},
		{"deployment rolled out", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
			conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}}`, Current},
		{"deployment default replicas", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 1}, spec: {},
			status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}}`, Current},
		{"deployment old replicas left", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3}}`, InProgress},
		{"deployment updated not available", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1}}`, InProgress},
		{"deployment deadline exceeded", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}}`, Failed},
		{"deployment paused", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {paused: true}}`, InProgress},
		{"deployment scaled to zero", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, generation: 1}, spec: {replicas: 0}, status: {observedGeneration: 1}}`, Current},
		{"statefulset rolling", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s, generation: 1}, spec: {replicas: 2},
			status: {observedGeneration: 1, readyReplicas: 2, currentReplicas: 1, updatedReplicas: 1, currentRevision: a, updateRevision: b}}`, InProgress},
		{"statefulset done", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s, generation: 1}, spec: {replicas: 2},
			status: {observedGeneration: 1, readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, currentRevision: b, updateRevision: b}}`, Current},
		{"statefulset partition", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}},
			status: {readyReplicas: 3, updatedReplicas: 1, currentRevision: a, updateRevision: b}}`, Current},
		{"statefulset not ready", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {replicas: 2}, status: {readyReplicas: 1}}`, InProgress},
		{"daemonset unreported", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds}}`, InProgress},
		{"daemonset updating", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds}, status: {desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 2}}`, InProgress},
		{"daemonset done", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds}, status: {desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2, numberReady: 2}}`, Current},
		{"replicaset ready", `{apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: r}, spec: {replicas: 1}, status: {readyReplicas: 1, availableReplicas: 1}}`, Current},
		{"replicaset not ready", `{apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: r}, spec: {replicas: 2}, status: {readyReplicas: 1, availableReplicas: 1}}`, InProgress},
		{"job running", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, status: {active: 1}}`, InProgress},
		{"job complete", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, status: {succeeded: 1, conditions: [{type: Complete, status: "True"}]}}`, Current},
		{"job failed", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, status: {conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded}]}}`, Failed},
		{"pod ready", `{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Running, conditions: [{type: Ready, status: "True"}]}}`, Current},
		{"pod crashing", `{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Running, conditions: [{type: Ready, status: "False"}],
			containerStatuses: [{name: c, ready: false, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff}}}]}}`, InProgress},
		{"pod failed", `{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Failed}}`, Failed},
		{"pod succeeded", `{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Succeeded}}`, Current},
		{"service cluster ip", `{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {type: ClusterIP}}`, Current},
		{"service lb pending", `{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {type: LoadBalancer}}`, InProgress},
		{"service lb ready", `{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {type: LoadBalancer}, status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}}`, Current},
		{"pvc pending", `{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: c}, status: {phase: Pending}}`, InProgress},
		{"pvc bound", `{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: c}, status: {phase: Bound}}`, Current},
		{"namespace active", `{apiVersion: v1, kind: Namespace, metadata: {name: ns1}, status: {phase: Active}}`, Current},
		{"namespace terminating", `{apiVersion: v1, kind: Namespace, metadata: {name: ns1}, status: {phase: Terminating}}`, InProgress},
		{"crd established", `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}, status: {conditions: [{type: Established, status: "True"}]}}`, Current},
		{"crd pending", `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}}`, InProgress},
		{"crd names rejected", `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}, status: {conditions: [{type: NamesAccepted, status: "False"}]}}`, Failed},
		{"custom ready", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w, generation: 3}, status: {observedGeneration: 3, conditions: [{type: Ready, status: "True"}]}}`, Current},
		{"custom not ready", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w}, status: {conditions: [{type: Ready, status: "False", reason: Waiting}]}}`, InProgress},
		{"custom stale generation", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w, generation: 3}, status: {observedGeneration: 2, conditions: [{type: Ready, status: "True"}]}}`, InProgress},
		{"custom stalled", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w}, status: {conditions: [{type: Stalled, status: "True"}]}}`, Failed},
		{"custom reconciling", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w}, status: {conditions: [{type: Reconciling, status: "True"}]}}`, InProgress},
		{"custom without status", `{apiVersion: x.dev/v1, kind: Widget, metadata: {name: w}}`, Current},
		{"being deleted", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, deletionTimestamp: "2026-01-01T00:00:00Z"}}`, InProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeStatus(obj(t, tt.obj))
			if diff := cmp.Diff(tt.want, got.State); diff != "" {
				t.Errorf("state (-want +got):\n%s\nmessage: %s", diff, got.Message)
			}
			if got.Message == "" {
				t.Error("empty message")
			}
		})
	}
	if got := ComputeStatus(nil); got.State != NotFound {
		t.Errorf("nil object: %v, want NotFound", got)
	}
}
