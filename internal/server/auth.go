package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"conveyor.dev/conveyor/internal/store"
)

// Role is what a token may do. Each role includes the ones before it in
// the order viewer < operator < approver < admin; agent is apart: it may
// only speak the agent protocol.
type Role string

// The roles of API tokens.
const (
	RoleViewer   Role = "viewer"   // read runs, logs, approvals, environments, audit
	RoleOperator Role = "operator" // and start, cancel and retry runs
	RoleApprover Role = "approver" // and approve or reject
	RoleAdmin    Role = "admin"    // and everything, agents included
	RoleAgent    Role = "agent"    // only the agent protocol
)

var roleRank = map[Role]int{RoleViewer: 1, RoleOperator: 2, RoleApprover: 3, RoleAdmin: 4}

// ParseRole returns the role named s, or an error listing the roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := roleRank[r]; ok || r == RoleAgent {
		return r, nil
	}
	return "", fmt.Errorf("role %q: want viewer, operator, approver, admin or agent", s)
}

// allows reports whether a token of role r may call an endpoint that needs
// role need.
func (r Role) allows(need Role) bool {
	if need == RoleAgent {
		return r == RoleAgent || r == RoleAdmin
	}
	return roleRank[r] >= roleRank[need] && roleRank[need] > 0
}

// TokenPrefix starts every API token.
const TokenPrefix = "cvy_"

// NewToken returns a fresh token (cvy_ and 32 random bytes, base64url) and
// the hash to store.
func NewToken() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:])
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret)
}

// HashToken is the stored form of a token: hex SHA-256.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TokenStore is what authentication needs of persistence.
type TokenStore interface {
	CreateToken(ctx context.Context, t *store.Token) error
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	ListTokens(ctx context.Context) ([]store.Token, error)
}

// CreateToken stores a new token for user with role and returns its secret,
// which is shown once and never kept.
func CreateToken(ctx context.Context, st TokenStore, user string, role Role) (string, error) {
	if user == "" {
		return "", fmt.Errorf("create token: empty user name: pass --user NAME")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", fmt.Errorf("create token for %s: %w", user, err)
	}
	secret, hash := NewToken()
	if err := st.CreateToken(ctx, &store.Token{User: user, Role: string(role), Hash: hash}); err != nil {
		return "", err
	}
	return secret, nil
}

// principal is who calls: the token's user and role.
type principal struct {
	User string
	Role Role
}

type principalKey struct{}

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// authenticate reads the bearer token of r; ok is false with a reason for
// a missing or unknown token.
func (s *Server) authenticate(r *http.Request) (principal, string, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return principal{}, "missing bearer token: pass Authorization: Bearer cvy_… (conveyor token create)", nil
	}
	return s.tokenPrincipal(r.Context(), secret)
}

// tokenPrincipal returns who the token secret belongs to, or a reason for
// a malformed, unknown or revoked token. The API's bearer tokens and the
// web UI's sign-in both use it.
func (s *Server) tokenPrincipal(ctx context.Context, secret string) (principal, string, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return principal{}, "malformed token: API tokens start with " + TokenPrefix, nil
	}
	return s.hashPrincipal(ctx, HashToken(secret))
}

// hashPrincipal is tokenPrincipal for a token known by its hash (a web UI
// session keeps the hash, never the token).
func (s *Server) hashPrincipal(ctx context.Context, hash string) (principal, string, error) {
	t, err := s.tokens.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, "unknown or revoked token", nil
	}
	if err != nil {
		return principal{}, "", err
	}
	return principal{User: t.User, Role: Role(t.Role)}, "", nil
}

// require wraps h so that only tokens whose role allows need reach it: 401
// without a valid token, 403 with a token of too small a role.
func (s *Server) require(need Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, reason, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, fmt.Errorf("authenticate: %w", err))
			return
		}
		if reason != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="conveyor"`)
			writeError(w, http.StatusUnauthorized, reason)
			return
		}
		if !p.Role.allows(need) {
			writeError(w, http.StatusForbidden, roleRefusal(p, need))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// roleRefusal says why p may not do what needs role need.
func roleRefusal(p principal, need Role) string {
	return fmt.Sprintf("user %s has role %s; this needs %s", p.User, p.Role, need)
}
