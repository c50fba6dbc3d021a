package deploy

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Patch patches the object ref names with patch of the given type (json,
// merge or strategic merge) as the conveyor field manager.
func (m *ResourceManager) Patch(ctx context.Context, ref ObjectRef, pt types.PatchType, patch []byte) (ChangeSet, error) {
	ri, _, err := m.resource(ref)
	if err != nil {
		return ChangeSet{}, fmt.Errorf("patch %s: %w", ref, err)
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return ChangeSet{}, fmt.Errorf("patch %s: %w", ref, err)
	}
	out, err := ri.Patch(ctx, ref.Name, pt, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return ChangeSet{}, fmt.Errorf("patch %s: %w", ref, err)
	}
	a := Configured
	if out.GetResourceVersion() == live.GetResourceVersion() {
		a = Unchanged
	}
	return ChangeSet{Entries: []ChangeSetEntry{{ref, a}}}, nil
}

// Scale sets the replicas of the workload ref names.
func (m *ResourceManager) Scale(ctx context.Context, ref ObjectRef, replicas int64) (ChangeSet, error) {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	cs, err := m.Patch(ctx, ref, types.MergePatchType, patch)
	if err != nil {
		return cs, fmt.Errorf("scale %s to %d: %w", ref, replicas, err)
	}
	return cs, nil
}
