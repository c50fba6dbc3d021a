package deploy

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The annotations Conveyor puts on every object it applies.
const (
	AnnotationPipeline = "conveyor.dev/pipeline"
	AnnotationRun      = "conveyor.dev/run"
	AnnotationRunNum   = "conveyor.dev/run-number"
	AnnotationCommit   = "conveyor.dev/commit"
	// AnnotationImages lists the object's container images, by digest,
	// separated by commas (workloads only).
	AnnotationImages = "conveyor.dev/images"
)

// Metadata says which pipeline run deploys the objects.
type Metadata struct {
	Pipeline  string
	Run       string
	RunNumber int64
	Commit    string
}

// Annotate sets the conveyor.dev annotations of md on every object's
// metadata (not on pod templates, so a new run alone does not restart
// pods), and the images annotation on objects with a pod spec. Empty
// fields are left out.
func Annotate(objs []*unstructured.Unstructured, md Metadata) {
	for _, obj := range objs {
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		set := func(k, v string) {
			if v != "" {
				a[k] = v
			}
		}
		set(AnnotationPipeline, md.Pipeline)
		set(AnnotationRun, md.Run)
		if md.RunNumber > 0 {
			set(AnnotationRunNum, strconv.FormatInt(md.RunNumber, 10))
		}
		set(AnnotationCommit, md.Commit)
		if imgs := Images([]*unstructured.Unstructured{obj}); len(imgs) > 0 {
			a[AnnotationImages] = strings.Join(imgs, ",")
		}
		obj.SetAnnotations(a)
	}
}

// AddImagePullSecrets adds the named secrets to the imagePullSecrets of
// every pod spec in objs, keeping those already listed.
func AddImagePullSecrets(objs []*unstructured.Unstructured, names []string) {
	if len(names) == 0 {
		return
	}
	for _, obj := range objs {
		path := podSpecPath(obj)
		if path == nil {
			continue
		}
		spec, ok := mapAt(obj.Object, path...)
		if !ok {
			continue
		}
		list, _ := spec["imagePullSecrets"].([]any)
		have := map[string]bool{}
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				if n, _ := m["name"].(string); n != "" {
					have[n] = true
				}
			}
		}
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" && !have[n] {
				list = append(list, map[string]any{"name": n})
				have[n] = true
			}
		}
		spec["imagePullSecrets"] = list
	}
}
