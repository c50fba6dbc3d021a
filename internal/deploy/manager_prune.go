package deploy

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Prune deletes the objects of previous that are not in current, when
// Conveyor applied them (their managed fields name the conveyor field
// manager). Namespaces and CRDs are never pruned (deleting them deletes
// everything in or of them): they are reported as skipped.
func (m *ResourceManager) Prune(ctx context.Context, previous, current []ObjectRef) (ChangeSet, error) {
	keep := map[ObjectRef]bool{}
	for _, r := range current {
		keep[r] = true
	}
	var cs ChangeSet
	for _, r := range previous {
		if keep[r] {
			continue
		}
		if r.GroupKind().String() == "Namespace" || r.GroupKind().String() == "CustomResourceDefinition.apiextensions.k8s.io" {
			cs.Entries = append(cs.Entries, ChangeSetEntry{r, Skipped})
			continue
		}
		live, err := m.Get(ctx, r)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return cs, fmt.Errorf("prune %s: %w", r, err)
		}
		if !managedByConveyor(live.GetManagedFields()) {
			cs.Entries = append(cs.Entries, ChangeSetEntry{r, Skipped})
			continue
		}
		a, err := m.delete(ctx, r)
		if err != nil {
			return cs, fmt.Errorf("prune %s: %w", r, err)
		}
		if a != "" {
			cs.Entries = append(cs.Entries, ChangeSetEntry{r, a})
		}
	}
	return cs, nil
}

func managedByConveyor(fs []metav1.ManagedFieldsEntry) bool {
	for _, f := range fs {
		if f.Manager == FieldManager {
			return true
		}
	}
	return false
}

// Delete deletes the objects refs names (background propagation); objects
// already gone are left out of the ChangeSet.
func (m *ResourceManager) Delete(ctx context.Context, refs []ObjectRef) (ChangeSet, error) {
	var cs ChangeSet
	for _, r := range refs {
		a, err := m.delete(ctx, r)
		if err != nil {
			return cs, fmt.Errorf("delete %s: %w", r, err)
		}
		if a != "" {
			cs.Entries = append(cs.Entries, ChangeSetEntry{r, a})
		}
	}
	return cs, nil
}

func (m *ResourceManager) delete(ctx context.Context, r ObjectRef) (Action, error) {
	ri, _, err := m.resource(r)
	if err != nil {
		return "", err
	}
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return Deleted, nil
}
