package deploy

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ApplyOptions qualify Apply.
type ApplyOptions struct {
	// Namespace is given to namespaced objects without one.
	Namespace string
	// DefinitionsTimeout bounds the wait for namespaces and CRDs applied
	// in the first stage; zero means one minute.
	DefinitionsTimeout time.Duration
}

// Apply applies objs with server-side apply (field manager conveyor,
// conflicts forced) in two stages: namespaces and CRDs first, waited for
// until active and established, then every other object, in parallel. It
// returns what changed, in the order of objs; the error of an object
// starts with it ("apply Deployment/web: …"). objs get their namespaces
// set (see SetNamespaces).
func (m *ResourceManager) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (ChangeSet, error) {
	var defs, rest []*unstructured.Unstructured
	for _, obj := range objs {
		if isClusterDefinition(obj) {
			defs = append(defs, obj)
		} else {
			rest = append(rest, obj)
		}
	}
	var cs ChangeSet
	if len(defs) > 0 {
		if err := m.SetNamespaces(defs, opts.Namespace); err != nil {
			return cs, err
		}
		defCS, err := m.applyAll(ctx, defs)
		cs.Append(defCS)
		if err != nil {
			return cs, err
		}
		timeout := opts.DefinitionsTimeout
		if timeout == 0 {
			timeout = time.Minute
		}
		refs := make([]ObjectRef, len(defs))
		for i, d := range defs {
			refs[i] = RefOf(d)
		}
		if err := m.Wait(ctx, refs, WaitOptions{Timeout: timeout}); err != nil {
			return cs, fmt.Errorf("wait for namespaces and CRDs: %w", err)
		}
		m.mapper.Reset() // the new kinds are served now
	}
	if err := m.SetNamespaces(rest, opts.Namespace); err != nil {
		return cs, err
	}
	restCS, err := m.applyAll(ctx, rest)
	cs.Append(restCS)
	return cs, err
}

// applyAll applies objs in parallel and returns their entries in order.
func (m *ResourceManager) applyAll(ctx context.Context, objs []*unstructured.Unstructured) (ChangeSet, error) {
	entries := make([]ChangeSetEntry, len(objs))
	known, err := m.prefetch(ctx, objs)
	if err != nil {
		return ChangeSet{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.concurrency)
	for i, obj := range objs {
		g.Go(func() error {
			a, err := m.applyOne(gctx, obj, known)
			entries[i] = ChangeSetEntry{Ref: RefOf(obj), Action: a}
			return err
		})
	}
	err = g.Wait()
	var cs ChangeSet
	for _, e := range entries {
		if e.Action != "" {
			cs.Entries = append(cs.Entries, e)
		}
	}
	return cs, err
}

// prefetchMin is the number of objects of one kind and namespace from
// which Apply lists them all at once instead of getting each.
const prefetchMin = 4

// liveObjects holds what prefetch listed: for each listed kind and
// namespace, the live objects by name.
type liveObjects map[groupNS]map[string]*unstructured.Unstructured

type groupNS struct {
	gk schema.GroupKind
	ns string
}

// prefetch lists (one consistent read each) the kinds and
// namespaces holding at least prefetchMin of objs, so that Apply need not
// get each object to tell created from configured.
func (m *ResourceManager) prefetch(ctx context.Context, objs []*unstructured.Unstructured) (liveObjects, error) {
	count := map[groupNS]int{}
	for _, o := range objs {
		count[groupNS{o.GroupVersionKind().GroupKind(), o.GetNamespace()}]++
	}
	out := liveObjects{}
	for k, n := range count {
		if n < prefetchMin {
			continue
		}
		ri, _, err := m.resource(ObjectRef{Group: k.gk.Group, Kind: k.gk.Kind, Namespace: k.ns})
		if err != nil {
			return nil, fmt.Errorf("apply %s: %w", k.gk.Kind, err)
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // fall back to a get per object
		}
		byName := map[string]*unstructured.Unstructured{}
		for i := range list.Items {
			byName[list.Items[i].GetName()] = &list.Items[i]
		}
		out[k] = byName
	}
	return out, nil
}

func (m *ResourceManager) applyOne(ctx context.Context, obj *unstructured.Unstructured, known liveObjects) (Action, error) {
	ref := RefOf(obj)
	ri, _, err := m.resource(ref)
	if err != nil {
		return "", fmt.Errorf("apply %s: %w", ref, err)
	}
	var live *unstructured.Unstructured
	if byName, ok := known[groupNS{ref.GroupKind(), ref.Namespace}]; ok {
		live = byName[ref.Name]
	} else if live, err = ri.Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
		if !IsNotFound(err) {
			return "", fmt.Errorf("apply %s: %w", ref, err)
		}
		live = nil
	}
	applied, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return "", fmt.Errorf("apply %s: %w", ref, err)
	}
	switch {
	case live == nil:
		return Created, nil
	case sameDesiredState(live, applied):
		return Unchanged, nil
	default:
		return Configured, nil
	}
}

// sameDesiredState reports whether two versions of an object differ only
// in what controllers write (status, resourceVersion, managedFields): a
// controller updating the status between the read and the apply does not
// make an unchanged object configured.
func sameDesiredState(a, b *unstructured.Unstructured) bool {
	strip := func(o *unstructured.Unstructured) map[string]any {
		c := o.DeepCopy()
		delete(c.Object, "status")
		c.SetResourceVersion("")
		c.SetManagedFields(nil)
		return c.Object
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}
