package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The web UI signs people in with an API token. The token is checked
// once; the session keeps its hash (never the token) in the server's
// memory, and the browser holds only a random session id in an HttpOnly,
// SameSite=Strict cookie. Every request reads the token again by its hash,
// so a revoked token ends its sessions and the role is the token's, as in
// the API. Sessions end when the server stops.

const (
	sessionCookie = "conveyor_session"
	loginCookie   = "conveyor_login" // the login form's CSRF value
	sessionTTL    = 12 * time.Hour
	// csrfField is the name of the CSRF token in every POST form.
	csrfField = "csrf"
)

// uiSession is one signed-in browser.
type uiSession struct {
	id        string
	tokenHash string
	csrf      string
	expires   time.Time
	flash     string // a message for the next page, shown once
}

// uiSessions are the signed-in browsers. Safe for concurrent use.
type uiSessions struct {
	mu  sync.Mutex
	m   map[string]*uiSession
	now func() time.Time
}

func newUISessions() *uiSessions {
	return &uiSessions{m: map[string]*uiSession{}, now: time.Now}
}

// randomID returns 32 random bytes, base64url.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for the token with hash and forgets expired
// ones.
func (ss *uiSessions) create(tokenHash string) *uiSession {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for id, s := range ss.m {
		if now.After(s.expires) {
			delete(ss.m, id)
		}
	}
	s := &uiSession{id: randomID(), tokenHash: tokenHash, csrf: randomID(), expires: now.Add(sessionTTL)}
	ss.m[s.id] = s
	return s
}

// get returns the live session id, or nil.
func (ss *uiSessions) get(id string) *uiSession {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil
	}
	if ss.now().After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *uiSessions) remove(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// setFlash keeps msg for the session's next page.
func (ss *uiSessions) setFlash(s *uiSession, msg string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = msg
}

// takeFlash returns the session's message and forgets it.
func (ss *uiSessions) takeFlash(s *uiSession) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	msg := s.flash
	s.flash = ""
	return msg
}

type uiSessionKey struct{}

func sessionOf(ctx context.Context) *uiSession {
	s, _ := ctx.Value(uiSessionKey{}).(*uiSession)
	return s
}

// secureRequest reports whether the browser reached the server over TLS
// (directly or through a proxy saying so): cookies are then Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
}

// sameToken compares a form's CSRF value with the expected one in
// constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// uiPrincipal returns the session of r and who it belongs to; nil when r
// has no live session or its token was revoked.
func (s *Server) uiPrincipal(r *http.Request) (*uiSession, principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, principal{}, nil
	}
	sess := s.sessions.get(c.Value)
	if sess == nil {
		return nil, principal{}, nil
	}
	p, reason, err := s.hashPrincipal(r.Context(), sess.tokenHash)
	if err != nil {
		return nil, principal{}, err
	}
	if reason != "" {
		s.sessions.remove(sess.id)
		return nil, principal{}, nil
	}
	return sess, p, nil
}

// uiRequire wraps a web UI handler: without a session it sends the
// browser to sign in (a form or a live log stream answers 401); a role too
// small for need gets a 403 page saying so; a POST must carry the
// session's CSRF token.
func (s *Server) uiRequire(need Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, p, err := s.uiPrincipal(r)
		if err != nil {
			s.uiFail(w, r, http.StatusInternalServerError, fmt.Errorf("authenticate: %w", err))
			return
		}
		if sess == nil {
			if r.Method != http.MethodGet || strings.HasSuffix(r.URL.Path, "/stream") {
				s.uiError(w, r, http.StatusUnauthorized, "You are not signed in, or your session ended: sign in again.")
				return
			}
			login := "/ui/login?next=" + url.QueryEscape(r.URL.RequestURI())
			switch r.Header.Get("Sec-Fetch-Site") {
			case "same-origin", "same-site", "none":
				http.Redirect(w, r, login, http.StatusSeeOther)
			default:
				// A link from elsewhere (a forge's commit status) does not
				// carry the SameSite=Strict cookie; a hop started by this
				// page does, so a signed-in browser goes on to the page.
				s.render(w, r, http.StatusOK, "hop", uiPage{Title: "Sign in", Data: login})
			}
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), principalKey{}, p), uiSessionKey{}, sess)
		r = r.WithContext(ctx)
		if !p.Role.allows(need) {
			s.uiError(w, r, http.StatusForbidden, roleRefusal(p, need)+".")
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue(csrfField), sess.csrf) {
			s.uiError(w, r, http.StatusForbidden, "This form has expired or did not come from this site: reload the page and try again.")
			return
		}
		h(w, r)
	}
}

// safeNext returns next when it is a page of the web UI, else the runs
// list: signing in never sends the browser elsewhere.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "/ui/login") && !strings.ContainsAny(next, "\\\r\n") && !strings.Contains(next, "..") {
		return next
	}
	return "/ui/runs"
}

type loginData struct {
	Next  string
	CSRF  string
	Error string
}

// uiLoginPage shows the sign-in form; a signed-in browser goes on to next.
func (s *Server) uiLoginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if sess, _, err := s.uiPrincipal(r); err == nil && sess != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, next, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	csrf := randomID()
	setCookie(w, r, loginCookie, csrf, "/ui/login", 3600)
	s.render(w, r, status, "login", uiPage{Title: "Sign in", Error: msg, Data: loginData{Next: next, CSRF: csrf}})
}

// uiLogin signs in with the token of the form.
func (s *Server) uiLogin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), c.Value) {
		s.renderLogin(w, r, http.StatusForbidden, next, "This sign-in form has expired or did not come from this site: try again.")
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	if secret == "" {
		s.renderLogin(w, r, http.StatusUnauthorized, next, "Paste an API token (conveyor token create --user NAME --role ROLE).")
		return
	}
	p, reason, err := s.tokenPrincipal(r.Context(), secret)
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, fmt.Errorf("sign in: %w", err))
		return
	}
	if reason != "" {
		s.renderLogin(w, r, http.StatusUnauthorized, next, "Sign-in refused: "+reason+".")
		return
	}
	if !p.Role.allows(RoleViewer) {
		s.renderLogin(w, r, http.StatusForbidden, next, fmt.Sprintf("Sign-in refused: %s's token has role %s, which may not use the web UI: use a viewer, operator, approver or admin token.", p.User, p.Role))
		return
	}
	sess := s.sessions.create(HashToken(secret))
	setCookie(w, r, loginCookie, "", "/ui/login", -1)
	setCookie(w, r, sessionCookie, sess.id, "/ui", int(sessionTTL/time.Second))
	s.log.Info("web UI sign-in", slog.String("user", p.User), slog.String("role", string(p.Role)))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// uiLogout ends the session (uiRequire has checked its CSRF token).
func (s *Server) uiLogout(w http.ResponseWriter, r *http.Request) {
	if sess := sessionOf(r.Context()); sess != nil {
		s.sessions.remove(sess.id)
	}
	setCookie(w, r, sessionCookie, "", "/ui", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
