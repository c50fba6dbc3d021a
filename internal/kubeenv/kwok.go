package kubeenv

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

//go:embed kwok_stages.yaml
var kwokConfig []byte

func (e *Env) startKwok(ctx context.Context) error {
	cfg := filepath.Join(e.Dir, "kwok.yaml")
	if err := os.WriteFile(cfg, kwokConfig, 0o644); err != nil {
		return fmt.Errorf("kwok: %w", err)
	}
	if _, err := e.startComponent("kwok", []string{e.bin("kwok"),
		"--kubeconfig=" + e.Kubeconfig,
		"--config=" + cfg,
	}, nil); err != nil {
		return err
	}
	for i := range e.opts.KwokNodes {
		n := kwokNode(fmt.Sprintf("kwok-node-%d", i), e.opts.RealNode)
		if _, err := e.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		e.KwokNodes = append(e.KwokNodes, n.Name)
	}
	return nil
}

// kwokNode is a fake node managed by kwok; tainted when real workloads
// should go to the real node instead.
func kwokNode(name string, tainted bool) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok", NodeKindLabel: NodeKindKwok,
			},
		},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110"),
			},
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110"),
			},
		},
	}
	if tainted {
		n.Spec.Taints = []corev1.Taint{{Key: KwokTaintKey, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

// OnKwok makes a pod spec run on kwok nodes: it selects them and tolerates
// their taint (set when a real node is present too).
func OnKwok(spec *corev1.PodSpec) {
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector[NodeKindLabel] = NodeKindKwok
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: KwokTaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
}
