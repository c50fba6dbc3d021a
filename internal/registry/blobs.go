package registry

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// blob serves GET, HEAD and DELETE of /v2/<repo>/blobs/<digest>.
func (r *Registry) blob(w http.ResponseWriter, req *http.Request, repo, ref string) *regError {
	d, err := parseDigest(ref)
	if err != nil {
		return errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		if _, ok := r.store.repoBlobSize(repo, d); !ok {
			return errorf(http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in repository %s", d, repo))
		}
		f, err := os.Open(r.store.blobPath(d))
		if err != nil {
			return errorf(http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in repository %s", d, repo))
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("ETag", `"`+d.String()+`"`)
		w.Header().Set("Cache-Control", "max-age=31536000")
		http.ServeContent(w, req, "", time.Time{}, f)
		return nil
	case http.MethodDelete:
		if !r.opts.deletes {
			return errorf(http.StatusMethodNotAllowed, codeUnsupported, "deletes are disabled in the "+r.opts.name+" registry")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		ok, err := r.store.unlinkBlob(repo, d)
		if err != nil {
			return internal(err)
		}
		if !ok {
			return errorf(http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in repository %s", d, repo))
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return errMethod(req)
}

func internal(err error) *regError {
	return errorf(http.StatusInternalServerError, "UNKNOWN", err.Error())
}

// uploadState is the running hash of an upload in progress, kept in memory;
// after a restart the upload's data is hashed again when it completes.
type uploadState struct {
	mu   sync.Mutex // held while a chunk is written
	alg  string
	h    hash.Hash // nil when unknown (after a restart)
	size int64
}

func (r *Registry) uploadDir(id string) string {
	return filepath.Join(r.store.root, "uploads", id)
}

// startUpload serves POST /v2/<repo>/blobs/uploads/: a mount, a monolithic
// upload with ?digest=, or the start of an upload session.
func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, repo string) *regError {
	q := req.URL.Query()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := q.Get("mount"); m != "" {
		d, err := parseDigest(m)
		if err != nil {
			return errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
		}
		from := q.Get("from")
		_, ok := r.store.blobSize(d)
		if from != "" {
			_, ok = r.store.repoBlobSize(from, d)
		}
		if ok {
			if err := r.store.linkBlob(repo, d); err != nil {
				return internal(err)
			}
			w.Header().Set("Location", location(repo, "blobs", d.String()))
			w.Header().Set("Docker-Content-Digest", d.String())
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
			return nil
		}
		// Not mountable: fall through to an upload session, as the spec says.
	} else if ds := q.Get("digest"); ds != "" {
		d, err := parseDigest(ds)
		if err != nil {
			return errorf(http.StatusBadRequest, codeDigestInvalid, err.Error())
		}
		tmp, err := r.store.tempFile()
		if err != nil {
			return internal(err)
		}
		h := newHash(d.alg)
		_, err = copyBuffered(io.MultiWriter(tmp, h), req.Body)
		cerr := tmp.Close()
		if err = errors.Join(err, cerr); err != nil {
			os.Remove(tmp.Name())
			return errorf(http.StatusBadRequest, codeBlobUploadInvalid, "read blob body: "+err.Error())
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d.hex {
			os.Remove(tmp.Name())
			return errorf(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("blob content has digest %s:%s, not %s", d.alg, got, d))
		}
		if err := r.store.commitBlob(tmp.Name(), repo, d); err != nil {
			return internal(err)
		}
		w.Header().Set("Location", location(repo, "blobs", d.String()))
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	dir := r.uploadDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return internal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "repo"), []byte(repo), 0o644); err != nil {
		return internal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		return internal(err)
	}
	r.uploadsMu.Lock()
	r.uploads[id] = &uploadState{alg: "sha256", h: newHash("sha256")}
	r.uploadsMu.Unlock()
	w.Header().Set("Location", location(repo, "blobs/uploads", id))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", "0-0")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// upload serves GET (status), PATCH (chunk), PUT (complete) and DELETE
// (cancel) of /v2/<repo>/blobs/uploads/<id>.
func (r *Registry) upload(w http.ResponseWriter, req *http.Request, repo, id string) *regError {
	unknown := errorf(http.StatusNotFound, codeBlobUploadUnknown, fmt.Sprintf("upload %s is unknown in repository %s: start a new one with POST /v2/%s/blobs/uploads/", id, repo, repo))
	if len(id) != 32 || !isLowerHex(id) {
		return unknown
	}
	dir := r.uploadDir(id)
	owner, err := os.ReadFile(filepath.Join(dir, "repo"))
	if err != nil || string(owner) != repo {
		return unknown
	}
	dataPath := filepath.Join(dir, "data")
	fi, err := os.Stat(dataPath)
	if err != nil {
		return unknown
	}
	size := fi.Size()
	loc := location(repo, "blobs/uploads", id)
	setRange := func(n int64) {
		w.Header().Set("Location", loc)
		w.Header().Set("Docker-Upload-UUID", id)
		if n > 0 {
			w.Header().Set("Range", fmt.Sprintf("0-%d", n-1))
		} else {
			w.Header().Set("Range", "0-0")
		}
	}
	switch req.Method {
	case http.MethodGet:
		setRange(size)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		os.RemoveAll(dir)
		r.uploadsMu.Lock()
		delete(r.uploads, id)
		r.uploadsMu.Unlock()
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch, http.MethodPut:
	default:
		return errMethod(req)
	}

	r.mu.RLock()
	defer r.mu.RUnlock()
	// One chunk at a time per upload: a client sending two at once gets
	// them in some order, and the Content-Range check refuses the second.
	lock := r.uploadLock(id)
	lock.Lock()
	defer lock.Unlock()
	if fi, err = os.Stat(dataPath); err != nil {
		return unknown
	}
	size = fi.Size()
	if cr := req.Header.Get("Content-Range"); cr != "" {
		start, _, err := parseContentRange(cr)
		if err != nil || start != size {
			setRange(size)
			msg := fmt.Sprintf("chunk range %q does not continue the upload, which has %d bytes: resume at byte %d", cr, size, size)
			return errorf(http.StatusRequestedRangeNotSatisfiable, codeRangeInvalid, msg)
		}
	}
	r.uploadsMu.Lock()
	st := r.uploads[id]
	r.uploadsMu.Unlock()
	if st != nil && (st.h == nil || st.size != size) {
		st = nil // out of step (a failed write): hash the file again at the end
	}
	f, err := os.OpenFile(dataPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return unknown
	}
	var dst io.Writer = f
	if st != nil {
		dst = io.MultiWriter(f, st.h)
	}
	n, err := copyBuffered(dst, req.Body)
	cerr := f.Close()
	if st != nil {
		st.size += n
	}
	if err = errors.Join(err, cerr); err != nil {
		r.forgetUpload(id)
		return errorf(http.StatusBadRequest, codeBlobUploadInvalid, "read chunk: "+err.Error())
	}
	size += n

	if req.Method == http.MethodPatch {
		setRange(size)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}

	d, err := parseDigest(req.URL.Query().Get("digest"))
	if err != nil {
		return errorf(http.StatusBadRequest, codeDigestInvalid, "complete upload: "+err.Error())
	}
	var sum string
	if st != nil && st.h != nil && st.alg == d.alg && st.size == size {
		sum = hex.EncodeToString(st.h.Sum(nil))
	} else if sum, err = hashFile(dataPath, d.alg); err != nil {
		return internal(err)
	}
	if sum != d.hex {
		return errorf(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("uploaded content has digest %s:%s, not %s", d.alg, sum, d))
	}
	if err := r.store.commitBlob(dataPath, repo, d); err != nil {
		return internal(err)
	}
	os.RemoveAll(dir)
	r.forgetUpload(id)
	w.Header().Set("Location", location(repo, "blobs", d.String()))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadLock returns the lock of upload id, creating its state (without a
// running hash: after a restart the data is hashed again at the end).
func (r *Registry) uploadLock(id string) *sync.Mutex {
	r.uploadsMu.Lock()
	defer r.uploadsMu.Unlock()
	st := r.uploads[id]
	if st == nil {
		st = &uploadState{}
		r.uploads[id] = st
	}
	return &st.mu
}

func (r *Registry) forgetUpload(id string) {
	r.uploadsMu.Lock()
	delete(r.uploads, id)
	r.uploadsMu.Unlock()
}

func hashFile(path, alg string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := newHash(alg)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// parseContentRange parses an upload chunk's "start-end" (optionally with a
// "bytes " prefix).
func parseContentRange(s string) (start, end int64, err error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("content range %q: want start-end", s)
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, err
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

// copyBuffers holds the 1 MiB buffers uploads are copied through: fewer,
// larger writes and hash updates than io.Copy's 32 KiB.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func copyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(dst, src, *buf)
}
