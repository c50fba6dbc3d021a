package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one line of the append-only audit log: who did what to
// which run, approval or environment, and when. Entries are only ever
// added: the store has no way to change or remove one, and the database
// refuses it too.
type AuditEntry struct {
	Seq     int64     // assigned by the store; increases with every entry
	At      time.Time // set by the store when zero
	Actor   string    // the user, or "conveyor" for the engine's own decisions
	Action  string    // e.g. approval.requested, approval.approved, branchControl.refused
	RunID   string
	Subject string // the approval ID, environment or gate concerned
	Detail  string // free text for people
}

// AuditFilter selects audit entries for ListAudit; zero fields match
// everything.
type AuditFilter struct {
	RunID   string
	Subject string
	After   int64 // only entries with Seq > After
	Limit   int   // 0 means no limit
}

// AppendAudit adds e to the audit log.
func (s *DB) AppendAudit(ctx context.Context, e AuditEntry) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, e) }); err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return nil
}

func (s *DB) appendAudit(ctx context.Context, tx *sql.Tx, e AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("audit entry without an action")
	}
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	if s.dialect.lockAudit != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.lockAudit); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, run_id, subject, detail) VALUES (?,?,?,?,?,?)`,
		e.At.UnixNano(), e.Actor, e.Action, e.RunID, e.Subject, e.Detail)
	return err
}

// ListAudit returns the audit entries matching f in the order they were
// added.
func (s *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	conds := []string{"seq > ?"}
	args := []any{f.After}
	if f.RunID != "" {
		conds = append(conds, "run_id = ?")
		args = append(args, f.RunID)
	}
	if f.Subject != "" {
		conds = append(conds, "subject = ?")
		args = append(args, f.Subject)
	}
	q := `SELECT seq, at, actor, action, run_id, subject, detail FROM audit_log WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY seq`
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.RunID, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		e.At = fromNanos(sql.NullInt64{Int64: at, Valid: true})
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}
