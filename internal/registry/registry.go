package registry

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Registry serves the OCI distribution API from a folder on disk. It is an
// http.Handler to be mounted at the site root; it is safe for concurrent use.
type Registry struct {
	opts  options
	store *store

	// mu is held shared by every request that changes the store and
	// exclusively by GC, so a sweep never races a push.
	mu sync.RWMutex
	// tagMu serialises tag check-and-set (immutable tags).
	tagMu sync.Mutex

	uploadsMu sync.Mutex
	uploads   map[string]*uploadState // hash state of uploads in progress
}

// New opens (creating it when absent) the registry stored under dir.
func New(dir string, opts ...Option) (*Registry, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	st, err := openStore(dir)
	if err != nil {
		return nil, err
	}
	return &Registry{opts: o, store: st, uploads: map[string]*uploadState{}}, nil
}

// ServeHTTP implements the OCI distribution API under /v2/.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if rerr := r.serve(w, req); rerr != nil {
		r.opts.logger.LogAttrs(req.Context(), levelFor(rerr.status), "registry request failed",
			slog.String("registry", r.opts.name), slog.String("method", req.Method),
			slog.String("path", req.URL.Path), slog.Int("status", rerr.status),
			slog.String("code", rerr.code), slog.String("message", rerr.message))
		rerr.write(w)
	}
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) *regError {
	if !r.authorized(req) {
		w.Header().Set("WWW-Authenticate", `Basic realm="conveyor registry `+r.opts.name+`"`)
		return errorf(http.StatusUnauthorized, codeUnauthorized, "authentication required: log in to the "+r.opts.name+" registry with a user and password or token")
	}
	path := req.URL.Path
	if path == "/v2" || path == "/v2/" {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return errMethod(req)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			_, _ = w.Write([]byte("{}"))
		}
		return nil
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return errorf(http.StatusNotFound, codeNameUnknown, "not an OCI distribution API path: "+path)
	}
	if rest == "_catalog" {
		if req.Method != http.MethodGet {
			return errMethod(req)
		}
		return r.catalog(w, req)
	}
	// /v2/<name>/<kind>/<ref>: the name may hold slashes, so find the kind
	// from the right.
	for _, kind := range []string{"/blobs/uploads/", "/blobs/uploads", "/blobs/", "/manifests/", "/referrers/", "/tags/list"} {
		i := strings.LastIndex(rest, kind)
		if i <= 0 {
			continue
		}
		repo, ref := rest[:i], rest[i+len(kind):]
		if !nameRE.MatchString(repo) || len(repo) > 255 {
			return errorf(http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("repository name %q is invalid: use lower-case letters, digits and separators (. _ __ -), components separated by /", repo))
		}
		switch kind {
		case "/blobs/uploads/", "/blobs/uploads":
			if ref == "" {
				if req.Method != http.MethodPost {
					return errMethod(req)
				}
				return r.startUpload(w, req, repo)
			}
			if strings.Contains(ref, "/") {
				continue
			}
			return r.upload(w, req, repo, ref)
		case "/blobs/":
			if strings.Contains(ref, "/") {
				continue
			}
			return r.blob(w, req, repo, ref)
		case "/manifests/":
			if strings.Contains(ref, "/") {
				continue
			}
			return r.manifest(w, req, repo, ref)
		case "/referrers/":
			if strings.Contains(ref, "/") {
				continue
			}
			if req.Method != http.MethodGet {
				return errMethod(req)
			}
			return r.referrers(w, req, repo, ref)
		case "/tags/list":
			if ref != "" {
				continue
			}
			if req.Method != http.MethodGet {
				return errMethod(req)
			}
			return r.tagList(w, req, repo)
		}
	}
	return errorf(http.StatusNotFound, codeNameUnknown, "not an OCI distribution API path: "+path)
}

func errMethod(req *http.Request) *regError {
	return errorf(http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not supported on "+req.URL.Path)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// location is the path of a blob or manifest, for Location headers.
func location(repo, kind, ref string) string {
	return "/v2/" + repo + "/" + kind + "/" + ref
}

// levelFor logs server errors as errors and client errors at debug level.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelDebug
}
