package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is Kind/name, the form errors and logs use.
func (r ObjectRef) String() string { return r.Kind + "/" + r.Name }

// RefOf returns the reference of obj.
func RefOf(obj *unstructured.Unstructured) ObjectRef {
	gvk := obj.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupKind returns the object's API group and kind.
func (r ObjectRef) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.Group, Kind: r.Kind}
}

// Manifest is one manifest file: its name (for errors) and its content.
type Manifest struct {
	Name string
	Data []byte
}

// ParseManifests decodes the YAML or JSON documents of every manifest into
// objects, in order. Empty documents are skipped; a List is flattened. An
// error names the file and the document number and says what is missing.
func ParseManifests(ms []Manifest) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, m := range ms {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(m.Data), 4096)
		for doc := 1; ; doc++ {
			var js json.RawMessage
			if err := dec.Decode(&js); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("manifest %s: document %d: %w", m.Name, doc, err)
			}
			if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
				continue
			}
			// apimachinery's json keeps integers as int64, as the API does.
			var raw map[string]any
			if err := utiljson.Unmarshal(js, &raw); err != nil {
				return nil, fmt.Errorf("manifest %s: document %d: not an object: %w", m.Name, doc, err)
			}
			if len(raw) == 0 {
				continue
			}
			obj := &unstructured.Unstructured{Object: raw}
			if obj.IsList() {
				list, err := obj.ToList()
				if err != nil {
					return nil, fmt.Errorf("manifest %s: document %d: %w", m.Name, doc, err)
				}
				for i := range list.Items {
					item := list.Items[i]
					if err := checkObject(&item); err != nil {
						return nil, fmt.Errorf("manifest %s: document %d item %d: %w", m.Name, doc, i+1, err)
					}
					out = append(out, &item)
				}
				continue
			}
			if err := checkObject(obj); err != nil {
				return nil, fmt.Errorf("manifest %s: document %d: %w", m.Name, doc, err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

func checkObject(obj *unstructured.Unstructured) error {
	var missing []string
	if obj.GetAPIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if obj.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if obj.GetName() == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("object lacks %s: every Kubernetes object needs apiVersion, kind and metadata.name", strings.Join(missing, ", "))
	}
	return nil
}

// EncodeManifests writes objects as one multi-document YAML stream.
func EncodeManifests(objs []*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	for i, obj := range objs {
		y, err := yaml.Marshal(obj.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", RefOf(obj), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// isClusterDefinition reports whether obj must exist before other objects
// can be applied: a Namespace or a CustomResourceDefinition.
func isClusterDefinition(obj *unstructured.Unstructured) bool {
	gk := obj.GroupVersionKind().GroupKind()
	return (gk.Group == "" && gk.Kind == "Namespace") ||
		(gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition")
}

// kindOrder ranks kinds so that what others depend on is applied first
// (as Helm and kubectl do): config and storage, then services, then
// workloads.
var kindOrder = map[string]int{
	"Namespace": 0, "CustomResourceDefinition": 1, "ResourceQuota": 2, "LimitRange": 3,
	"PriorityClass": 4, "ServiceAccount": 5, "Secret": 6, "ConfigMap": 7, "StorageClass": 8,
	"PersistentVolume": 9, "PersistentVolumeClaim": 10, "ClusterRole": 11, "ClusterRoleBinding": 12,
	"Role": 13, "RoleBinding": 14, "Service": 15,
}

// SortForApply orders objects for applying, stably: known kinds by
// dependency, then everything else in manifest order.
func SortForApply(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		if r, ok := kindOrder[o.GetKind()]; ok {
			return r
		}
		return len(kindOrder)
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}
