package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

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
// (Azure's containers input: tag or digest). A manifest image without a
// registry host ("webapp", "team/webapp") also matches an entry with the
// same path on any registry ("127.0.0.1:5001/webapp@sha256:…"), so one
// manifest serves every registry the image is promoted to; an exact match
// wins. It returns how many containers changed.
func SubstituteImages(objs []*unstructured.Unstructured, images []string) int {
	byRepo := map[string]string{}
	byPath := map[string]string{}
	for _, img := range images {
		if img = strings.TrimSpace(img); img != "" {
			repo := ParseImage(img).Repository
			byRepo[repo] = img
			if host, path, ok := strings.Cut(repo, "/"); ok && isRegistryHost(host) {
				byPath[path] = img
			}
		}
	}
	n := 0
	for _, obj := range objs {
		eachContainer(obj, func(c map[string]any) {
			cur, _ := c["image"].(string)
			repo := ParseImage(cur).Repository
			want, ok := byRepo[repo]
			if !ok && !hasRegistryHost(repo) {
				want, ok = byPath[repo]
			}
			if ok && cur != want {
				c["image"] = want
				n++
			}
		})
	}
	return n
}

// isRegistryHost reports whether the first element of a repository names a
// registry (it has a dot or a port, or is localhost), as Docker decides.
func isRegistryHost(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// hasRegistryHost reports whether repo starts with a registry host.
func hasRegistryHost(repo string) bool {
	first, _, ok := strings.Cut(repo, "/")
	return ok && isRegistryHost(first)
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
// with r (up to eight at a time). The error names the first image, in
// sorted order, that failed, and says what to do.
func ResolveDigests(ctx context.Context, objs []*unstructured.Unstructured, r ImageResolver) (map[string]string, error) {
	imgs := Images(objs)
	pinned := make([]string, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, img := range imgs {
		ref := ParseImage(img)
		if ref.Digest != "" {
			pinned[i] = ref.Repository + "@" + ref.Digest
			continue
		}
		if r == nil {
			errs[i] = fmt.Errorf("image %s: no registry to resolve its tag to a digest", img)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := r.Digest(ctx, img)
			if err != nil {
				errs[i] = fmt.Errorf("image %s: resolve tag to a digest: %w (push the image first, or name it by digest)", img, err)
				return
			}
			pinned[i] = ref.Repository + "@" + d
		}()
	}
	wg.Wait()
	out := make(map[string]string, len(imgs))
	for i, img := range imgs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[img] = pinned[i]
	}
	return out, nil
}
