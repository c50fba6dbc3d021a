package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is an API token as stored: its owner, role and the SHA-256 of its
// secret (hex); the secret itself is never stored.
type Token struct {
	ID        string // assigned by CreateToken
	User      string
	Role      string
	Hash      string // hex SHA-256 of the secret
	CreatedAt time.Time
	RevokedAt time.Time // zero while the token is valid
}

// CreateToken assigns t.ID (and t.CreatedAt when zero) and stores t; the
// hash must be unique.
func (s *DB) CreateToken(ctx context.Context, t *Token) error {
	if t.User == "" || t.Role == "" || t.Hash == "" {
		return fmt.Errorf("create token: user, role and hash are required")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now().UTC()
	}
	id := s.ids.next(t.CreatedAt)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tokens (id, user_name, role, hash, created_at) VALUES (?,?,?,?,?)`,
		id, t.User, t.Role, t.Hash, t.CreatedAt.UnixNano()); err != nil {
		return fmt.Errorf("create token of %s: %w", t.User, err)
	}
	t.ID = id
	return nil
}

// TokenByHash returns the valid (not revoked) token whose secret hashes to
// hash; the error wraps ErrNotFound when there is none.
func (s *DB) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var t Token
	var created int64
	var revoked sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, user_name, role, hash, created_at, revoked_at FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash).
		Scan(&t.ID, &t.User, &t.Role, &t.Hash, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	t.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
	t.RevokedAt = fromNanos(revoked)
	return t, nil
}

// ListTokens returns every token, revoked ones included, oldest first.
func (s *DB) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_name, role, hash, created_at, revoked_at FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.User, &t.Role, &t.Hash, &created, &revoked); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
		t.RevokedAt = fromNanos(revoked)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks the token revoked; the error wraps ErrNotFound when
// there is no valid token with that ID.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.now().UTC().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %s: %w", id, ErrNotFound)
	}
	return nil
}
