package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ImageRef is a container image reference split into its repository
// (registry host and path) and its tag or digest.
type ImageRef struct {
	Repository string
	Tag        string // without ':'
	Digest     string // sha256:…, without '@'
}

// ParseImage splits ref into repository, tag and digest. A colon in the
// registry host (a port) is part of the repository.
func ParseImage(ref string) ImageRef {
	var r ImageRef
	ref = strings.TrimSpace(ref)
	if at := strings.Index(ref, "@"); at >= 0 {
		r.Digest = ref[at+1:]
		ref = ref[:at]
	}
	if c := strings.LastIndex(ref, ":"); c > strings.LastIndex(ref, "/") {
		r.Tag = ref[c+1:]
		ref = ref[:c]
	}
	r.Repository = ref
	return r
}

// String joins the parts back: repository[:tag][@digest].
func (r ImageRef) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// podSpecPath returns where the pod spec of obj lives, or nil when obj has
// none.
func podSpecPath(obj *unstructured.Unstructured) []string {
	switch obj.GetKind() {
	case "Pod":
		return []string{"spec"}
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController":
		return []string{"spec", "template", "spec"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	return nil
}

var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

// eachContainer calls fn with every container map of obj's pod spec, in
// place: changes fn makes land in obj.
func eachContainer(obj *unstructured.Unstructured, fn func(c map[string]any)) {
	path := podSpecPath(obj)
	if path == nil {
		return
	}
	spec, ok := mapAt(obj.Object, path...)
	if !ok {
		return
	}
	for _, field := range containerFields {
		list, _ := spec[field].([]any)
		for _, item := range list {
			if c, ok := item.(map[string]any); ok {
				fn(c)
			}
		}
	}
}

// mapAt returns the map at path in m itself (no copy).
func mapAt(m map[string]any, path ...string) (map[string]any, bool) {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// SubstituteImages replaces, in every container of every object, an image
// whose repository equals the repository of one of images with that image
// (Azure's containers input: tag or digest). It returns how many containers
// changed.
func SubstituteImages(objs []*unstructured.Unstructured, images []string) int {
	byRepo := map[string]string{}
	for _, img := range images {
		if img = strings.TrimSpace(img); img != "" {
			byRepo[ParseImage(img).Repository] = img
		}
	}
	n := 0
	for _, obj := range objs {
		eachContainer(obj, func(c map[string]any) {
			cur, _ := c["image"].(string)
			if want, ok := byRepo[ParseImage(cur).Repository]; ok && cur != want {
				c["image"] = want
				n++
			}
		})
	}
	return n
}

// Images lists the distinct container images of objs, sorted.
func Images(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	for _, obj := range objs {
		eachContainer(obj, func(c map[string]any) {
			if img, _ := c["image"].(string); img != "" {
				seen[img] = true
			}
		})
	}
	out := make([]string, 0, len(seen))
	for img := range seen {
		out = append(out, img)
	}
	sort.Strings(out)
	return out
}

// PinImages rewrites every container image of objs through digests (image
// as written → repository@digest). Images missing from digests are left
// alone.
func PinImages(objs []*unstructured.Unstructured, digests map[string]string) {
	for _, obj := range objs {
		eachContainer(obj, func(c map[string]any) {
			img, _ := c["image"].(string)
			if d, ok := digests[img]; ok {
				c["image"] = d
			}
		})
	}
}

// ImageResolver finds the digest an image tag points at.
type ImageResolver interface {
	// Digest returns the digest (sha256:…) of the manifest ref names.
	Digest(ctx context.Context, ref string) (string, error)
}

// ResolveDigests maps every image of objs to repository@digest: an image
// already naming a digest keeps it (its tag dropped), a tag is resolved
// with r. The error names the image and says what to do.
func ResolveDigests(ctx context.Context, objs []*unstructured.Unstructured, r ImageResolver) (map[string]string, error) {
	out := map[string]string{}
	for _, img := range Images(objs) {
		ref := ParseImage(img)
		if ref.Digest != "" {
			out[img] = ref.Repository + "@" + ref.Digest
			continue
		}
		if r == nil {
			return nil, fmt.Errorf("image %s: no registry to resolve its tag to a digest", img)
		}
		d, err := r.Digest(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("image %s: resolve tag to a digest: %w (push the image first, or name it by digest)", img, err)
		}
		out[img] = ref.Repository + "@" + d
	}
	return out, nil
}
