package deploy

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Canary qualifies a canary deploy (Azure's pod traffic split).
type Canary struct {
	// Percentage of the workload's replicas the canary and the baseline
	// each get (rounded, at least 1).
	Percentage float64
	// Replicas, when positive, is the canary's and the baseline's
	// replica count instead (baselineAndCanaryReplicas).
	Replicas int64
}

// CanaryObjects derives what a canary deploy applies from the built
// objects: for each canary workload, <name>-canary (the new spec) and,
// when the stable object is live, <name>-baseline (a copy of the live
// stable spec), both with the canary replica count; every other object
// as it is. live returns the live stable object of a workload, nil when
// it does not exist.
func CanaryObjects(objs []*unstructured.Unstructured, c Canary, live func(*unstructured.Unstructured) (*unstructured.Unstructured, error)) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		if !IsCanaryWorkload(obj) {
			out = append(out, obj)
			continue
		}
		n := c.Replicas
		if n <= 0 {
			n = CanaryReplicas(specReplicas(obj), c.Percentage)
		}
		out = append(out, CanaryObject(obj, n))
		stable, err := live(obj)
		if err != nil {
			return nil, err
		}
		if stable != nil {
			out = append(out, BaselineObject(stable, n))
		}
	}
	return out, nil
}

// DeployCanary applies the canary and baseline of req's workloads (and
// req's other objects as they are) and waits for them. The stable
// workloads are not touched; no revision is recorded and nothing is
// rolled back (reject removes the canary).
func (d *Deployer) DeployCanary(ctx context.Context, req Request, c Canary) (Result, error) {
	var res Result
	where := req.Target.Environment + "/" + req.Target.Namespace
	objs, err := d.Build(ctx, req)
	if err != nil {
		return res, fmt.Errorf("canary deploy to %s: %w", where, err)
	}
	objs, err = CanaryObjects(objs, c, func(o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		l, err := d.Manager.Get(ctx, RefOf(o))
		if IsNotFound(err) {
			d.logf("%s has no stable object yet: deploying the canary without a baseline", RefOf(o))
			return nil, nil
		}
		return l, err
	})
	if err != nil {
		return res, fmt.Errorf("canary deploy to %s: %w", where, err)
	}
	res.Images = Images(objs)
	cs, err := d.Manager.Apply(ctx, objs, ApplyOptions{Namespace: req.Target.Namespace})
	res.Applied = cs
	for _, e := range cs.Entries {
		d.logf("  %s", e)
	}
	if err != nil {
		return res, fmt.Errorf("canary deploy to %s: %w", where, err)
	}
	if err := d.Manager.Wait(ctx, refsOf(objs), WaitOptions{Timeout: req.Timeout, Progress: d.Progress}); err != nil {
		return res, fmt.Errorf("canary deploy to %s: %w (reject the canary to remove it)", where, err)
	}
	return res, nil
}

// Promote deploys req's objects as the stable version (labelled
// azure-pipelines/version=stable; with Deploy's rollback, record and
// prune), and on success deletes their canary and baseline.
func (d *Deployer) Promote(ctx context.Context, req Request) (Result, error) {
	where := req.Target.Environment + "/" + req.Target.Namespace
	objs, err := d.Build(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("promote to %s: %w", where, err)
	}
	for i, o := range objs {
		if IsCanaryWorkload(o) {
			objs[i] = StableObject(o)
		}
	}
	res, err := d.applyAndWait(ctx, req, objs)
	if err != nil {
		return res, err
	}
	deleted, err := d.Manager.Delete(ctx, canaryRefs(objs))
	for _, e := range deleted.Entries {
		d.logf("  %s", e)
	}
	res.Pruned.Append(deleted)
	if err != nil {
		return res, fmt.Errorf("promote to %s: %w", where, err)
	}
	return res, nil
}

// Reject deletes the canary and baseline of req's workloads.
func (d *Deployer) Reject(ctx context.Context, req Request) (ChangeSet, error) {
	objs := make([]*unstructured.Unstructured, len(req.Objects))
	for i, o := range req.Objects {
		objs[i] = o.DeepCopy()
	}
	if err := d.Manager.SetNamespaces(objs, req.Target.Namespace); err != nil {
		return ChangeSet{}, fmt.Errorf("reject canary in %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
	}
	cs, err := d.Manager.Delete(ctx, canaryRefs(objs))
	for _, e := range cs.Entries {
		d.logf("  %s", e)
	}
	if err != nil {
		return cs, fmt.Errorf("reject canary in %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
	}
	return cs, nil
}

// canaryRefs lists the canary and baseline of every canary workload.
func canaryRefs(objs []*unstructured.Unstructured) []ObjectRef {
	var refs []ObjectRef
	for _, o := range objs {
		if !IsCanaryWorkload(o) {
			continue
		}
		r := RefOf(o)
		c, b := r, r
		c.Name += CanarySuffix
		b.Name += BaselineSuffix
		refs = append(refs, c, b)
	}
	return refs
}
