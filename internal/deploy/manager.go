package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager of Conveyor.
const FieldManager = "conveyor"

// ResourceManager applies, waits for, patches and deletes objects on one
// cluster. Each verb lives in its own file (manager_apply.go,
// manager_wait.go, manager_prune.go, manager_patch.go). Safe for
// concurrent use.
type ResourceManager struct {
	dynamic     dynamic.Interface
	core        kubernetes.Interface
	mapper      meta.ResettableRESTMapper
	concurrency int
}

// NewResourceManager returns a manager for the cluster cfg reaches.
func NewResourceManager(cfg *rest.Config) (*ResourceManager, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery for %s: %w", cfg.Host, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	return &ResourceManager{dynamic: dyn, core: core, mapper: mapper, concurrency: 16}, nil
}

// mapping returns the REST mapping of ref's kind; an unknown kind is
// looked up again after the discovery cache is reset (a CRD just applied).
func (m *ResourceManager) mapping(gk ObjectRef) (*meta.RESTMapping, error) {
	mp, err := m.mapper.RESTMapping(gk.GroupKind())
	if meta.IsNoMatchError(err) {
		m.mapper.Reset()
		mp, err = m.mapper.RESTMapping(gk.GroupKind())
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("kind %s is not served by the cluster: install its CRD first or fix apiVersion/kind: %w", gk.GroupKind(), ErrKindNotServed)
		}
		return nil, err
	}
	return mp, nil
}

// ErrKindNotServed is wrapped by errors about a kind the cluster does not
// serve.
var ErrKindNotServed = errors.New("kind not served")

// resource returns the client for ref, with its namespace set when the
// kind is namespaced (defaultNS when ref has none).
func (m *ResourceManager) resource(ref ObjectRef) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	mp, err := m.mapping(ref)
	if err != nil {
		return nil, nil, err
	}
	if mp.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, nil, fmt.Errorf("no namespace: set metadata.namespace or the step's namespace")
		}
		return m.dynamic.Resource(mp.Resource).Namespace(ref.Namespace), mp, nil
	}
	return m.dynamic.Resource(mp.Resource), mp, nil
}

// SetNamespaces gives every namespaced object without a namespace the
// namespace ns, and clears the namespace of cluster-scoped objects. Kinds
// the cluster does not know yet (their CRD is in the same manifests) get
// ns too.
func (m *ResourceManager) SetNamespaces(objs []*unstructured.Unstructured, ns string) error {
	for _, obj := range objs {
		mp, err := m.mapping(RefOf(obj))
		if err != nil {
			if errors.Is(err, ErrKindNotServed) {
				if obj.GetNamespace() == "" {
					obj.SetNamespace(ns)
				}
				continue
			}
			return fmt.Errorf("%s: %w", RefOf(obj), err)
		}
		if mp.Scope.Name() != meta.RESTScopeNameNamespace {
			obj.SetNamespace("")
		} else if obj.GetNamespace() == "" {
			obj.SetNamespace(ns)
		}
	}
	return nil
}

// Get returns the live object ref names; the error wraps a NotFound API
// error when there is none (apierrors.IsNotFound).
func (m *ResourceManager) Get(ctx context.Context, ref ObjectRef) (*unstructured.Unstructured, error) {
	ri, _, err := m.resource(ref)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	obj, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return obj, nil
}

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// RefFor returns the reference of the object named name of the resource
// type written as kubectl takes it: a kind or resource name, singular or
// plural, any case, optionally with its group ("deployment",
// "Deployments", "deployments.apps"), in namespace ns when the kind is
// namespaced.
func (m *ResourceManager) RefFor(resource, name, ns string) (ObjectRef, error) {
	res := strings.ToLower(strings.TrimSpace(resource))
	gvr := schema.GroupVersionResource{Resource: res}
	if r, g, ok := strings.Cut(res, "."); ok {
		gvr = schema.GroupVersionResource{Group: g, Resource: r}
	}
	gvk, err := m.mapper.KindFor(gvr)
	if meta.IsNoMatchError(err) {
		m.mapper.Reset()
		gvk, err = m.mapper.KindFor(gvr)
	}
	if err != nil {
		return ObjectRef{}, fmt.Errorf("resource type %q is not served by the cluster: use a kind such as deployment, statefulset or configmap", resource)
	}
	ref := ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Name: name}
	mp, err := m.mapping(ref)
	if err != nil {
		return ObjectRef{}, err
	}
	if mp.Scope.Name() == meta.RESTScopeNameNamespace {
		ref.Namespace = ns
	}
	return ref, nil
}

// EnsureNamespace creates namespace name when it does not exist, labelled
// as created by Conveyor, and reports whether it did. An environment of
// conveyor.yaml names its namespace; the first deploy to it makes it, as
// `helm --create-namespace` and Argo CD's CreateNamespace do.
func (m *ResourceManager) EnsureNamespace(ctx context.Context, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	_, err := m.core.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "conveyor"}}}
	if _, err := m.core.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: "conveyor"}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return true, nil
}
