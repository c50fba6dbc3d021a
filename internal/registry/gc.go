package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// GCResult says what a garbage collection removed.
type GCResult struct {
	ManifestsDeleted int   `json:"manifestsDeleted"`
	BlobsDeleted     int   `json:"blobsDeleted"`
	BytesFreed       int64 `json:"bytesFreed"`
	UploadsDeleted   int   `json:"uploadsDeleted"`
}

// GC removes content nothing refers to, mark and sweep, while holding off every
// write to the registry. Marked are the manifests of every repository (with
// WithGCUntagged: only those a tag reaches, directly, as an index child, or as
// a referrer of a reached manifest, recursively) and every blob they name
// (config, layers); swept are unmarked blobs and abandoned uploads older than
// the grace period (WithGCGracePeriod), so that a push in progress survives.
func (r *Registry) GC(ctx context.Context) (GCResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res GCResult
	now := r.opts.clock.Now()
	young := func(path string) bool {
		fi, err := os.Stat(path)
		return err == nil && now.Sub(fi.ModTime()) < r.opts.gcGrace
	}

	repos, err := r.store.repos()
	if err != nil {
		return res, fmt.Errorf("registry gc: list repositories: %w", err)
	}
	marked := map[digest]bool{}
	for _, repo := range repos {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n, err := r.markRepo(repo, marked, young)
		res.ManifestsDeleted += n
		if err != nil {
			return res, fmt.Errorf("registry gc: repository %s: %w", repo, err)
		}
	}

	// Sweep blobs.
	blobsRoot := filepath.Join(r.store.root, "blobs")
	err = filepath.WalkDir(blobsRoot, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		alg := filepath.Base(filepath.Dir(filepath.Dir(path)))
		d, perr := parseDigest(alg + ":" + de.Name())
		if perr != nil || marked[d] || young(path) {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		res.BlobsDeleted++
		res.BytesFreed += fi.Size()
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("registry gc: sweep blobs: %w", err)
	}
	// Drop repository links to swept blobs.
	for _, repo := range repos {
		links, err := r.store.blobLinks(repo)
		if err != nil {
			return res, fmt.Errorf("registry gc: repository %s: %w", repo, err)
		}
		for _, d := range links {
			if _, ok := r.store.blobSize(d); !ok {
				if _, err := r.store.unlinkBlob(repo, d); err != nil {
					return res, fmt.Errorf("registry gc: repository %s: %w", repo, err)
				}
			}
		}
	}
	// Sweep abandoned uploads.
	uploads, _ := os.ReadDir(filepath.Join(r.store.root, "uploads"))
	for _, u := range uploads {
		dir := filepath.Join(r.store.root, "uploads", u.Name())
		if young(filepath.Join(dir, "data")) || young(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return res, fmt.Errorf("registry gc: upload %s: %w", u.Name(), err)
		}
		r.forgetUpload(u.Name())
		res.UploadsDeleted++
	}
	r.opts.logger.LogAttrs(ctx, slog.LevelInfo, "registry gc done", slog.String("registry", r.opts.name),
		slog.Int("manifests", res.ManifestsDeleted), slog.Int("blobs", res.BlobsDeleted))
	return res, nil
}

// markRepo marks the manifests kept in repo and the blobs they name; with
// gcUntagged it first deletes the manifests no tag reaches and returns how
// many.
func (r *Registry) markRepo(repo string, marked map[digest]bool, young func(string) bool) (int, error) {
	all, err := r.store.manifests(repo)
	if err != nil {
		return 0, err
	}
	docs := map[digest]*manifestDoc{}
	referrersOf := map[digest][]digest{}
	for _, d := range all {
		_, content, ok := r.store.manifest(repo, d)
		if !ok {
			continue
		}
		var doc manifestDoc
		if err := json.Unmarshal(content, &doc); err != nil {
			doc = manifestDoc{}
		}
		docs[d] = &doc
		if doc.Subject != nil {
			if s, err := parseDigest(doc.Subject.Digest); err == nil {
				referrersOf[s] = append(referrersOf[s], d)
			}
		}
	}

	keep := map[digest]bool{}
	deleted := 0
	if !r.opts.gcUntagged {
		for d := range docs {
			keep[d] = true
		}
	} else {
		var queue []digest
		tags, _, err := r.store.tags(repo)
		if err != nil {
			return 0, err
		}
		for _, t := range tags {
			if d, ok := r.store.tag(repo, t); ok {
				queue = append(queue, d)
			}
		}
		for d := range docs {
			if young(r.store.manifestLinkPath(repo, d)) {
				queue = append(queue, d)
			}
		}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			if keep[d] {
				continue
			}
			keep[d] = true
			if doc := docs[d]; doc != nil {
				for _, m := range doc.Manifests {
					if c, err := parseDigest(m.Digest); err == nil {
						queue = append(queue, c)
					}
				}
			}
			queue = append(queue, referrersOf[d]...)
		}
		for d, doc := range docs {
			if keep[d] {
				continue
			}
			if doc.Subject != nil {
				if s, err := parseDigest(doc.Subject.Digest); err == nil {
					if err := r.store.removeReferrer(repo, s, d); err != nil {
						return deleted, err
					}
				}
			}
			if _, err := r.store.deleteManifestLink(repo, d); err != nil {
				return deleted, err
			}
			deleted++
		}
	}
	for d := range keep {
		marked[d] = true
		doc := docs[d]
		if doc == nil {
			continue
		}
		if doc.Config != nil {
			if c, err := parseDigest(doc.Config.Digest); err == nil {
				marked[c] = true
			}
		}
		for _, l := range doc.Layers {
			if c, err := parseDigest(l.Digest); err == nil {
				marked[c] = true
			}
		}
	}
	return deleted, nil
}
