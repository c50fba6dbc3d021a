package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Deployer runs a deploy's phases on one cluster: build (images, digests,
// annotations) → apply → health wait → rollback or record → prune.
type Deployer struct {
	// Manager reaches the cluster. Required.
	Manager *ResourceManager
	// Revisions keeps successful deploys; nil means no rollback, no
	// record and no prune.
	Revisions RevisionStore
	// Resolver turns image tags into digests; nil fails a deploy of an
	// image named by tag.
	Resolver ImageResolver
	// Progress receives what happens, line by line; nil discards it.
	Progress io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Gate, when set, checks the images a deploy will run (pinned by
	// digest) before anything is applied; its error stops the deploy.
	Gate func(ctx context.Context, images []string) error
}

// Request is one deploy.
type Request struct {
	Target  Target
	Objects []*unstructured.Unstructured // parsed manifests; not modified
	// Containers replace the images of the same repository (Azure's
	// containers input).
	Containers       []string
	ImagePullSecrets []string
	Metadata         Metadata
	// Timeout bounds the health wait (and, again, the rollback's).
	Timeout time.Duration
	// Rollback re-applies the last successful revision when the health
	// wait fails.
	Rollback bool
	// Prune deletes the objects of the last revision that are no longer
	// in the manifests.
	Prune bool
}

// DefaultRollbackTimeout bounds a rollback's health wait when the request
// has no timeout.
const DefaultRollbackTimeout = 5 * time.Minute

// Result is what a deploy did.
type Result struct {
	Applied  ChangeSet
	Pruned   ChangeSet
	Revision Revision // the revision recorded (or, after a rollback, restored)
	Images   []string // the images applied, by digest
}

// DeployError is a failed health wait, with what the rollback did.
type DeployError struct {
	Target Target
	Wait   error // why the deploy was not healthy (a *WaitError)
	// Restored is the revision put back; nil when there was no rollback.
	Restored *Revision
	// RollbackErr is why the rollback failed, if it did.
	RollbackErr error
	// NoRollback says why no rollback was tried.
	NoRollback string
}

func (e *DeployError) Error() string {
	msg := fmt.Sprintf("deploy to %s/%s: %v", e.Target.Environment, e.Target.Namespace, e.Wait)
	switch {
	case e.RollbackErr != nil && e.Restored != nil:
		msg += fmt.Sprintf("; rollback to revision %d (run %s, commit %s) failed too: %v", e.Restored.Number, e.Restored.Run, short(e.Restored.Commit), e.RollbackErr)
	case e.RollbackErr != nil:
		msg += fmt.Sprintf("; rollback failed: %v", e.RollbackErr)
	case e.Restored != nil:
		msg += fmt.Sprintf("; rolled back to revision %d (run %s, commit %s, images %v), which is healthy again", e.Restored.Number, e.Restored.Run, short(e.Restored.Commit), e.Restored.Images)
	case e.NoRollback != "":
		msg += "; not rolled back: " + e.NoRollback
	}
	return msg
}

func (e *DeployError) Unwrap() error { return e.Wait }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func (d *Deployer) logf(format string, a ...any) {
	if d.Progress != nil {
		fmt.Fprintf(d.Progress, format+"\n", a...)
	}
}

func (d *Deployer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Build returns the objects of req as they will be applied: copies with
// the containers substituted, image pull secrets added, every image pinned
// to its digest, the conveyor.dev annotations set, namespaces given and
// sorted for applying.
func (d *Deployer) Build(ctx context.Context, req Request) ([]*unstructured.Unstructured, error) {
	objs := make([]*unstructured.Unstructured, len(req.Objects))
	for i, o := range req.Objects {
		objs[i] = o.DeepCopy()
	}
	SubstituteImages(objs, req.Containers)
	AddImagePullSecrets(objs, req.ImagePullSecrets)
	digests, err := ResolveDigests(ctx, objs, d.Resolver)
	if err != nil {
		return nil, err
	}
	PinImages(objs, digests)
	if d.Gate != nil {
		if err := d.Gate(ctx, Images(objs)); err != nil {
			return nil, err
		}
	}
	Annotate(objs, req.Metadata)
	if err := d.Manager.SetNamespaces(objs, req.Target.Namespace); err != nil {
		return nil, err
	}
	SortForApply(objs)
	return objs, nil
}

// Deploy builds, applies and waits for req's objects. When the wait fails
// and req.Rollback is set, it re-applies the last successful revision,
// waits for it and returns a *DeployError saying what failed and what was
// restored. On success it records the new revision and, with req.Prune,
// deletes what the last revision had and this one has not.
func (d *Deployer) Deploy(ctx context.Context, req Request) (Result, error) {
	var res Result
	objs, err := d.Build(ctx, req)
	if err != nil {
		return res, fmt.Errorf("deploy to %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
	}
	return d.applyAndWait(ctx, req, objs)
}

func (d *Deployer) applyAndWait(ctx context.Context, req Request, objs []*unstructured.Unstructured) (Result, error) {
	var res Result
	var last Revision
	var found bool
	if d.Revisions != nil {
		var err error
		if last, found, err = d.Revisions.LastRevision(ctx, req.Target); err != nil {
			return res, fmt.Errorf("deploy to %s/%s: last revision: %w", req.Target.Environment, req.Target.Namespace, err)
		}
	}
	res.Images = Images(objs)
	if created, err := d.Manager.EnsureNamespace(ctx, req.Target.Namespace); err != nil {
		return res, fmt.Errorf("deploy to %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
	} else if created {
		d.logf("Created namespace %s", req.Target.Namespace)
	}
	d.logf("Applying %d objects to namespace %s", len(objs), req.Target.Namespace)
	cs, err := d.Manager.Apply(ctx, objs, ApplyOptions{Namespace: req.Target.Namespace})
	res.Applied = cs
	for _, e := range cs.Entries {
		d.logf("  %s", e)
	}
	if err != nil {
		return res, fmt.Errorf("deploy to %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
	}
	refs := refsOf(objs)
	d.logf("Waiting up to %s for %d objects to be healthy", timeoutText(req.Timeout), len(refs))
	start := d.now()
	if werr := d.Manager.Wait(ctx, refs, WaitOptions{Timeout: req.Timeout, Progress: d.Progress}); werr != nil {
		if ctx.Err() != nil && !isTimeout(werr) {
			return res, fmt.Errorf("deploy to %s/%s: %w", req.Target.Environment, req.Target.Namespace, werr)
		}
		derr := &DeployError{Target: req.Target, Wait: werr}
		switch {
		case !req.Rollback:
			derr.NoRollback = "rollbackOnFailure is off"
		case d.Revisions == nil:
			derr.NoRollback = "no revision store"
		case !found:
			derr.NoRollback = "no earlier successful deploy to " + req.Target.Environment + "/" + req.Target.Namespace
		default:
			d.logf("Deploy failed: %v", werr)
			d.logf("Rolling back to revision %d (run %s, commit %s)", last.Number, last.Run, short(last.Commit))
			derr.Restored = &last
			derr.RollbackErr = d.restore(context.WithoutCancel(ctx), req, last, refs)
		}
		return res, derr
	}
	d.logf("All %d objects healthy after %s", len(refs), d.now().Sub(start).Round(time.Millisecond))
	manifests, err := EncodeManifests(objs)
	if err != nil {
		return res, err
	}
	rev := Revision{Target: req.Target, Manifests: manifests, Objects: refs, Images: res.Images,
		Run: req.Metadata.Run, Commit: req.Metadata.Commit, CreatedAt: d.now()}
	if d.Revisions != nil {
		if err := d.Revisions.RecordRevision(ctx, rev); err != nil {
			return res, fmt.Errorf("deploy to %s/%s: record revision: %w", req.Target.Environment, req.Target.Namespace, err)
		}
		if r, ok, err := d.Revisions.LastRevision(ctx, req.Target); err == nil && ok {
			rev = r
		}
	}
	res.Revision = rev
	if req.Prune && found {
		pruned, err := d.Manager.Prune(ctx, last.Objects, refs)
		res.Pruned = pruned
		for _, e := range pruned.Entries {
			d.logf("  %s (pruned)", e)
		}
		if err != nil {
			return res, fmt.Errorf("deploy to %s/%s: %w", req.Target.Environment, req.Target.Namespace, err)
		}
	}
	return res, nil
}

// restore re-applies rev and waits for it, pruning what the failed deploy
// added when req.Prune is set.
func (d *Deployer) restore(ctx context.Context, req Request, rev Revision, failed []ObjectRef) error {
	objs, err := ParseManifests([]Manifest{{Name: fmt.Sprintf("revision %d", rev.Number), Data: rev.Manifests}})
	if err != nil {
		return err
	}
	cs, err := d.Manager.Apply(ctx, objs, ApplyOptions{Namespace: req.Target.Namespace})
	for _, e := range cs.Entries {
		d.logf("  %s", e)
	}
	if err != nil {
		return err
	}
	refs := refsOf(objs)
	// The rollback runs on a context the step's end does not cancel, so
	// its wait is always bounded.
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultRollbackTimeout
	}
	if err := d.Manager.Wait(ctx, refs, WaitOptions{Timeout: timeout, Progress: d.Progress, KeepWaitingOnFailed: true}); err != nil {
		return err
	}
	d.logf("Revision %d is healthy again", rev.Number)
	if req.Prune {
		pruned, err := d.Manager.Prune(ctx, failed, refs)
		for _, e := range pruned.Entries {
			d.logf("  %s (pruned)", e)
		}
		return err
	}
	return nil
}

func refsOf(objs []*unstructured.Unstructured) []ObjectRef {
	refs := make([]ObjectRef, len(objs))
	for i, o := range objs {
		refs[i] = RefOf(o)
	}
	return refs
}

func isTimeout(err error) bool {
	var we *WaitError
	return errors.As(err, &we)
}

func timeoutText(d time.Duration) string {
	if d <= 0 {
		return "the step's timeout"
	}
	return d.String()
}
