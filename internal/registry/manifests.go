package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Media types the registry treats specially.
const (
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// manifestDoc holds the fields of an image manifest or index that the
// registry reads.
type manifestDoc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// resolve turns a tag or digest reference into a digest within repo.
func (r *Registry) resolve(repo, ref string) (digest, *regError) {
	if strings.Contains(ref, ":") {
		d, err := parseDigest(ref)
		if err != nil {
			return digest{}, errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
		}
		return d, nil
	}
	if !tagRE.MatchString(ref) {
		return digest{}, errorf(http.StatusBadRequest, codeTagInvalid, fmt.Sprintf("tag %q is invalid: use up to 128 letters, digits, _ . -, not starting with . or -", ref))
	}
	d, ok := r.store.tag(repo, ref)
	if !ok {
		return digest{}, errorf(http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s:%s is unknown", repo, ref))
	}
	return d, nil
}

// manifest serves GET, HEAD, PUT and DELETE of /v2/<repo>/manifests/<ref>.
func (r *Registry) manifest(w http.ResponseWriter, req *http.Request, repo, ref string) *regError {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		d, rerr := r.resolve(repo, ref)
		if rerr != nil {
			return rerr
		}
		mt, content, ok := r.store.manifest(repo, d)
		if !ok {
			return errorf(http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s@%s is unknown", repo, d))
		}
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("ETag", `"`+d.String()+`"`)
		w.Header().Set("Content-Length", itoa(int64(len(content))))
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			_, _ = w.Write(content)
		}
		return nil
	case http.MethodPut:
		return r.putManifest(w, req, repo, ref)
	case http.MethodDelete:
		return r.deleteManifest(w, req, repo, ref)
	}
	return errMethod(req)
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, repo, ref string) *regError {
	content, err := io.ReadAll(io.LimitReader(req.Body, r.opts.maxManifest+1))
	if err != nil {
		return errorf(http.StatusBadRequest, codeManifestInvalid, "read manifest: "+err.Error())
	}
	if int64(len(content)) > r.opts.maxManifest {
		return errorf(http.StatusRequestEntityTooLarge, codeSizeInvalid, fmt.Sprintf("manifest is larger than %d bytes", r.opts.maxManifest))
	}
	var tags []string
	var d digest
	if strings.Contains(ref, ":") {
		want, err := parseDigest(ref)
		if err != nil {
			return errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
		}
		if d = digestOf(want.alg, content); d != want {
			return errorf(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("manifest content has digest %s, not %s", d, want))
		}
	} else {
		tags = append(tags, ref)
		d = digestOf("sha256", content)
	}
	tags = append(tags, req.URL.Query()["tag"]...)
	for _, t := range tags {
		if !tagRE.MatchString(t) {
			return errorf(http.StatusBadRequest, codeTagInvalid, fmt.Sprintf("tag %q is invalid: use up to 128 letters, digits, _ . -, not starting with . or -", t))
		}
	}

	var doc manifestDoc
	if err := json.Unmarshal(content, &doc); err != nil {
		return errorf(http.StatusBadRequest, codeManifestInvalid, "manifest is not valid JSON: "+err.Error())
	}
	mt := req.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	if mt == "" {
		mt = doc.MediaType
	}
	if mt == "" {
		if doc.Manifests != nil {
			mt = mtOCIIndex
		} else {
			mt = mtOCIManifest
		}
	}
	if doc.MediaType != "" && doc.MediaType != mt {
		return errorf(http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("manifest mediaType %q does not match Content-Type %q", doc.MediaType, mt))
	}

	r.mu.RLock()
	defer r.mu.RUnlock()
	if rerr := r.checkReferences(repo, &doc); rerr != nil {
		return rerr
	}
	r.tagMu.Lock()
	defer r.tagMu.Unlock()
	if r.opts.immutableTags {
		for _, t := range tags {
			if old, ok := r.store.tag(repo, t); ok && old != d && !cosignTagRE.MatchString(t) {
				return r.immutableError(repo, t, old)
			}
		}
	}
	if err := r.store.putManifest(repo, d, mt, content); err != nil {
		return internal(err)
	}
	if doc.Subject != nil {
		subject, err := parseDigest(doc.Subject.Digest)
		if err != nil {
			return errorf(http.StatusBadRequest, codeManifestInvalid, "manifest subject: "+err.Error())
		}
		if err := r.store.addReferrer(repo, subject, referrerDescriptor(&doc, mt, d, int64(len(content))), d); err != nil {
			return internal(err)
		}
		w.Header().Set("OCI-Subject", subject.String())
	}
	for _, t := range tags {
		if err := r.store.setTag(repo, t, d); err != nil {
			return internal(err)
		}
		w.Header().Add("OCI-Tag", t)
	}
	w.Header().Set("Location", location(repo, "manifests", d.String()))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Registry) immutableError(repo, tag string, old digest) *regError {
	return errorf(http.StatusBadRequest, codeTagInvalid, fmt.Sprintf(
		"tag %s:%s is immutable in the %s registry: it already points to %s; push a new tag instead", repo, tag, r.opts.name, old))
}

// referrerDescriptor is the descriptor of a manifest in a referrers list.
func referrerDescriptor(doc *manifestDoc, mt string, d digest, size int64) descriptor {
	at := doc.ArtifactType
	if at == "" && doc.Config != nil && doc.Manifests == nil {
		at = doc.Config.MediaType
	}
	return descriptor{MediaType: mt, Digest: d.String(), Size: size, ArtifactType: at, Annotations: doc.Annotations}
}

// checkReferences refuses a manifest whose blobs (image) or child manifests
// (index) are not in repo, so that nothing pulled by digest is half there.
// Non-distributable layers, layers with URLs and descriptors carrying their
// data inline are exempt.
func (r *Registry) checkReferences(repo string, doc *manifestDoc) *regError {
	check := func(desc descriptor, isManifest bool) *regError {
		if len(desc.URLs) > 0 || len(desc.Data) > 0 || strings.Contains(desc.MediaType, "nondistributable") || strings.Contains(desc.MediaType, "foreign") {
			return nil
		}
		d, err := parseDigest(desc.Digest)
		if err != nil {
			return errorf(http.StatusBadRequest, codeManifestInvalid, "manifest references "+err.Error())
		}
		if isManifest {
			if !r.store.hasManifest(repo, d) {
				return errorf(http.StatusBadRequest, codeManifestBlobUnknown, fmt.Sprintf("index refers to manifest %s, which is not in repository %s: push it first", d, repo))
			}
			return nil
		}
		if _, ok := r.store.repoBlobSize(repo, d); !ok {
			return errorf(http.StatusBadRequest, codeManifestBlobUnknown, fmt.Sprintf("manifest refers to blob %s, which is not in repository %s: push it first", d, repo))
		}
		return nil
	}
	if doc.Config != nil {
		if rerr := check(*doc.Config, false); rerr != nil {
			return rerr
		}
	}
	for _, l := range doc.Layers {
		if rerr := check(l, false); rerr != nil {
			return rerr
		}
	}
	for _, m := range doc.Manifests {
		if rerr := check(m, true); rerr != nil {
			return rerr
		}
	}
	return nil
}

func (r *Registry) deleteManifest(w http.ResponseWriter, req *http.Request, repo, ref string) *regError {
	if !r.opts.deletes {
		return errorf(http.StatusMethodNotAllowed, codeUnsupported, "deletes are disabled in the "+r.opts.name+" registry")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.tagMu.Lock()
	defer r.tagMu.Unlock()
	if !strings.Contains(ref, ":") {
		d, rerr := r.resolve(repo, ref)
		if rerr != nil {
			return rerr
		}
		if r.opts.immutableTags && !cosignTagRE.MatchString(ref) {
			return r.immutableError(repo, ref, d)
		}
		if _, err := r.store.deleteTag(repo, ref); err != nil {
			return internal(err)
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	d, rerr := r.resolve(repo, ref)
	if rerr != nil {
		return rerr
	}
	_, content, ok := r.store.manifest(repo, d)
	if !ok {
		return errorf(http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s@%s is unknown", repo, d))
	}
	tags, _, err := r.store.tags(repo)
	if err != nil {
		return internal(err)
	}
	var pointing []string
	for _, t := range tags {
		if td, ok := r.store.tag(repo, t); ok && td == d {
			pointing = append(pointing, t)
			if r.opts.immutableTags && !cosignTagRE.MatchString(t) {
				return r.immutableError(repo, t, d)
			}
		}
	}
	for _, t := range pointing {
		if _, err := r.store.deleteTag(repo, t); err != nil {
			return internal(err)
		}
	}
	var doc manifestDoc
	if json.Unmarshal(content, &doc) == nil && doc.Subject != nil {
		if subject, err := parseDigest(doc.Subject.Digest); err == nil {
			if err := r.store.removeReferrer(repo, subject, d); err != nil {
				return internal(err)
			}
		}
	}
	if _, err := r.store.deleteManifestLink(repo, d); err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// page applies the n and last query parameters to a sorted list and returns
// the page and whether more follow.
func page(req *http.Request, all []string) ([]string, bool, *regError) {
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(all, last)
		if i < len(all) && all[i] == last {
			i++
		}
		all = all[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, false, errorf(http.StatusBadRequest, codeUnsupported, fmt.Sprintf("n=%q: want a non-negative number", ns))
		}
		if n < len(all) {
			return all[:n], n > 0, nil
		}
	}
	return all, false, nil
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (r *Registry) tagList(w http.ResponseWriter, req *http.Request, repo string) *regError {
	all, ok, err := r.store.tags(repo)
	if err != nil {
		return internal(err)
	}
	if !ok {
		return errorf(http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %s is unknown", repo))
	}
	tags, more, rerr := page(req, all)
	if rerr != nil {
		return rerr
	}
	if more {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, repo, len(tags), url.QueryEscape(tags[len(tags)-1])))
	}
	if tags == nil {
		tags = []string{}
	}
	writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, tags})
	return nil
}

func (r *Registry) catalog(w http.ResponseWriter, req *http.Request) *regError {
	all, err := r.store.repos()
	if err != nil {
		return internal(err)
	}
	repos, more, rerr := page(req, all)
	if rerr != nil {
		return rerr
	}
	if more {
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?n=%d&last=%s>; rel="next"`, len(repos), url.QueryEscape(repos[len(repos)-1])))
	}
	if repos == nil {
		repos = []string{}
	}
	writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
	return nil
}

// referrers serves GET /v2/<repo>/referrers/<digest>[?artifactType=…]: an
// image index listing the manifests whose subject is the digest.
func (r *Registry) referrers(w http.ResponseWriter, req *http.Request, repo, ref string) *regError {
	d, err := parseDigest(ref)
	if err != nil {
		return errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
	}
	list, err := r.store.referrers(repo, d)
	if err != nil {
		return internal(err)
	}
	if at := req.URL.Query().Get("artifactType"); at != "" {
		kept := list[:0]
		for _, desc := range list {
			if desc.ArtifactType == at {
				kept = append(kept, desc)
			}
		}
		list = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if list == nil {
		list = []descriptor{}
	}
	writeJSON(w, mtOCIIndex, struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, mtOCIIndex, list})
	return nil
}
