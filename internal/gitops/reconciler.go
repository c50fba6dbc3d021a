package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
)

// Spec is what one reconciler keeps true on its cluster.
type Spec struct {
	// Name identifies the reconciler: it names the inventory ConfigMap and
	// labels the objects (LabelName). Required.
	Name string
	// Namespace is given to namespaced objects without one and holds the
	// inventory; empty means "default".
	Namespace string
	// Interval is the time between two reconciles of a Controller; zero
	// means config.DefaultGitOpsInterval.
	Interval time.Duration
	// Timeout bounds the health wait; zero means
	// config.DefaultGitOpsTimeout (a loop must not wait forever).
	Timeout time.Duration
	// Prune deletes what the previous reconcile applied and the source no
	// longer holds.
	Prune bool
	// Wait waits for the applied objects to be healthy.
	Wait bool
	// Suspend makes Reconcile do nothing until resumed.
	Suspend bool
	// Render says how the fetched folder becomes objects.
	Render RenderOptions
	// Images replace the images of the same repository in the rendered
	// objects (as a deploy step's containers input).
	Images []string
	// PinDigests resolves every image named by tag to its digest at each
	// reconcile (WithResolver), so the cluster runs exact bytes.
	PinDigests bool
}

// Phase names a step of a reconcile.
type Phase string

// The phases of a reconcile, in order.
const (
	PhaseFetch  Phase = "fetch"
	PhaseRender Phase = "render"
	PhaseApply  Phase = "apply"
	PhasePrune  Phase = "prune"
	PhaseHealth Phase = "health"
	PhaseRecord Phase = "record"
)

// Health is the applied objects' health after a reconcile.
type Health string

// The health of a Result.
const (
	Healthy   Health = "Healthy"
	Unhealthy Health = "Unhealthy"
	// Unknown: not waited for (Wait off), or the reconcile stopped before.
	Unknown Health = "Unknown"
)

// Result is what one reconcile did.
type Result struct {
	Name     string
	Source   string
	Revision string // the revision fetched; empty when the fetch failed
	Applied  deploy.ChangeSet
	Pruned   deploy.ChangeSet
	Health   Health
	// HealthMessage says why the objects are not healthy.
	HealthMessage string
	// Suspended: nothing was done.
	Suspended bool
	// Phase is the phase that failed; empty on success.
	Phase Phase
	// Err is why the reconcile failed; nil on success.
	Err      error
	Started  time.Time
	Duration time.Duration
}

// OK reports whether the reconcile succeeded (or was suspended).
func (r Result) OK() bool { return r.Err == nil }

type changeJSON struct {
	Kind      string `json:"kind"`
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    string `json:"action"`
}

func changesJSON(cs deploy.ChangeSet) []changeJSON {
	out := make([]changeJSON, 0, len(cs.Entries))
	for _, e := range cs.Entries {
		out = append(out, changeJSON{Kind: e.Ref.Kind, Group: e.Ref.Group, Namespace: e.Ref.Namespace, Name: e.Ref.Name, Action: string(e.Action)})
	}
	return out
}

// MarshalJSON is the form of --output json and of the inventory's record.
func (r Result) MarshalJSON() ([]byte, error) {
	v := struct {
		Name          string       `json:"name"`
		Source        string       `json:"source"`
		Revision      string       `json:"revision,omitempty"`
		Suspended     bool         `json:"suspended,omitempty"`
		Applied       []changeJSON `json:"applied"`
		Pruned        []changeJSON `json:"pruned"`
		Health        Health       `json:"health"`
		HealthMessage string       `json:"healthMessage,omitempty"`
		Phase         Phase        `json:"failedPhase,omitempty"`
		Error         string       `json:"error,omitempty"`
		Started       time.Time    `json:"started"`
		DurationMS    int64        `json:"durationMs"`
	}{r.Name, r.Source, r.Revision, r.Suspended, changesJSON(r.Applied), changesJSON(r.Pruned), r.Health, r.HealthMessage,
		r.Phase, "", r.Started, r.Duration.Milliseconds()}
	if r.Err != nil {
		v.Error = r.Err.Error()
	}
	return json.Marshal(v)
}

// String is one line: name, revision, counts, health or error.
func (r Result) String() string {
	if r.Suspended {
		return r.Name + ": suspended"
	}
	var b strings.Builder
	b.WriteString(r.Name)
	if r.Revision != "" {
		b.WriteString(" at " + r.Revision)
	}
	if len(r.Applied.Entries) > 0 || r.Phase == "" || r.Phase == PhaseHealth {
		fmt.Fprintf(&b, ": %d created, %d configured, %d unchanged", r.Applied.Count(deploy.Created), r.Applied.Count(deploy.Configured), r.Applied.Count(deploy.Unchanged))
		if n := r.Pruned.Count(deploy.Deleted); n > 0 {
			fmt.Fprintf(&b, ", %d pruned", n)
		}
	}
	if r.Err != nil {
		fmt.Fprintf(&b, ": %v", strings.TrimPrefix(r.Err.Error(), "gitops "+r.Name+": "))
	} else {
		fmt.Fprintf(&b, "; %s", strings.ToLower(string(r.Health)))
	}
	fmt.Fprintf(&b, " (%s)", r.Duration.Round(time.Millisecond))
	return b.String()
}

// Reconciler keeps one Spec true on one cluster. Reconcile may be called
// from several goroutines; reconciles of one Reconciler run one at a time.
type Reconciler struct {
	spec     Spec
	src      Source
	mgr      *deploy.ResourceManager
	inv      inventoryStore
	clock    Clock
	workDir  string
	resolver deploy.ImageResolver

	run sync.Mutex // held by a running reconcile

	mu        sync.Mutex
	suspended bool
	last      *Result
}

// Option configures a Reconciler or a Controller.
type Option func(*options) error

type options struct {
	clock    Clock
	workDir  string
	resolver deploy.ImageResolver
}

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("gitops: nil clock")
		}
		o.clock = c
		return nil
	}
}

// WithWorkDir sets where fetched sources are unpacked, each reconcile in
// its own temporary folder removed after (default os.TempDir()).
func WithWorkDir(dir string) Option {
	return func(o *options) error { o.workDir = dir; return nil }
}

// WithResolver sets how image tags become digests for Spec.PinDigests.
func WithResolver(r deploy.ImageResolver) Option {
	return func(o *options) error { o.resolver = r; return nil }
}

func buildOptions(opts []Option) (options, error) {
	o := options{clock: realClock{}}
	for _, f := range opts {
		if err := f(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// NewReconciler returns a reconciler of spec from src onto the cluster cfg
// reaches.
func NewReconciler(spec Spec, src Source, cfg *rest.Config, opts ...Option) (*Reconciler, error) {
	if spec.Name == "" {
		return nil, errors.New("gitops: a reconciler needs a name")
	}
	if src == nil {
		return nil, fmt.Errorf("gitops %s: no source", spec.Name)
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if spec.Namespace == "" {
		spec.Namespace = "default"
	}
	if spec.Timeout <= 0 {
		spec.Timeout = config.DefaultGitOpsTimeout
	}
	mgr, err := deploy.NewResourceManager(cfg)
	if err != nil {
		return nil, fmt.Errorf("gitops %s: %w", spec.Name, err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("gitops %s: %w", spec.Name, err)
	}
	return &Reconciler{spec: spec, src: src, mgr: mgr, inv: inventoryStore{core}, clock: o.clock, workDir: o.workDir, resolver: o.resolver, suspended: spec.Suspend}, nil
}

// Name is the spec's name.
func (r *Reconciler) Name() string { return r.spec.Name }

// Spec returns the reconciler's spec.
func (r *Reconciler) Spec() Spec { return r.spec }

// SetSuspended suspends (true) or resumes (false) the reconciler.
func (r *Reconciler) SetSuspended(s bool) {
	r.mu.Lock()
	r.suspended = s
	r.mu.Unlock()
}

// Last returns the result of the last reconcile; false before the first.
func (r *Reconciler) Last() (Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return Result{}, false
	}
	return *r.last, true
}

// Inventory returns what the cluster records of the last reconcile (the
// ConfigMap InventoryPrefix+name); false when there is none yet.
func (r *Reconciler) Inventory(ctx context.Context) (Inventory, bool, error) {
	return r.inv.load(ctx, r.spec.Namespace, r.spec.Name)
}

// Reconcile runs the phases once — fetch, render, apply, prune, health,
// record — and returns what it did; the error is also in Result.Err, with
// the phase that failed in Result.Phase. A suspended reconciler returns a
// Result with Suspended set and touches nothing.
func (r *Reconciler) Reconcile(ctx context.Context) (Result, error) {
	r.run.Lock()
	defer r.run.Unlock()
	res := Result{Name: r.spec.Name, Source: r.src.String(), Health: Unknown, Started: r.clock.Now()}
	r.mu.Lock()
	suspended := r.suspended
	r.mu.Unlock()
	if suspended {
		res.Suspended = true
		r.record(&res)
		return res, nil
	}
	err := r.reconcile(ctx, &res)
	res.Duration = r.clock.Now().Sub(res.Started)
	if err != nil {
		res.Err = fmt.Errorf("gitops %s: %s: %w", r.spec.Name, res.Phase, err)
	}
	r.record(&res)
	if res.Err == nil || res.Phase != PhaseRecord {
		if rerr := r.saveResult(context.WithoutCancel(ctx), res); rerr != nil && res.Err == nil {
			res.Phase, res.Err = PhaseRecord, fmt.Errorf("gitops %s: %s: %w", r.spec.Name, PhaseRecord, rerr)
			r.record(&res)
		}
	}
	return res, res.Err
}

func (r *Reconciler) record(res *Result) {
	r.mu.Lock()
	last := *res
	r.last = &last
	r.mu.Unlock()
}

// saveResult writes res into the inventory, keeping its objects.
func (r *Reconciler) saveResult(ctx context.Context, res Result) error {
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	inv, found, err := r.inv.load(ctx, r.spec.Namespace, r.spec.Name)
	if err != nil {
		return err
	}
	if !found && res.Phase == PhaseFetch {
		return nil // nothing applied yet, and maybe no namespace either
	}
	inv.Result = js
	return r.inv.save(ctx, r.spec.Namespace, r.spec.Name, inv)
}

func (r *Reconciler) reconcile(ctx context.Context, res *Result) error {
	ns := r.spec.Namespace

	res.Phase = PhaseFetch
	if r.workDir != "" {
		if err := os.MkdirAll(r.workDir, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(r.workDir, "gitops-"+r.spec.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rev, err := r.src.Fetch(ctx, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", r.src, err)
	}
	res.Revision = rev

	res.Phase = PhaseRender
	ro := r.spec.Render
	if ro.ReleaseName == "" {
		ro.ReleaseName = r.spec.Name
	}
	if ro.Namespace == "" {
		ro.Namespace = ns
	}
	objs, err := Render(ctx, dir, ro)
	if err != nil {
		return fmt.Errorf("revision %s: %w", rev, err)
	}
	deploy.SubstituteImages(objs, r.spec.Images)
	if r.spec.PinDigests {
		digests, err := deploy.ResolveDigests(ctx, objs, r.resolver)
		if err != nil {
			return fmt.Errorf("revision %s: %w", rev, err)
		}
		deploy.PinImages(objs, digests)
	}
	label(objs, r.spec.Name)
	if err := r.mgr.SetNamespaces(objs, ns); err != nil {
		return err
	}
	if err := checkUnique(objs); err != nil {
		return fmt.Errorf("revision %s: %w", rev, err)
	}
	deploy.SortForApply(objs)
	current := make([]deploy.ObjectRef, len(objs))
	for i, o := range objs {
		current[i] = deploy.RefOf(o)
	}

	res.Phase = PhaseApply
	if _, err := r.mgr.EnsureNamespace(ctx, ns); err != nil {
		return err
	}
	prev, _, err := r.inv.load(ctx, ns, r.spec.Name)
	if err != nil {
		return err
	}
	cs, err := r.mgr.Apply(ctx, objs, deploy.ApplyOptions{Namespace: ns})
	res.Applied = cs
	if err != nil {
		// What was applied before stays known, so a later prune finds it.
		if serr := r.inv.save(ctx, ns, r.spec.Name, Inventory{Objects: union(prev.Objects, current), Revision: prev.Revision}); serr != nil {
			err = errors.Join(err, serr)
		}
		return err
	}

	res.Phase = PhasePrune
	keep := current
	if r.spec.Prune {
		pruned, err := r.mgr.Prune(ctx, prev.Objects, current)
		res.Pruned = pruned
		if err != nil {
			if serr := r.inv.save(ctx, ns, r.spec.Name, Inventory{Objects: union(prev.Objects, current), Revision: rev}); serr != nil {
				err = errors.Join(err, serr)
			}
			return err
		}
	}
	if err := r.inv.save(ctx, ns, r.spec.Name, Inventory{Objects: keep, Revision: rev}); err != nil {
		res.Phase = PhaseRecord
		return err
	}

	res.Phase = PhaseHealth
	if r.spec.Wait {
		if err := r.mgr.Wait(ctx, current, deploy.WaitOptions{Timeout: r.spec.Timeout}); err != nil {
			res.Health, res.HealthMessage = Unhealthy, err.Error()
			return err
		}
		res.Health = Healthy
	}
	res.Phase = ""
	return nil
}

// label puts LabelName on every object.
func label(objs []*unstructured.Unstructured, name string) {
	for _, o := range objs {
		l := o.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[LabelName] = name
		o.SetLabels(l)
	}
}

// checkUnique refuses two objects with the same kind, namespace and name.
func checkUnique(objs []*unstructured.Unstructured) error {
	seen := map[deploy.ObjectRef]bool{}
	for _, o := range objs {
		ref := deploy.RefOf(o)
		if seen[ref] {
			return fmt.Errorf("%s in namespace %q is in the manifests twice", ref, ref.Namespace)
		}
		seen[ref] = true
	}
	return nil
}
