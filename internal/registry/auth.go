package registry

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorized reports whether req may use the registry: always when no user or
// token is configured; otherwise with a matching basic-auth user and password,
// a bearer token, or a token as the basic-auth password.
func (r *Registry) authorized(req *http.Request) bool {
	if len(r.opts.users) == 0 && len(r.opts.tokens) == 0 {
		return true
	}
	if user, pass, ok := req.BasicAuth(); ok {
		if want, known := r.opts.users[user]; known && equal(want, pass) {
			return true
		}
		return r.tokenOK(pass)
	}
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		return r.tokenOK(tok)
	}
	return false
}

func (r *Registry) tokenOK(tok string) bool {
	for t := range r.opts.tokens {
		if equal(t, tok) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
