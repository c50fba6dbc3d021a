package observe

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func pod(name string, restarts int32, waiting string) corev1.Pod {
	cs := corev1.ContainerStatus{Name: "web", RestartCount: restarts}
	if waiting != "" {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting}
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{cs}}}
}

func TestCrashLooping(t *testing.T) {
	tests := []struct {
		name     string
		pods     []corev1.Pod
		baseline map[string]int32
		want     string
	}{
		{"healthy", []corev1.Pod{pod("a", 0, ""), pod("b", 0, "")}, nil, ""},
		{"back-off", []corev1.Pod{pod("a", 0, ""), pod("b", 1, "CrashLoopBackOff")}, nil, "pod b: container web is in CrashLoopBackOff (1 restarts)"},
		{"restarts before the deploy", []corev1.Pod{pod("a", 5, "")}, map[string]int32{"uid-a/web": 4}, ""},
		{"restarts since the deploy", []corev1.Pod{pod("a", 6, "")}, map[string]int32{"uid-a/web": 4}, "pod a: container web restarted 2 times since the deploy"},
		{"a new pod that restarted", []corev1.Pod{pod("c", 2, "")}, map[string]int32{"uid-a/web": 4}, "pod c: container web restarted 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CrashLooping(tt.pods, tt.baseline, 2)
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Errorf("CrashLooping = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	dep := func(replicas, available int32, cond corev1.ConditionStatus) *appsv1.Deployment {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}, Status: appsv1.DeploymentStatus{AvailableReplicas: available}}
		if cond != "" {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: cond, Message: "Deployment does not have minimum availability."}}
		}
		return d
	}
	for _, tt := range []struct {
		d    *appsv1.Deployment
		want string
	}{
		{dep(2, 2, corev1.ConditionTrue), ""},
		{dep(0, 0, ""), ""},
		{dep(3, 2, corev1.ConditionTrue), "2 of 3 replicas available"},
		{dep(1, 0, corev1.ConditionFalse), "not available: Deployment does not have minimum availability."},
	} {
		if got := Unavailable(tt.d); got != tt.want {
			t.Errorf("Unavailable(%d of %d) = %q, want %q", tt.d.Status.AvailableReplicas, *tt.d.Spec.Replicas, got, tt.want)
		}
	}
}
