package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"conveyor.dev/conveyor/internal/deploy"
)

// Labels and names of what a reconciler keeps in the cluster.
const (
	// LabelName is on every object a reconciler applies, and on its
	// inventory: the reconciler's name.
	LabelName = "gitops.conveyor.dev/name"
	// InventoryPrefix starts the name of the inventory ConfigMap.
	InventoryPrefix = "conveyor-gitops-"
)

// Inventory is what one reconciler applied last: the objects (for pruning),
// the revision they came from and the last result.
type Inventory struct {
	Objects  []deploy.ObjectRef
	Revision string
	// Result is the last reconcile's result as JSON.
	Result []byte
}

// inventoryStore keeps inventories in ConfigMaps named InventoryPrefix+name
// in the reconciler's namespace, so that the cluster itself says what it
// holds (and a second process reconciling the same entry sees it).
type inventoryStore struct {
	core kubernetes.Interface
}

func (s inventoryStore) load(ctx context.Context, ns, name string) (Inventory, bool, error) {
	cm, err := s.core.CoreV1().ConfigMaps(ns).Get(ctx, InventoryPrefix+name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Inventory{}, false, nil
	}
	if err != nil {
		return Inventory{}, false, fmt.Errorf("inventory %s/%s%s: %w", ns, InventoryPrefix, name, err)
	}
	inv := Inventory{Revision: cm.Data["revision"], Result: []byte(cm.Data["result"])}
	if s := cm.Data["objects"]; s != "" {
		if err := json.Unmarshal([]byte(s), &inv.Objects); err != nil {
			return Inventory{}, false, fmt.Errorf("inventory %s/%s%s: objects: %w", ns, InventoryPrefix, name, err)
		}
	}
	return inv, true, nil
}

func (s inventoryStore) save(ctx context.Context, ns, name string, inv Inventory) error {
	objs := append([]deploy.ObjectRef(nil), inv.Objects...)
	sort.Slice(objs, func(i, j int) bool { return refKey(objs[i]) < refKey(objs[j]) })
	js, err := json.Marshal(objs)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: InventoryPrefix + name, Namespace: ns,
			Labels: map[string]string{LabelName: name, "app.kubernetes.io/managed-by": "conveyor"}},
		Data: map[string]string{"objects": string(js), "revision": inv.Revision, "result": string(inv.Result)},
	}
	cms := s.core.CoreV1().ConfigMaps(ns)
	cur, err := cms.Get(ctx, cm.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: deploy.FieldManager})
	case err == nil:
		cm.ResourceVersion = cur.ResourceVersion
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: deploy.FieldManager})
	}
	if err != nil {
		return fmt.Errorf("inventory %s/%s: %w", ns, cm.Name, err)
	}
	return nil
}

func refKey(r deploy.ObjectRef) string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// union returns the refs of a and b, each once, a's first.
func union(a, b []deploy.ObjectRef) []deploy.ObjectRef {
	seen := map[deploy.ObjectRef]bool{}
	var out []deploy.ObjectRef
	for _, list := range [][]deploy.ObjectRef{a, b} {
		for _, r := range list {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}
