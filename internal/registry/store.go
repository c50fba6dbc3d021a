package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// store keeps the registry's content in a folder:
//
//	blobs/<alg>/<hex[:2]>/<hex>               content (blobs and manifests), by digest
//	repos/<name>/_blobs/<alg>/<hex>            empty: the blob is in this repository
//	repos/<name>/_manifests/<alg>/<hex>        the manifest's media type
//	repos/<name>/_tags/<tag>                   the tagged digest
//	repos/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer's descriptor (JSON)
//	uploads/<id>/{repo,data}                   uploads in progress
//	tmp/                                       files being written, renamed into place
//
// Every write is atomic (temp file + rename in the same file system), so a
// crash leaves either the old or the new state. Repository path components
// cannot start with "_" (the name grammar forbids it), so the "_" folders never
// clash with a nested repository name.
type store struct {
	root string
}

func openStore(root string) (*store, error) {
	for _, d := range []string{"blobs", "repos", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("registry data folder %s: %w", root, err)
		}
	}
	// Leftovers of writes interrupted by a crash.
	entries, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	return &store{root: root}, nil
}

func (s *store) blobPath(d digest) string {
	return filepath.Join(s.root, "blobs", d.alg, d.hex[:2], d.hex)
}

func (s *store) repoDir(repo string) string {
	return filepath.Join(s.root, "repos", filepath.FromSlash(repo))
}

func (s *store) blobLinkPath(repo string, d digest) string {
	return filepath.Join(s.repoDir(repo), "_blobs", d.alg, d.hex)
}

func (s *store) manifestLinkPath(repo string, d digest) string {
	return filepath.Join(s.repoDir(repo), "_manifests", d.alg, d.hex)
}

func (s *store) tagPath(repo, tag string) string {
	return filepath.Join(s.repoDir(repo), "_tags", tag)
}

func (s *store) referrersDir(repo string, subject digest) string {
	return filepath.Join(s.repoDir(repo), "_referrers", subject.alg, subject.hex)
}

// tempFile creates a file in tmp/; the caller renames or removes it.
func (s *store) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.root, "tmp"), "w-")
}

// writeAtomic replaces path with data.
func (s *store) writeAtomic(path string, data []byte) error {
	f, err := s.tempFile()
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return s.moveInto(f.Name(), path)
}

// moveInto renames the file at tmp to path, creating path's folder.
func (s *store) moveInto(tmp, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// blobSize returns the size of the blob d in the global blob store.
func (s *store) blobSize(d digest) (int64, bool) {
	fi, err := os.Stat(s.blobPath(d))
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// repoBlobSize returns the size of the blob d when repo holds it.
func (s *store) repoBlobSize(repo string, d digest) (int64, bool) {
	if _, err := os.Stat(s.blobLinkPath(repo, d)); err != nil {
		return 0, false
	}
	return s.blobSize(d)
}

// commitBlob moves the verified file at tmp to the blob store (a no-op when
// the content is there already) and links it into repo.
func (s *store) commitBlob(tmp string, repo string, d digest) error {
	if _, ok := s.blobSize(d); ok {
		os.Remove(tmp)
	} else if err := s.moveInto(tmp, s.blobPath(d)); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	return s.linkBlob(repo, d)
}

func (s *store) linkBlob(repo string, d digest) error {
	p := s.blobLinkPath(repo, d)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := s.writeAtomic(p, nil); err != nil {
		return fmt.Errorf("link blob %s into %s: %w", d, repo, err)
	}
	return nil
}

func (s *store) unlinkBlob(repo string, d digest) (bool, error) {
	return removeFile(s.blobLinkPath(repo, d))
}

// putManifest stores content as a blob and links it into repo as a manifest.
func (s *store) putManifest(repo string, d digest, mediaType string, content []byte) error {
	if _, ok := s.blobSize(d); !ok {
		if err := s.writeAtomic(s.blobPath(d), content); err != nil {
			return fmt.Errorf("store manifest %s: %w", d, err)
		}
	}
	if err := s.writeAtomic(s.manifestLinkPath(repo, d), []byte(mediaType)); err != nil {
		return fmt.Errorf("link manifest %s into %s: %w", d, repo, err)
	}
	return nil
}

// manifest returns the media type and content of manifest d in repo.
func (s *store) manifest(repo string, d digest) (string, []byte, bool) {
	mt, err := os.ReadFile(s.manifestLinkPath(repo, d))
	if err != nil {
		return "", nil, false
	}
	content, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return "", nil, false
	}
	return string(mt), content, true
}

func (s *store) hasManifest(repo string, d digest) bool {
	_, err := os.Stat(s.manifestLinkPath(repo, d))
	return err == nil
}

func (s *store) deleteManifestLink(repo string, d digest) (bool, error) {
	return removeFile(s.manifestLinkPath(repo, d))
}

// manifests lists the manifest digests of repo.
func (s *store) manifests(repo string) ([]digest, error) { return s.linkedDigests(repo, "_manifests") }

// blobLinks lists the blob digests linked into repo.
func (s *store) blobLinks(repo string) ([]digest, error) { return s.linkedDigests(repo, "_blobs") }

// linkedDigests lists the digests linked into repo under its folder of
// links (_manifests, _blobs).
func (s *store) linkedDigests(repo, links string) ([]digest, error) {
	var out []digest
	for alg := range hexLen {
		entries, err := os.ReadDir(filepath.Join(s.repoDir(repo), links, alg))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if d, err := parseDigest(alg + ":" + e.Name()); err == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// removeFile removes the file at path; removed is false when there was
// none.
func removeFile(path string) (removed bool, err error) {
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *store) tag(repo, tag string) (digest, bool) {
	b, err := os.ReadFile(s.tagPath(repo, tag))
	if err != nil {
		return digest{}, false
	}
	d, err := parseDigest(strings.TrimSpace(string(b)))
	return d, err == nil
}

func (s *store) setTag(repo, tag string, d digest) error {
	if err := s.writeAtomic(s.tagPath(repo, tag), []byte(d.String())); err != nil {
		return fmt.Errorf("tag %s:%s: %w", repo, tag, err)
	}
	return nil
}

func (s *store) deleteTag(repo, tag string) (bool, error) {
	return removeFile(s.tagPath(repo, tag))
}

// tags lists the tags of repo, sorted; ok is false when repo does not exist.
func (s *store) tags(repo string) (tags []string, ok bool, err error) {
	if _, err := os.Stat(s.repoDir(repo)); err != nil {
		return nil, false, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.repoDir(repo), "_tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, true, err
	}
	for _, e := range entries {
		tags = append(tags, e.Name())
	}
	sort.Strings(tags)
	return tags, true, nil
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     json.RawMessage   `json:"platform,omitempty"`
}

func (s *store) addReferrer(repo string, subject digest, ref descriptor, refDigest digest) error {
	b, err := json.Marshal(ref)
	if err != nil {
		return err
	}
	p := filepath.Join(s.referrersDir(repo, subject), refDigest.alg+"-"+refDigest.hex)
	if err := s.writeAtomic(p, b); err != nil {
		return fmt.Errorf("record referrer %s of %s: %w", refDigest, subject, err)
	}
	return nil
}

func (s *store) removeReferrer(repo string, subject, refDigest digest) error {
	err := os.Remove(filepath.Join(s.referrersDir(repo, subject), refDigest.alg+"-"+refDigest.hex))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// referrers lists the descriptors of the manifests in repo whose subject is d,
// sorted by digest.
func (s *store) referrers(repo string, subject digest) ([]descriptor, error) {
	dir := s.referrersDir(repo, subject)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []descriptor
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // removed concurrently
		}
		var d descriptor
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("referrer record %s: %w", e.Name(), err)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// repos lists every repository name, sorted.
func (s *store) repos() ([]string, error) {
	base := filepath.Join(s.root, "repos")
	var out []string
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == base {
			return nil
		}
		if strings.HasPrefix(d.Name(), "_") {
			if d.Name() == "_manifests" || d.Name() == "_blobs" || d.Name() == "_tags" {
				rel, _ := filepath.Rel(base, filepath.Dir(path))
				rel = filepath.ToSlash(rel)
				if len(out) == 0 || out[len(out)-1] != rel {
					out = append(out, rel)
				}
			}
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	out = compactStrings(out)
	return out, nil
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
