package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
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
// error names the file, the line where the document starts and what is
// wrong ("manifest k8s/app.yaml:12: object lacks metadata.name: …").
func ParseManifests(ms []Manifest) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, m := range ms {
		for _, doc := range splitDocuments(m.Data) {
			where := fmt.Sprintf("manifest %s:%d", m.Name, doc.line)
			js, err := yaml.YAMLToJSON(doc.data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, shiftLine(err, doc.line))
			}
			if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
				continue
			}
			// apimachinery's json keeps integers as int64, as the API does.
			var raw map[string]any
			if err := utiljson.Unmarshal(js, &raw); err != nil {
				return nil, fmt.Errorf("%s: not a Kubernetes object (a mapping with apiVersion, kind and metadata): %w", where, err)
			}
			if len(raw) == 0 {
				continue
			}
			obj := &unstructured.Unstructured{Object: raw}
			if obj.IsList() {
				list, err := obj.ToList()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				for i := range list.Items {
					item := list.Items[i]
					if err := checkObject(&item); err != nil {
						return nil, fmt.Errorf("%s: item %d: %w", where, i+1, err)
					}
					out = append(out, &item)
				}
				continue
			}
			if err := checkObject(obj); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// document is one YAML document of a stream and the line it starts on.
type document struct {
	data []byte
	line int
}

// splitDocuments splits a YAML stream at its "---" lines; a JSON file is
// one document.
func splitDocuments(data []byte) []document {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return []document{{data, 1}}
	}
	var docs []document
	cur := document{line: 1}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, l := range lines {
		t := bytes.TrimRight(l, " \t\r\n")
		if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs = append(docs, cur)
			cur = document{line: i + 2}
			if rest := bytes.TrimSpace(t[3:]); len(rest) > 0 {
				cur.data = append(cur.data, rest...)
				cur.data = append(cur.data, '\n')
				cur.line = i + 1
			}
			continue
		}
		if bytes.Equal(t, []byte("...")) {
			continue
		}
		cur.data = append(cur.data, l...)
	}
	return append(docs, cur)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// shiftLine rewrites "line N" in a YAML error to the line in the file.
func shiftLine(err error, first int) error {
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(s string) string {
		n, _ := strconv.Atoi(s[len("line "):])
		return fmt.Sprintf("line %d", n+first-1)
	})
	return errors.New(msg)
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
