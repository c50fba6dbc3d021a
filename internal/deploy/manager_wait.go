package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// WaitOptions qualify Wait.
type WaitOptions struct {
	// Timeout bounds the wait; zero means until ctx ends.
	Timeout time.Duration
	// Progress receives a line whenever an object's status or the reason
	// its pods are not ready changes; nil means nothing is written.
	Progress io.Writer
	// KeepWaitingOnFailed waits on through Failed states until the timeout
	// (a rollback, whose objects still show the failure they recover from).
	KeepWaitingOnFailed bool
}

// ObjectStatus is one object's health.
type ObjectStatus struct {
	Ref    ObjectRef
	Status Status
}

// WaitError says why Wait gave up: the objects that were not Current (with
// the reasons of their failing pods and their warning events), and whether
// the time ran out or an object Failed.
type WaitError struct {
	Timeout  bool
	Waited   time.Duration
	Pending  []ObjectStatus
	Problems []string // pods' reasons and warning events, one a line
}

func (e *WaitError) Error() string {
	var parts []string
	for _, p := range e.Pending {
		parts = append(parts, fmt.Sprintf("%s %s: %s", p.Ref, p.Status.State, p.Status.Message))
	}
	msg := strings.Join(parts, "; ")
	if e.Timeout {
		msg = fmt.Sprintf("not healthy after %s: %s", e.Waited.Round(time.Millisecond), msg)
	}
	if len(e.Problems) > 0 {
		msg += " (" + strings.Join(e.Problems, "; ") + ")"
	}
	return msg
}

// Wait watches the objects refs names until every one is Current
// (ComputeStatus), and fails as soon as one is Failed or when the timeout
// passes; the error is then a *WaitError. It is driven by watches (one
// informer per kind and namespace, plus one on the pods of namespaces
// holding workloads, to report why pods are not ready), so it returns
// within a watch event's delivery of the last object turning Current.
func (m *ResourceManager) Wait(ctx context.Context, refs []ObjectRef, opts WaitOptions) error {
	if len(refs) == 0 {
		return nil
	}
	start := time.Now()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	type groupKey struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[groupKey]map[string]ObjectRef{}
	keys := map[ObjectRef]string{} // the informer store key of each ref
	podNamespaces := map[string]bool{}
	for _, ref := range refs {
		mp, err := m.mapping(ref)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", ref, err)
		}
		ns := ref.Namespace
		if mp.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		keys[ref] = ref.Name
		if ns != "" {
			keys[ref] = ns + "/" + ref.Name
		}
		k := groupKey{mp.Resource, ns}
		if groups[k] == nil {
			groups[k] = map[string]ObjectRef{}
		}
		groups[k][ref.Name] = ref
		if isWorkload(ref) {
			podNamespaces[ns] = true
		}
	}

	w := &waitState{dirty: map[ObjectRef]bool{}, notify: make(chan struct{}, 1), fatal: make(chan struct{})}
	stores := map[ObjectRef]cache.Store{}
	var synced []cache.InformerSynced
	for k, byName := range groups {
		ri := m.dynamic.Resource(k.gvr).Namespace(k.ns)
		sel := ""
		if len(byName) == 1 {
			for name := range byName {
				sel = fields.OneTermEqualSelector("metadata.name", name).String()
			}
		}
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = sel
				return ri.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = sel
				return ri.Watch(ctx, o)
			},
		}
		inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
		byName := byName
		mark := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(metav1.Object); ok {
				if ref, ok := byName[o.GetName()]; ok {
					w.markObject(ref)
				}
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: mark, UpdateFunc: func(_, n any) { mark(n) }, DeleteFunc: mark,
		}); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				w.fail(fmt.Errorf("watch %s: %w", k.gvr.GroupResource(), err))
				return
			}
			cache.DefaultWatchErrorHandler(ctx, r, err)
		}); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		for _, ref := range byName {
			stores[ref] = inf.GetStore()
		}
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	podStores := map[string]cache.Store{}
	for ns := range podNamespaces {
		lw := cache.NewListWatchFromClient(m.core.CoreV1().RESTClient(), "pods", ns, fields.Everything())
		inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { w.markPods() }, UpdateFunc: func(any, any) { w.markPods() }, DeleteFunc: func(any) { w.markPods() },
		}); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		podStores[ns] = inf.GetStore()
		// Pods and events only explain; the wait does not depend on them
		// (nor on being allowed to list them): their informers are not
		// waited for.
		go inf.RunWithContext(ctx)

		// Warning events of the namespace, reported when they concern a
		// tracked object or a pod of a tracked workload.
		evLW := cache.NewListWatchFromClient(m.core.CoreV1().RESTClient(), "events", ns, fields.OneTermEqualSelector("type", corev1.EventTypeWarning))
		evInf := cache.NewSharedIndexInformer(evLW, &corev1.Event{}, 0, cache.Indexers{})
		if _, err := evInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { w.addEvent(o) }, UpdateFunc: func(_, o any) { w.addEvent(o) },
		}); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		go evInf.RunWithContext(ctx)
	}
	syncCtx, syncCancel := context.WithCancel(ctx)
	defer syncCancel()
	go func() {
		select {
		case <-w.fatal:
			syncCancel()
		case <-syncCtx.Done():
		}
	}()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		if err := w.fatalErr(); err != nil {
			return fmt.Errorf("wait: %w: the cluster identity must be allowed to get, list and watch what it deploys", err)
		}
		if errors.Is(context.Cause(ctx), context.Canceled) {
			return fmt.Errorf("wait: %w", ctx.Err())
		}
		return m.waitError(context.WithoutCancel(ctx), refs, nil, nil, start, true)
	}
	for _, ref := range refs {
		w.markObject(ref)
	}

	statuses := map[ObjectRef]Status{}
	objects := map[ObjectRef]*unstructured.Unstructured{}
	podReasons := map[ObjectRef]string{}
	progress := func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", a...)
		}
	}
	for {
		dirty, pods, events := w.take()
		for _, ref := range dirty {
			var obj *unstructured.Unstructured
			if item, ok, _ := stores[ref].GetByKey(keys[ref]); ok {
				obj, _ = item.(*unstructured.Unstructured)
			}
			objects[ref] = obj
			st := ComputeStatus(obj)
			if old, seen := statuses[ref]; !seen || old != st {
				progress("%s: %s: %s", ref, st.State, st.Message)
			}
			statuses[ref] = st
		}
		if pods || len(dirty) > 0 {
			for _, ref := range refs {
				if !isWorkload(ref) || statuses[ref].State == Current {
					continue
				}
				r := podsProblem(objects[ref], podStores[ref.Namespace])
				if r != podReasons[ref] && r != "" {
					progress("%s: pods: %s", ref, r)
				}
				podReasons[ref] = r
			}
		}
		for _, ev := range events {
			if line := eventLine(ev, start, refs, statuses, objects, podStores); line != "" {
				progress("%s", line)
			}
		}
		done, failed := true, false
		for _, ref := range refs {
			switch statuses[ref].State {
			case Current:
			case Failed:
				failed, done = true, false
			default:
				done = false
			}
		}
		if done {
			return nil
		}
		if failed && !opts.KeepWaitingOnFailed {
			return m.waitError(ctx, refs, statuses, podReasons, start, false)
		}
		select {
		case <-w.notify:
		case <-w.fatal:
			return fmt.Errorf("wait: %w", w.fatalErr())
		case <-ctx.Done():
			// A caller's cancellation is not a timeout of the wait.
			if errors.Is(context.Cause(ctx), context.Canceled) {
				return fmt.Errorf("wait: %w", ctx.Err())
			}
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return m.waitError(bg, refs, statuses, podReasons, start, true)
		}
	}
}

// waitState collects what watch events changed, for the wait loop.
type waitState struct {
	mu     sync.Mutex
	dirty  map[ObjectRef]bool
	pods   bool
	events []*corev1.Event
	notify chan struct{}
	fatal  chan struct{} // closed on an error the wait cannot get past
	err    error
}

// fail records err as fatal (the first one wins) and wakes the wait.
func (w *waitState) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.fatal)
	}
}

func (w *waitState) fatalErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *waitState) addEvent(o any) {
	ev, ok := o.(*corev1.Event)
	if !ok {
		return
	}
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
	w.wake()
}

func (w *waitState) markObject(ref ObjectRef) {
	w.mu.Lock()
	w.dirty[ref] = true
	w.mu.Unlock()
	w.wake()
}

func (w *waitState) markPods() {
	w.mu.Lock()
	w.pods = true
	w.mu.Unlock()
	w.wake()
}

func (w *waitState) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *waitState) take() ([]ObjectRef, bool, []*corev1.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ObjectRef, 0, len(w.dirty))
	for ref := range w.dirty {
		out = append(out, ref)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	clear(w.dirty)
	pods := w.pods
	w.pods = false
	events := w.events
	w.events = nil
	return out, pods, events
}

// eventLine formats a warning event that happened since start and
// concerns a tracked object not yet Current, or a pod of one; empty
// otherwise.
func eventLine(ev *corev1.Event, start time.Time, refs []ObjectRef, statuses map[ObjectRef]Status, objects map[ObjectRef]*unstructured.Unstructured, pods map[string]cache.Store) string {
	when := ev.LastTimestamp.Time
	if when.IsZero() {
		when = ev.EventTime.Time
	}
	if when.IsZero() {
		when = ev.CreationTimestamp.Time
	}
	if when.Before(start.Add(-time.Second).Truncate(time.Second)) {
		return ""
	}
	inv := ev.InvolvedObject
	for _, ref := range refs {
		if statuses[ref].State == Current || ref.Namespace != inv.Namespace {
			continue
		}
		if inv.Kind == ref.Kind && inv.Name == ref.Name {
			return fmt.Sprintf("%s: event %s: %s", ref, ev.Reason, ev.Message)
		}
		if inv.Kind != "Pod" || !isWorkload(ref) || objects[ref] == nil || pods[ref.Namespace] == nil {
			continue
		}
		item, ok, _ := pods[ref.Namespace].GetByKey(inv.Namespace + "/" + inv.Name)
		pod, _ := item.(*corev1.Pod)
		if !ok || pod == nil {
			continue
		}
		if sel, err := workloadSelector(objects[ref]); err == nil && sel.Matches(labels.Set(pod.Labels)) {
			return fmt.Sprintf("%s: pod %s: event %s: %s", ref, inv.Name, ev.Reason, ev.Message)
		}
	}
	return ""
}

// isWorkload reports whether ref's kind runs pods through a selector.
func isWorkload(ref ObjectRef) bool {
	switch ref.GroupKind().String() {
	case "Deployment.apps", "ReplicaSet.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch":
		return true
	}
	return false
}

// podsProblem says why the pods of workload obj are not ready: the first
// pods with a problem, at most three. Empty when nothing is known.
func podsProblem(obj *unstructured.Unstructured, pods cache.Store) string {
	if obj == nil || pods == nil {
		return ""
	}
	sel, err := workloadSelector(obj)
	if err != nil {
		return ""
	}
	var out []string
	for _, item := range pods.List() {
		p, ok := item.(*corev1.Pod)
		if !ok || p.Namespace != obj.GetNamespace() || !sel.Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil {
			continue
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
		if err != nil {
			continue
		}
		pu := &unstructured.Unstructured{Object: u}
		pu.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		if st := podStatus(pu); st.State != Current {
			out = append(out, "pod "+p.Name+" "+strings.TrimPrefix(st.Message, "pod "))
		}
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return strings.Join(out, ", ")
}

func workloadSelector(obj *unstructured.Unstructured) (labels.Selector, error) {
	m, ok, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if !ok {
		return nil, fmt.Errorf("no selector")
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

// waitError builds the *WaitError for the objects not Current, adding the
// pods' reasons and the latest warning events of each such object.
func (m *ResourceManager) waitError(ctx context.Context, refs []ObjectRef, statuses map[ObjectRef]Status, podReasons map[ObjectRef]string, start time.Time, timeout bool) error {
	e := &WaitError{Timeout: timeout, Waited: time.Since(start)}
	for _, ref := range refs {
		st, ok := statuses[ref]
		if !ok {
			st = Status{InProgress, "no status seen"}
		}
		if st.State == Current {
			continue
		}
		e.Pending = append(e.Pending, ObjectStatus{ref, st})
		if r := podReasons[ref]; r != "" {
			e.Problems = append(e.Problems, ref.String()+": "+r)
		}
		if ref.Namespace == "" {
			continue
		}
		evs, err := m.core.CoreV1().Events(ref.Namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.AndSelectors(
				fields.OneTermEqualSelector("involvedObject.name", ref.Name),
				fields.OneTermEqualSelector("type", corev1.EventTypeWarning)).String(),
		})
		if err != nil {
			continue
		}
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].LastTimestamp.Before(&items[j].LastTimestamp) })
		if len(items) > 3 {
			items = items[len(items)-3:]
		}
		for _, ev := range items {
			e.Problems = append(e.Problems, fmt.Sprintf("%s event %s: %s", ref, ev.Reason, ev.Message))
		}
	}
	return e
}
